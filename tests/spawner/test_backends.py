"""Every backend answers the same contract, against the real thing."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from capytale.tokens import ensure_development_keys
from services.spawner import procfs, unixhttp
from services.spawner.backends.base import Backend
from services.spawner.state import ServerHandle
from services.spawner.backends.process import ProcessBackend
from services.spawner.state import NodeDir
from tests.spawner.conftest import kill_pid


def test_the_base_backend_does_nothing_silently():
    base = Backend()
    handle = ServerHandle(user_key="k", socket_path="/s", started_at=0.0, instance="i1", pid=1)
    for call in (lambda: base.start("k", Path("/r"), Path("/s"), "/n/1/u/k/", "i1"), lambda: base.stop(handle, 1.0),
                 lambda: base.is_alive(handle), base.list_running, lambda: base.memory_bytes([handle])):
        with pytest.raises(NotImplementedError):
            call()


@pytest.fixture(scope="module", params=["process"])
def backend(request, students_env):
    """Each backend on a fresh node folder; whatever it leaves running is killed by pid."""
    folder = Path(tempfile.mkdtemp(prefix="cs-", dir="/tmp"))
    ensure_development_keys(folder / "keys")
    node_dir = NodeDir(folder / "run", 1).create()
    if request.param == "process":
        made = ProcessBackend(node_dir, folder / "keys" / "grant.pub", ("notebook",), students_env, spawn_timeout=30)
    made.open()
    made.root = folder / "data"
    yield made
    made.close()
    for handle in node_dir.load_all():
        for pid in [handle.pid, *procfs.descendants(handle.pid)]:
            kill_pid(pid)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_backend_starts_finds_and_stops_a_server(backend):
    root = backend.root / "kconform"
    root.mkdir(parents=True)
    handle = backend.start("kconform", root, "/n/1/u/kconform/", "i1")
    backend.node_dir.save(handle)
    assert handle.user_key == "kconform" and handle.socket_path.startswith(str(backend.node_dir.path) + "/")
    assert unixhttp.wait_answering(handle.socket_path, "/n/1/u/kconform/api", 20, lambda: backend.is_alive(handle))
    assert backend.is_alive(handle)
    assert backend.list_running() == [handle]

    backend.stop(handle, timeout=5)
    assert not backend.is_alive(handle)
    assert backend.list_running() == []
    backend.stop(handle, timeout=5)  # stopping what is gone is success
    backend.node_dir.forget("kconform")


def test_a_recycled_pid_is_not_taken_for_the_server(backend):
    handle = ServerHandle(user_key="kold", socket_path="/s", started_at=1.0, instance="i1", pid=os.getpid())
    assert not backend.is_alive(handle), "this process started long after the recorded start"


def test_a_server_that_cannot_start_exits_and_says_why(backend):
    missing = backend.root / "knowhere" / "does-not-exist"
    handle = backend.start("knowhere", missing, "/n/1/u/knowhere/", "i1")
    answered = unixhttp.wait_answering(handle.socket_path, "/n/1/u/knowhere/api", 10, lambda: backend.is_alive(handle))
    assert not answered and not backend.is_alive(handle)
    assert "does-not-exist" in backend.node_dir.log_path("knowhere").read_text()
