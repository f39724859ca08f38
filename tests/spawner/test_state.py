"""The node's state files: what a restarted agent reads to find its servers."""
from __future__ import annotations

import json
import threading
import time

import pytest

from services.spawner.state import ServerHandle
from services.spawner.locks import KeyedLocks
from services.spawner.state import BadUserKey, NodeDir


@pytest.fixture
def node_dir(tmp_path) -> NodeDir:
    return NodeDir(tmp_path / "run", 3).create()


def handle(user_key: str, pid: int = 4242) -> ServerHandle:
    return ServerHandle(user_key=user_key, socket_path=f"/run/{user_key}.sock", started_at=1700000000.5, instance="i1", pid=pid)


def test_a_saved_handle_is_read_back(node_dir):
    node_dir.save(handle("kalice"))
    node_dir.save(handle("kbob", pid=7))
    assert node_dir.load_all() == [handle("kalice"), handle("kbob", pid=7)]
    assert json.loads(node_dir.state_path("kalice").read_text())["pid"] == 4242
    assert list(node_dir.path.glob(".state-*")) == [], "no temporary file left behind"


def test_saving_again_replaces(node_dir):
    node_dir.save(handle("kalice", pid=1))
    node_dir.save(handle("kalice", pid=2))
    assert node_dir.load_all() == [handle("kalice", pid=2)]


@pytest.mark.parametrize("content", [
    "{not json",
    "[]",
    json.dumps({"user_key": "kbroken"}),
    json.dumps({"user_key": "kbroken", "socket_path": "/s", "started_at": 1.0}),  # neither pid nor container
    json.dumps({"user_key": "kbroken", "socket_path": "/s", "started_at": "soon", "pid": 3}),
    json.dumps({"user_key": "kimpostor", "socket_path": "/s", "started_at": 1.0, "pid": 3}),  # names another
])
def test_unreadable_state_files_are_skipped(node_dir, content):
    node_dir.state_path("kbroken").write_text(content)
    node_dir.save(handle("kalice"))
    assert node_dir.load_all() == [handle("kalice")]


def test_files_that_are_not_state_files_are_ignored(node_dir):
    (node_dir.path / "runtime").mkdir()
    (node_dir.path / "runtime" / "kernel-1.json").write_text("{}")
    (node_dir.path / "Not-A-Key.json").write_text("{}")
    assert node_dir.load_all() == []


def test_forget_removes_state_and_socket_and_tolerates_their_absence(node_dir):
    node_dir.save(handle("kalice"))
    node_dir.socket_path("kalice").touch()
    node_dir.forget("kalice")
    assert not node_dir.state_path("kalice").exists() and not node_dir.socket_path("kalice").exists()
    node_dir.forget("kalice")


@pytest.mark.parametrize("user_key", ["../etc", "", "UPPER", "a/b", "k" * 65, None, 42, "kéa"])
def test_only_user_keys_become_paths(node_dir, user_key):
    with pytest.raises(BadUserKey):
        node_dir.state_path(user_key)


def test_a_socket_path_too_long_for_linux_is_refused(tmp_path):
    deep = NodeDir(tmp_path / ("d" * 90), 1)
    with pytest.raises(ValueError, match="too long"):
        deep.socket_path("k" * 20)


def test_keyed_locks_serialise_one_key_not_two():
    locks = KeyedLocks()
    order: list[str] = []
    with locks.hold("ka"):
        same = threading.Thread(target=_append_under, args=(locks, "ka", order))
        same.start()
        time.sleep(0.05)
        order.append("first")
        with locks.try_hold("ka") as free:
            assert not free
        with locks.try_hold("kb") as free:
            assert free
    same.join(5)
    assert order == ["first", "second"]
    assert len(locks) == 0, "locks nobody holds are dropped"


def _append_under(locks: KeyedLocks, key: str, order: list[str]) -> None:
    with locks.hold(key):
        order.append("second")
