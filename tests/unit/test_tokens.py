import dataclasses
import time

import jwt
import pytest

from capytale.tokens import (GrantSigner, GrantVerifier, InvalidToken, SessionSigner, SessionVerifier,
                             load_private_key, load_public_key, write_key_pair)
from tests.conftest import make_identity


@pytest.fixture
def keys(tmp_path):
    write_key_pair(tmp_path / "a.key", tmp_path / "a.pub")
    write_key_pair(tmp_path / "b.key", tmp_path / "b.pub")
    return {n: (load_private_key(tmp_path / f"{n}.key"), load_public_key(tmp_path / f"{n}.pub")) for n in "ab"}


def test_a_session_round_trips_with_unicode_names(keys):
    alice = make_identity("eleve.nguyễn", "student")
    token = SessionSigner(keys["a"][0], 60).sign(alice)
    assert SessionVerifier(keys["a"][1]).verify(token) == alice


@pytest.mark.parametrize("tamper", ["other_key", "expired", "garbage", "grant_as_session"])
def test_forged_or_stale_sessions_are_refused(keys, tamper):
    alice = make_identity("alice", "student")
    token = {
        "other_key": lambda: SessionSigner(keys["b"][0], 60).sign(alice),
        "expired": lambda: SessionSigner(keys["a"][0], 60).sign(alice, now=time.time() - 3600),
        "garbage": lambda: "eyJhbGciOiJub25lIn0.e30.",
        "grant_as_session": lambda: GrantSigner(keys["a"][0]).issue("k", "i1", alice),
    }[tamper]()
    with pytest.raises(InvalidToken):
        SessionVerifier(keys["a"][1]).verify(token)


def test_a_grant_opens_only_the_server_it_names(keys):
    alice = make_identity("alice", "student")
    token = GrantSigner(keys["a"][0], 60).issue(alice.key, "start-1", alice)
    verifier = GrantVerifier(keys["a"][1])
    assert verifier.verify(token, alice.key, "start-1").visitor == alice.key
    with pytest.raises(InvalidToken):
        verifier.verify(token, "someone-else", "start-1")
    with pytest.raises(InvalidToken, match="another start"):
        verifier.verify(token, alice.key, "start-2")  # the server was restarted since


def test_a_grant_names_the_session_it_was_issued_for(keys):
    alice = make_identity("alice", "student")
    token = GrantSigner(keys["a"][0], 60).issue(alice.key, "start-1", alice)
    assert GrantVerifier(keys["a"][1]).verify(token, alice.key, "start-1").session == alice.sid
    with pytest.raises(ValueError, match="no sid"):  # a grant bound to no session could outlive a logout
        GrantSigner(keys["a"][0], 60).issue(alice.key, "start-1", dataclasses.replace(alice, sid=""))


def test_a_grant_without_a_session_is_refused(keys):
    claims = {"aud": "capytale-grant:k", "ins": "i1", "sub": "k", "jti": "j", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, keys["a"][0], algorithm="EdDSA")
    with pytest.raises(InvalidToken, match="sid"):
        GrantVerifier(keys["a"][1]).verify(token, "k", "i1")
