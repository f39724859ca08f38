"""The warm kernel: a student's server starts one kernel as it starts, and the first notebook opened takes it.

Through a real node (process backend), as the notebook page does it: a session for the notebook, then
its kernel's websocket (:class:`tests.e2e.browser.Browser`, here straight to the node's CHP). The
warm kernel is the one the server lists before any session asked for a kernel, its process already
there; then the kernel manager alone, on a loop of its own, for what goes wrong around it.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import secrets
import urllib.parse
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from services.spawner import procfs
from services.spawner.jupyter import priority, server
from services.spawner.jupyter.spec import kernels_dir
from tests.e2e.browser import Browser, NotebookLink
from tests.spawner.conftest import issue_grant, run_coroutine, wait_until

FOLDER = "Chapitre 2 – l'eau \"salée\""  # a quote of each kind: the folder reaches the kernel as code
NOTEBOOK = f"{FOLDER}/TP noté.ipynb"
WHERE_AND_WHO = "import os; print(os.getpid(), os.getcwd(), os.environ.get('JPY_SESSION_NAME'), sep='\\n')"


def opened(node, command, someone) -> tuple[Browser, NotebookLink]:
    """``someone``'s server started with a notebook in a folder, and their browser on its page."""
    notebook = node.workspace(someone.key) / NOTEBOOK
    notebook.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text(json.dumps(json.loads(nbformat.writes(nbformat.v4.new_notebook()))))
    assert command(node, "server.ensure", user_key=someone.key)["ok"]
    grant = issue_grant(node, someone.key, someone)
    prefix = f"{node.route(someone.key)}/"
    link = NotebookLink(location=f"{prefix}notebooks/{urllib.parse.quote(NOTEBOOK)}?grant={grant}", prefix=prefix,
                        node=node.number, key=someone.key, path=NOTEBOOK, grant=grant, waits=0)
    browser = Browser(node.chp.url, someone.key)
    assert browser.enter(link).status_code == 200
    return browser, link


def kernels(browser: Browser, link: NotebookLink) -> list[str]:
    """The ids of the kernels the server lists."""
    listed = browser.http.get(browser.url(f"{link.prefix}api/kernels"), timeout=10)
    assert listed.status_code == 200, listed.text
    return [kernel["id"] for kernel in listed.json()]


def warm_kernel(node, browser: Browser, link: NotebookLink) -> tuple[str, list[int]]:
    """The id of the kernel the server started by itself, and the processes below the server then."""
    listed = wait_until(lambda: kernels(browser, link), 30, message="the warm kernel listed")
    assert len(listed) == 1, f"one warm kernel, no more: {listed}"
    return listed[0], procfs.descendants(node.state(link.key)["pid"])


def where_and_who(kernel) -> tuple[int, Path, str]:
    """The kernel's pid, folder and session name (``JPY_SESSION_NAME``)."""
    ran = kernel.execute(WHERE_AND_WHO, timeout=60)
    assert ran.error is None, ran.printed
    pid, cwd, session = ran.printed.split("\n")[:3]
    return int(pid), Path(cwd), session


def session_name(node, someone) -> str:
    """What Jupyter gives the notebook's kernel as ``JPY_SESSION_NAME``: its folder joined with the
    session's name, which the page (here) leaves empty."""
    return os.path.join((node.workspace(someone.key) / FOLDER).resolve(), "")


def test_the_first_notebook_runs_on_the_kernel_its_server_started(node, command, student):
    browser, link = opened(node, command, student)
    warm, before = warm_kernel(node, browser, link)

    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        assert kernel.id == warm, "the session took the warm kernel"
        pid, cwd, session = where_and_who(kernel)
        assert pid in before, "the kernel that answered ran before the notebook asked for one"
        assert cwd == (node.workspace(student.key) / FOLDER).resolve(), "in the notebook's folder"
        assert session == session_name(node, student), "with the session's environment"
        # ipykernel's __session__ too; and the kernel's move left no trace: the student's cell is its first
        assert kernel.execute(f"print(__session__ == os.environ['JPY_SESSION_NAME'], In[1] == {WHERE_AND_WHO!r})"
                              ).printed.strip() == "True True"
        assert kernels(browser, link) == [warm], "no second kernel"


def test_a_restart_of_the_warm_kernel_starts_it_again_in_the_notebooks_folder(node, command, student):
    browser, link = opened(node, command, student)
    warm, _ = warm_kernel(node, browser, link)

    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        first, _, _ = where_and_who(kernel)
        kernel.execute("avant = 1")
        restarted = browser.restart_kernel(link, warm)
        assert restarted.status_code == 200, restarted.text
        with browser.kernel(link, notebook_path=NOTEBOOK) as again:  # the page reconnects after a restart
            assert again.id == warm
            pid, cwd, session = where_and_who(again)
            assert pid != first, "a new process"
            assert cwd == (node.workspace(student.key) / FOLDER).resolve() and session == session_name(node, student)
            assert again.execute("print('avant' in globals())").printed.strip() == "False"


def autogroup_nice(pid: int | str) -> int | None:
    """The nice of the process's session (its autogroup); None where the kernel has no autogroup, or where
    the process is in none of its own (a process whose session began at boot shows an empty file)."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    shown = autogroup.read_text().split() if autogroup.exists() else []
    return int(shown[-1]) if shown else None


def priorities(pid: int) -> tuple[int, int | None]:
    """The process's nice and its session's."""
    return os.getpriority(os.PRIO_PROCESS, pid), autogroup_nice(pid)


def test_a_students_server_and_kernels_yield_the_cpu_to_the_platform(node, command, student):
    browser, link = opened(node, command, student)
    warm, _ = warm_kernel(node, browser, link)
    # each server and kernel is a session of its own, hence an autogroup of its own wherever Linux has them
    with_autogroup = Path("/proc/self/autogroup").exists()
    students = (priority.STUDENTS_NICE, priority.STUDENTS_NICE if with_autogroup else None)
    assert priorities(os.getpid())[0] < priority.STUDENTS_NICE, "the test itself runs above the students"
    assert priorities(node.state(link.key)["pid"]) == students, "the server"

    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        first, _, _ = where_and_who(kernel)
        assert priorities(first) == students, "the warm kernel"
        restarted = browser.restart_kernel(link, warm)
        assert restarted.status_code == 200, restarted.text
    with browser.kernel(link, notebook_path=NOTEBOOK) as again:
        pid, _, _ = where_and_who(again)
        assert pid != first and priorities(pid) == students, "a kernel started again, in a session of its own"


def test_two_students_warm_kernels_share_nothing(node, command, student):
    classmate = dataclasses.replace(student, uid=f"{student.uid}-voisin", key=f"kv{secrets.token_hex(9)}",
                                    sid=secrets.token_urlsafe(12))
    mine, theirs = opened(node, command, student), opened(node, command, classmate)
    my_warm, _ = warm_kernel(node, *mine)
    their_warm, _ = warm_kernel(node, *theirs)

    with mine[0].kernel(mine[1], notebook_path=NOTEBOOK) as a, theirs[0].kernel(theirs[1], notebook_path=NOTEBOOK) as b:
        assert (a.id, b.id) == (my_warm, their_warm)
        a.execute("secret = 'la réponse de A'")
        assert a.execute("print(secret)").printed.strip() == "la réponse de A"
        assert b.execute("print('secret' in globals())").printed.strip() == "False"
        (pid_a, cwd_a, _), (pid_b, cwd_b, _) = where_and_who(a), where_and_who(b)
        assert pid_a != pid_b and cwd_b == (node.workspace(classmate.key) / FOLDER).resolve()


def test_without_a_warm_kernel_the_first_notebook_starts_its_own(make_node, command, student):
    node = make_node(WARM_KERNEL="false")
    node.start_agent()
    browser, link = opened(node, command, student)
    assert kernels(browser, link) == [] and procfs.descendants(node.state(student.key)["pid"]) == []

    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        pid, cwd, session = where_and_who(kernel)
        assert cwd == (node.workspace(student.key) / FOLDER).resolve() and session == session_name(node, student)
        assert kernels(browser, link) == [kernel.id]


# --- the kernel manager alone -------------------------------------------------------------------


@pytest.fixture
def manager(students_env, tmp_path):
    """A factory of the servers' kernel manager on the students' environment, in ``tmp_path``."""
    sockets = Path(f"/tmp/capytale-kernels-test-{secrets.token_hex(4)}")  # short: Unix sockets' paths
    sockets.mkdir(mode=0o700)
    (tmp_path / "sub").mkdir()

    def make() -> server.StudentsKernels:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.StudentsKernels.kernel_manager_class = f"{server.StudentsKernelManager.__module__}.StudentsKernelManager"
        specs = server.StudentsKernelSpecs(folder=kernels_dir(str(students_env)))
        return server.StudentsKernels(config=config, sockets_dir=str(sockets), root_dir=str(tmp_path),
                                      kernel_spec_manager=specs, log=logging.getLogger("tests.warm_kernel"))

    yield make
    for left in sockets.iterdir():
        left.unlink()
    sockets.rmdir()


def test_a_warm_kernel_culled_before_the_first_notebook_gives_way_to_a_new_one(manager, tmp_path, caplog):
    async def scenario() -> tuple[str, str, list[str]]:
        kernels = manager()
        warm = await kernels.start_warm_kernel()
        await kernels.shutdown_kernel(warm)  # as the culler of idle kernels does
        try:
            taken = await kernels.start_kernel(path="sub", kernel_name="python3", env={**os.environ, "JPY_SESSION_NAME": "x"})
            return warm, taken, kernels.list_kernel_ids()
        finally:
            await kernels.shutdown_all()

    with caplog.at_level(logging.WARNING, "tests.warm_kernel"):
        warm, taken, listed = run_coroutine(scenario())
    assert taken != warm and listed == [taken]
    assert f"the warm kernel cannot be used (kernel {warm} is gone" in caplog.text


def test_a_server_stopped_while_its_warm_kernel_starts_stops_it_too(manager):
    def processes() -> set[int]:
        return {pid for pid in procfs.descendants(os.getpid()) if procfs.start_time(pid) is not None}

    async def scenario() -> tuple[str, list[str]]:
        kernels = manager()
        starting = kernels.start_warm_kernel()
        await asyncio.sleep(0)  # under way, not yet in the map (where Jupyter's shutdown of it fails)
        assert kernels.list_kernel_ids() == []
        await kernels.shutdown_all()
        return await starting, kernels.list_kernel_ids()

    before = processes()
    warm, left = run_coroutine(scenario())
    assert warm and left == []
    assert processes() <= before, "no kernel process left"


def test_the_kernels_listed_while_one_ends_its_start_are_listed_without_an_error(manager):
    """Jupyter puts a starting kernel in its map a turn of the loop before it marks its activity: the
    notebook page's poll of ``api/kernels`` in that turn failed with a 500 (seen in CI)."""
    async def scenario() -> tuple[list[dict], list[str]]:
        kernels = manager()
        seen: list[dict] = []
        starting = asyncio.ensure_future(kernels.start_kernel(kernel_name="python3"))
        try:
            while not starting.done():  # a list on every turn of the loop, as many pages polling do
                seen.extend(kernels.list_kernels())
                await asyncio.sleep(0)
            return seen, [model["id"] for model in kernels.list_kernels()]
        finally:
            await starting
            await kernels.shutdown_all()

    seen, listed = run_coroutine(scenario())
    assert len(listed) == 1
    assert seen and {model["id"] for model in seen} == set(listed), "listed while its start ended"
    assert {model["execution_state"] for model in seen} <= {"starting", "idle", "busy"}
