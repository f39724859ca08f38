"""The node's list of ended sessions: the agent's writing, a server's reading, the cookie that keeps the session."""
from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest

from capytale.revocations import RevocationSet
from capytale.tokens import ensure_development_keys
from services.spawner.jupyter.identity import GrantIdentityProvider, SessionUser
from services.spawner.jupyter.revoked import RevokedFile, RevokedSessions, parse

LATER = time.time() + 3600


@pytest.fixture
def written(tmp_path) -> RevokedFile:
    return RevokedFile(tmp_path / "revocations").create()


def test_what_the_agent_appends_a_server_reads(written):
    reader = RevokedSessions(written.path)
    assert "s1" not in reader  # no file yet: nothing has ended
    written.append([("s1", LATER)])
    assert "s1" in reader and "s2" not in reader
    written.append([("s2", LATER), ("s3", time.time() - 1)])
    assert "s2" in reader and "s3" not in reader, "an expired session is no longer listed"
    assert written.lines == 3
    assert oct(written.path.stat().st_mode & 0o777) == oct(0o644)
    assert oct(written.folder.stat().st_mode & 0o777) == oct(0o755)


def test_a_server_reads_the_file_again_only_when_it_changed(written, monkeypatch):
    written.append([("s1", LATER)])
    reader = RevokedSessions(written.path)
    assert reader.refresh() is True
    assert reader.refresh() is False, "unchanged: only a stat"
    written.append([("s2", LATER)])
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *args, **kwargs: opened.append(args) or real_open(*args, **kwargs))
    assert reader.refresh() is True and "s2" in reader
    assert len(opened) == 1


def test_a_line_being_written_is_read_once_whole(written):
    reader = RevokedSessions(written.path)
    with open(written.path, "ab") as file:
        file.write(b"half")
    assert "half" not in reader
    with open(written.path, "ab") as file:
        file.write(f"way {int(LATER)}\n".encode())
    assert "halfway" in reader


def test_a_file_written_anew_is_read_whole_and_forgets_nothing_live(written):
    written.append([("s1", LATER), ("old", time.time() + 0.5)])
    reader = RevokedSessions(written.path)
    assert "s1" in reader
    inode = written.path.stat().st_ino
    written.replace(lambda: [("s1", LATER), ("s2", LATER)])
    assert written.path.stat().st_ino != inode and written.lines == 2
    assert "s2" in reader and "s1" in reader
    assert list(written.folder.glob(".revoked-*")) == [], "no temporary file left behind"


def test_lines_that_are_not_revocations_are_skipped():
    assert parse(b"good 2000000000\nbad\n\xff\xfe 2000000000\nspace d 1\nneg -5\nsemi;colon 2000000000\n") == \
        {"good": 2000000000.0}


def test_the_revocation_set_says_what_is_news_and_forgets_the_expired():
    revoked = RevocationSet()
    assert revoked.add_all([("a", LATER), ("b", LATER), ("c", time.time() - 1), ("", LATER)]) == \
        [("a", LATER), ("b", LATER)]
    assert revoked.add("a", LATER) is False, "known already"
    assert revoked.add("a", LATER + 10) is True, "known until later now"
    assert revoked.items() == [("a", LATER + 10), ("b", LATER)] and len(revoked) == 2


# --- the server's cookie keeps the session ------------------------------------------------------


@pytest.fixture
def provider(tmp_path) -> GrantIdentityProvider:
    keys = ensure_development_keys(tmp_path / "keys")
    return GrantIdentityProvider(owner_key="kalice", instance="start-1", grant_public_key_file=str(keys / "grant.pub"),
                                 revocations_file=str(tmp_path / "revoked"))


def test_the_cookie_keeps_the_session_and_the_page_never_sees_it(provider):
    user = SessionUser(username="kalice", name="Alice", session="sid-1")
    assert provider.user_from_cookie(provider.user_to_cookie(user)) == user
    assert "session" not in provider.identity_model(user) and provider.identity_model(user)["name"] == "Alice"
    unbound = json.dumps({"username": "kalice", "name": "Alice"})  # a session that could never be ended
    assert provider.user_from_cookie(unbound) is None


def test_a_server_without_a_revocations_file_does_not_start(provider):
    with pytest.raises(ValueError, match="revocations_file"):
        GrantIdentityProvider(owner_key="kalice", instance="start-1",
                              grant_public_key_file=provider.grant_public_key_file)


def test_the_server_spec_names_the_nodes_file(tmp_path):
    from services.spawner.backends.process import ProcessBackend
    from services.spawner.jupyter.container import container_spec
    from services.spawner.state import NodeDir

    node_dir = NodeDir(tmp_path / "run", 2).create()
    backend = ProcessBackend(node_dir, tmp_path / "grant.pub", ("notebook",), tmp_path, spawn_timeout=30)
    captured = []
    backend.zygote.spawn = lambda spec, timeout: captured.append(spec) or os.getpid()
    backend.start("kalice", tmp_path / "kalice", "/n/2/u/kalice/", "i1")
    assert captured[0].revocations_file == str(node_dir.path / "revocations" / "revoked")
    inside = container_spec(dataclasses.replace(captured[0]))
    assert inside.revocations_file == "/capytale/revocations/revoked"
