"""Every code cell of every corpus notebook, in a student's container (``tests/e2e/test_corpus_runs.py``
on the docker platform: the same expected errors, the same neutralised lines)."""
from __future__ import annotations

import pytest

from tests.e2e.test_corpus_runs import (  # noqa: F401 - the same tests, on the docker platform of conftest.py
    corpus_student, corpus_teacher, test_every_code_cell_of_a_corpus_notebook_runs_in_a_students_kernel,
)

pytestmark = pytest.mark.e2e
