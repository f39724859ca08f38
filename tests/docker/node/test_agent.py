"""The agent's contract tests of ``tests/spawner/test_agent.py``, on a node with the docker backend."""
from __future__ import annotations

from tests.spawner.test_agent import (  # noqa: F401 - the same tests, on the docker node of conftest.py
    owner, test_a_jupyter_configuration_in_the_workspace_changes_nothing,
    test_a_kernel_runs_code_over_its_websocket_through_chp, test_bad_commands_get_an_error_reply,
    test_concurrent_ensures_for_one_student_share_one_start, test_heartbeats_tell_the_load,
    test_who_holds_no_valid_grant_is_refused,
)
