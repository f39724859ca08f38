"""The student's way of ``tests/e2e/test_main_flow.py``, with every student's server in a container."""
from __future__ import annotations

import pytest

from tests.e2e.test_main_flow import (  # noqa: F401 - the same tests, on the docker platform of conftest.py
    test_an_unknown_share_code_says_so, test_the_platform_cookie_never_reaches_the_notebook_servers,
    test_two_students_each_get_their_own_server_and_copy, test_without_session_the_share_url_asks_to_log_in,
)

pytestmark = pytest.mark.e2e
