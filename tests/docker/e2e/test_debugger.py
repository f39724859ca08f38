"""Jupyter's debugger in a student's container (``tests/e2e/test_debugger.py`` on the docker platform: the
debug adapter listens on the container's own loopback, with no network)."""
from __future__ import annotations

import pytest

from tests.e2e.test_debugger import test_a_student_runs_a_cell_step_by_step  # noqa: F401

pytestmark = pytest.mark.e2e
