"""Grading in a container (the production runner): the re-runs of the corpus's notebooks give the same
scores as on this machine, and the student's code meets a kernel that has nothing and reaches nothing.

The checks of ``tests/activities/test_grading_rerun.py`` run here a second time, with the
:class:`DockerRunner` as their runner (pytest collects the imported tests with this module's
fixtures); the cells are sent as they are, shell escapes included: the kernel has no network.
"""
from __future__ import annotations

import nbformat
import pytest

from services.activities.grading import RunnerError, regrade
from capytale.containers import Limits
from services.activities.grading.docker_runner import LABEL, DockerRunner
from tests.activities.grading_notebooks import SQUARES_RIGHT, SUM_RIGHT, problem1_student, problem1_teacher
from tests.activities.test_grading_rerun import (  # noqa: F401 - collected here with the container runner
    test_a_changed_check_is_reported_and_the_teachers_is_run_instead,
    test_a_deleted_check_is_reported_and_the_teachers_is_run_all_the_same,
    test_a_right_nbautoeval_solution_passes_and_a_wrong_one_does_not,
    test_a_right_nbgrader_solution_gets_every_point,
    test_a_student_who_kills_the_kernel_only_loses_the_checks_after,
    test_a_wrong_nbgrader_solution_gets_the_points_of_what_it_does_right,
    test_only_the_hidden_tests_see_a_solution_made_for_the_visible_ones,
    test_outputs_a_student_edits_to_fake_a_pass_earn_nothing,
    test_the_annex_files_come_without_the_teachers_notebook,
    test_the_kernel_gets_the_students_seed_and_capytale_alea,
)
from tests.docker.conftest import MEMORY_MB, PIDS

LIMITS = Limits(memory_mb=MEMORY_MB, cpus=1.0, pids=PIDS, tmp_mb=32)
USER = "1000:1000"  # the image's students' user


def container_runner(engine, **limits) -> DockerRunner:
    return DockerRunner(engine.image, engine.url, LIMITS, USER, **{"cell_timeout": 10, "timeout": 120, **limits})


@pytest.fixture(scope="module")
def runner(engine) -> DockerRunner:
    return container_runner(engine)


def grading_containers(engine) -> list:
    return engine.client.containers.list(all=True, filters={"label": LABEL})


def checks(*sources: str) -> nbformat.NotebookNode:
    """A teacher's notebook of check cells only (each passes when its code runs without an error)."""
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(source, metadata={"capytale": {"check": {"id": f"c{i}"}}})
        for i, source in enumerate(sources)])


def passed(report) -> dict[str, bool]:
    return {check.id: check.passed for check in report.checks}


def test_the_kernel_has_no_network_no_root_and_nothing_of_the_host(runner, engine):
    teacher = checks(
        "import os\nassert sorted(os.listdir('/sys/class/net')) == ['lo']",
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 5672), timeout=2)\nexcept OSError:\n"
        "    pass\nelse:\n    raise AssertionError('the broker answered')",
        "import os\nassert os.getuid() == 1000 and os.getgid() == 1000",
        "try:\n    open('/usr/lib/written', 'w')\nexcept OSError:\n    pass\nelse:\n    raise AssertionError('root fs written')",
        "assert open('/etc/hostname').read().strip() == 'capytale'",
        "import os\nassert os.listdir('/capytale/socket') == [] and not os.path.exists('/work')",
        "import os\nassert not [k for k in os.environ if k.startswith(('CAPYTALE_', 'DOCKER', 'GRANT')) and k != 'CAPYTALE_SEED']",
        "!echo shell escapes run, and reach nothing",
    )
    report = regrade(teacher, teacher, runner)
    assert passed(report) == {f"c{i}": True for i in range(8)}, [c.error for c in report.checks]
    assert grading_containers(engine) == []  # each run's container goes with it


def test_a_cell_that_never_ends_is_interrupted_and_the_run_goes_on(engine):
    runner = container_runner(engine, cell_timeout=3)
    teacher = checks("while True:\n    pass", "x = 1")
    report = regrade(teacher, teacher, runner)
    assert [(c.status, c.passed) for c in report.checks] == [("timeout", False), ("passed", True)]


def test_a_run_past_its_limit_stops_its_container(engine):
    runner = container_runner(engine, cell_timeout=60, timeout=8)
    teacher = checks("x = 1", "import time\nwhile True:\n    time.sleep(1)", "y = 2")
    report = regrade(teacher, teacher, runner)
    assert [c.status for c in report.checks] == ["passed", "timeout", "not_run"]
    assert grading_containers(engine) == []


def test_the_ocaml_kernel_of_the_image_runs_a_notebook(runner):
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "ocaml", "display_name": "OCaml", "language": "ocaml"}},
        cells=[nbformat.v4.new_code_cell("let carre x = x * x;;"), nbformat.v4.new_code_cell("carre 7 + undefined;;")])
    result = runner.run(notebook)
    assert [cell.status for cell in result.cells] == ["ok", "error"]


def test_an_engine_that_does_not_answer_is_a_refusal_that_blames_nobody(tmp_path):
    runner = DockerRunner("capytale-notebook:none", f"unix://{tmp_path}/no-engine.sock", LIMITS, USER, timeout=20)
    teacher = problem1_teacher()
    with pytest.raises(RunnerError) as refused:
        regrade(teacher, problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT), runner)
    assert refused.value.status == 503


def test_grading_kernels_never_run_as_root():
    from capytale.settings import SettingsError

    with pytest.raises(SettingsError, match="other than root"):
        DockerRunner("capytale-notebook:none", "", LIMITS, "0:0")
