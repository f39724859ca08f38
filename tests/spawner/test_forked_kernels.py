"""Kernels forked by the node's kernels' zygote (process backend): as a cold kernel would be, and cheaper.

Through a real node, its agent, its zygotes and students' servers, as the notebook page does it
(:mod:`tests.spawner.test_warm_kernel` has the helpers): the kernel that answers the first cell is
a child of the kernels' zygote named after its server, and is in every way a kernel of its own
(folder, environment, ``sys.argv``, ``sys.path``, randomness); a restart forks a new one; a server
killed hard takes its kernels with it; without the zygote, kernels start cold and nothing else
changes.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import secrets
import signal
import socket
import time
from pathlib import Path

import pytest

from services.spawner import procfs
from services.spawner.jupyter import forked_kernel
from tests.spawner.conftest import kill_pid, wait_until
from tests.e2e.browser import Browser, NotebookLink
from tests.spawner.test_warm_kernel import NOTEBOOK, FOLDER, kernels, opened, warm_kernel, where_and_who

AS_A_KERNEL = ("import sys, os, random, tempfile; print(sys.argv[0].endswith('ipykernel_launcher.py'), sys.argv[1], "
               "os.environ['HOME'], tempfile.gettempdir(), os.getpgrp() == os.getpid(), random.random(), sep='\\n')")


def zygote_of(node) -> int:
    """The pid of the node's kernels' zygote (a child of the agent)."""
    agent = node.agents[-1].process.pid
    found = [pid for pid in procfs.children_map().get(agent, [])
             if b"kernel_zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(found) == 1, f"one kernels' zygote below the agent: {found}"
    return found[0]


def started(node, command, someone) -> tuple[Browser, NotebookLink, str, int]:
    """``someone``'s server started with its notebook open (:func:`opened`): browser, link, warm kernel, server pid."""
    browser, link = opened(node, command, someone)
    warm, _ = warm_kernel(node, browser, link)
    return browser, link, warm, node.state(link.key)["pid"]


def dead(pid: int) -> bool:
    """Ended: gone, or a zombie (an exiting process shows an empty command line a moment before)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def name_of(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


def test_the_first_cell_runs_in_a_kernel_forked_for_its_server(node, command, student):
    browser, link, warm, server = started(node, command, student)

    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        pid, cwd, _ = where_and_who(kernel)
        assert procfs.parent_pid(pid) == zygote_of(node), "forked by the node's kernels' zygote"
        assert name_of(pid) == f"kernel-{server}" and pid in procfs.descendants(server), "counted as its server's"
        launcher, flag, home, temporary, own_group, _ = kernel.execute(AS_A_KERNEL).printed.split("\n")[:6]
        assert (launcher, flag, own_group) == ("True", "-f", "True"), "sys.argv and a session as ipykernel_launcher's"
        assert home == str(node.workspace(student.key)) and temporary.startswith(str(node.run_dir / "runtime"))
        assert cwd == (node.workspace(student.key) / FOLDER).resolve()
        # the platform's code is not on its path, the notebook's folder is (a module beside the notebook imports)
        (cwd / "voisin.py").write_text("VALEUR = 42\n")
        assert kernel.execute("import voisin; print(voisin.VALEUR)").printed.strip() == "42"
        assert kernel.execute("import services").error["ename"] == "ModuleNotFoundError"


def test_a_kernel_started_without_a_notebook_runs_in_the_students_workspace(node, command, student):
    browser, link, warm, _ = started(node, command, student)
    for _ in range(2):  # the warm kernel, then one forked on demand: neither in the zygote's folder
        with browser.kernel(link) as bare:
            pid, cwd, _ = where_and_who(bare)
            assert name_of(pid).startswith("kernel-") and cwd == node.workspace(student.key).resolve()


def test_a_restart_forks_a_new_kernel_that_forgot_everything(node, command, student):
    browser, link, warm, server = started(node, command, student)

    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        first, _, _ = where_and_who(kernel)
        kernel.execute("avant = 1")
        restarted = browser.restart_kernel(link, warm)
        assert restarted.status_code == 200, restarted.text
    with browser.kernel(link, notebook_path=NOTEBOOK) as again:
        pid, cwd, _ = where_and_who(again)
        assert pid != first and name_of(pid) == f"kernel-{server}", "forked again"
        assert cwd == (node.workspace(student.key) / FOLDER).resolve()
        assert again.execute("print('avant' in globals())").printed.strip() == "False"
        wait_until(lambda: not procfs.is_running(first, time.time()), 10, message="the first kernel gone")


def test_two_students_forked_kernels_share_nothing(node, command, student):
    classmate = dataclasses.replace(student, uid=f"{student.uid}-voisin", key=f"kv{secrets.token_hex(9)}",
                                    sid=secrets.token_urlsafe(12))
    mine, theirs = opened(node, command, student), opened(node, command, classmate)
    warm_kernel(node, *mine)
    warm_kernel(node, *theirs)

    with mine[0].kernel(mine[1], notebook_path=NOTEBOOK) as a, theirs[0].kernel(theirs[1], notebook_path=NOTEBOOK) as b:
        a.execute("secret = 'la réponse de A'; import os; os.environ['TRACE'] = 'A'")
        assert b.execute("import os; print('secret' in globals(), os.environ.get('TRACE'))").printed.strip() == \
            "False None"
        random_a = a.execute(AS_A_KERNEL).printed.split("\n")[5]
        random_b = b.execute(AS_A_KERNEL).printed.split("\n")[5]
        assert random_a != random_b, "each kernel's random generator is seeded anew"


def test_a_server_killed_hard_takes_its_forked_kernels_with_it(node, command, student):
    browser, link, warm, server = started(node, command, student)
    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        pid, _, _ = where_and_who(kernel)
        kernel.execute("import subprocess; child = subprocess.Popen(['sleep', '300']); print(child.pid)")
        child = int(kernel.execute("print(child.pid)").printed)
    os.kill(server, signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") and not os.path.exists(f"/proc/{child}"), 10,
               message="the kernel and what it started gone with their server")
    assert command(node, "server.stop", user_key=student.key)["ok"]


def test_without_its_kernels_zygote_a_server_starts_its_kernels_cold(make_node, command, student):
    node = make_node()
    node.start_agent()
    first_zygote = zygote_of(node)
    kill_pid(first_zygote)  # gone: the next server's start finds it so and starts another one
    wait_until(lambda: dead(first_zygote), 10, message="the zygote dead")
    browser, link, warm, _ = started(node, command, student)
    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        pid, _, _ = where_and_who(kernel)
        assert procfs.parent_pid(pid) == zygote_of(node) != first_zygote, "a new zygote for the next server"
        kill_pid(zygote_of(node))  # and now none: a restart of the kernel launches it the usual way
        restarted = browser.restart_kernel(link, warm)
        assert restarted.status_code == 200, restarted.text
    with browser.kernel(link, notebook_path=NOTEBOOK) as again:
        pid, _, _ = where_and_who(again)
        assert procfs.parent_pid(pid) == node.state(link.key)["pid"], "the server launched it itself"
        assert again.execute("print(6 * 7)").printed.strip() == "42"
    assert "did not fork it" in (node.run_dir / f"{link.key}.log").read_text()


def test_with_the_zygote_off_every_kernel_starts_cold(make_node, command, student):
    node = make_node(KERNEL_ZYGOTE="false")
    node.start_agent()
    browser, link, warm, _ = started(node, command, student)
    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        pid, _, _ = where_and_who(kernel)
        assert procfs.parent_pid(pid) == node.state(link.key)["pid"]


def knocks_as_nobody(path: str) -> int:
    """The errno of connecting to ``path`` as user 65534 (0: it connected), from a forked child."""
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX) as knock:
                knock.connect(path)
        except OSError as error:
            code = error.errno or 255
        os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


# --- the zygote's door --------------------------------------------------------------------------


def test_the_zygote_forks_only_its_own_kernelspec_and_only_for_its_user(node, command, student):
    opened(node, command, student)
    door = str(node.run_dir / "kernel-zygote.sock")
    assert os.stat(door).st_mode & 0o777 == 0o600, "this user's servers only"
    with pytest.raises(forked_kernel.Refused, match="imitates"):
        forked_kernel.fork(door, ["/bin/sh", "-c", "echo pris"], {}, "/")
    if os.geteuid() == 0:
        assert knocks_as_nobody(door) == errno.EACCES, "another user cannot even knock"
    # a broken request is answered, and the zygote goes on
    with socket.socket(socket.AF_UNIX) as broken:
        broken.connect(door)
        socket.send_fds(broken, [b"{pas du json}\n"], [1, 2])
        assert "error" in json.loads(broken.makefile().readline())
    with pytest.raises(forked_kernel.Refused):
        forked_kernel.fork(door, ["/bin/true"], {}, "/")
