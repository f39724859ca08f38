"""A student's kernel past its container's memory limit: the kernel alone dies, nothing saved is lost.

The platform here has one node, so that the other student's container is on the
same node as the one that runs out of memory.  The limit is the docker tests'
(``tests/docker/conftest.py``: 512 MiB, swap none); the code that exceeds it grows
a list of 16 MiB blocks, each written, so that the kernel's OOM killer, not a
refused allocation, ends it (``bytearray(10**10)`` may be refused at once, as a
MemoryError, where the machine has less memory than that).
"""
from __future__ import annotations

import json
import time
import urllib.parse

import nbformat
import pytest

from services.spawner import cgroups
from tests.docker.conftest import MEMORY_MB
from tests.e2e.browser import KernelDied
from tests.e2e.conftest import start_platform

pytestmark = pytest.mark.e2e

HOG = "blocs = []\nwhile True:\n    blocs.append(b'x' * (16 * 2**20))"
RESTART_WAIT = 60.0  # seconds for Jupyter to start the killed kernel again and for it to answer


@pytest.fixture(scope="module")
def platform(tmp_path_factory, request, engine):
    """HAProxy, the services and one node whose spawner runs students' servers in containers."""
    local = start_platform(tmp_path_factory, request, nodes=1, **engine.settings())
    yield local
    local.stop(forget_messaging=True)  # removes this platform's containers too


@pytest.fixture
def activity(teacher, tmp_path) -> dict:
    made = nbformat.v4.new_notebook()
    made.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    made.cells = [nbformat.v4.new_markdown_cell("# Des listes"), nbformat.v4.new_code_cell("print(len([1, 2]))")]
    path = tmp_path / "Des listes.ipynb"
    path.write_text(nbformat.writes(made), encoding="utf-8")
    answer = teacher.upload(path, "Des listes")
    assert answer.status_code == 201, answer.text
    return answer.json()


def share_path(activity: dict) -> str:
    return urllib.parse.urlsplit(activity["share_url"]).path


def enter(person, activity):
    link = person.open_share(share_path(activity))
    assert person.enter(link).status_code == 200
    return link


def container_id(platform, link) -> str:
    state = platform.var_dir / "run" / str(link.node) / f"{link.key}.json"
    return json.loads(state.read_text())["container_id"]


def test_a_kernel_past_the_memory_limit_dies_alone_and_the_student_carries_on(platform, engine, teacher, student,
                                                                             activity):
    """Lost: what the student's kernel held (its variables, the cell that was running): Jupyter says the kernel
    restarts and starts it again. Not lost: the saved notebook, the server (same container, its page goes on), the
    neighbour's kernel on the same node, which keeps its state."""
    glouton, voisin = student("glouton"), student("voisin")
    link, near = enter(glouton, activity), enter(voisin, activity)
    assert link.node == near.node
    container, near_container = container_id(platform, link), container_id(platform, near)
    saved = nbformat.v4.new_notebook()
    saved.cells = [nbformat.v4.new_markdown_cell("# Des listes"), nbformat.v4.new_code_cell("ma_reponse = 42")]
    assert glouton.save(link, json.loads(nbformat.writes(saved))).status_code == 200
    on_disk = platform.var_dir / "data" / "users" / link.key / link.path
    saved_bytes = on_disk.read_bytes()
    kills_near = cgroups.oom_kills(near_container)

    with voisin.kernel(near, notebook_path=near.path) as neighbour, \
            glouton.kernel(link, notebook_path=link.path) as kernel:
        assert neighbour.execute("total = 1\nprint(total)").printed.strip() == "1"
        assert kernel.execute("x = 41\nprint(x + 1)").printed.strip() == "42"
        began = time.monotonic()
        with pytest.raises(KernelDied):  # the server's news on the page's websocket: the kernel restarts
            kernel.execute(HOG, timeout=90)
        assert time.monotonic() - began < 90
        kills = cgroups.oom_kills(container)
        assert kills is None or kills >= 1  # where this machine shows the container's cgroup
        memory = cgroups.container_memory_bytes(container)
        assert memory is None or memory < MEMORY_MB * 2**20

        # Jupyter starts the kernel again (on the same sockets); once it answers, the page connects to it again, as
        # Notebook does after its "restarting" message; the notebook's session has the same kernel; what it held
        # is gone
        kernel.until_answering(RESTART_WAIT)
        with glouton.kernel(link, notebook_path=link.path, timeout=RESTART_WAIT) as restarted:
            assert restarted.id == kernel.id
            lost = restarted.execute("print(x)", timeout=RESTART_WAIT)
            assert lost.error and lost.error["ename"] == "NameError"
            assert restarted.execute("print(2 + 2)").printed.strip() == "4"
        # the neighbour's kernel was never touched: its variable is still there
        assert neighbour.execute("total += 1\nprint(total)").printed.strip() == "2"
    assert cgroups.oom_kills(near_container) == kills_near

    # the server lived through it: same container; the saved notebook is whole, as the teacher sees it
    assert container_id(platform, link) == container
    assert engine.client.containers.get(container).status == "running"
    assert on_disk.read_bytes() == saved_bytes
    nbformat.validate(nbformat.reads(saved_bytes.decode(), as_version=4))
    assert glouton.contents(link).json()["content"]["cells"][-1]["source"] == "ma_reponse = 42"
    copies = teacher.url(f"/activities/api/activities/{activity['id']}/copies")
    uid = next(c["student"]["uid"] for c in teacher.http.get(copies, timeout=30).json()
               if c["student"]["name"] == glouton.name)
    assert teacher.http.get(f"{copies}/{urllib.parse.quote(uid)}/notebook", timeout=30).content == saved_bytes

    # the share link again: the same copy, on the same server
    again = glouton.open_share(share_path(activity))
    assert (again.path, again.node, again.key) == (link.path, link.node, link.key)
    assert glouton.enter(again).status_code == 200
    assert container_id(platform, again) == container
    assert glouton.run_code(again, "print(6 * 7)").strip() == "42"
    assert voisin.run_code(near, "print(6 * 7)").strip() == "42"
