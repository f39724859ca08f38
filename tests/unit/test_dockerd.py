"""Where no Docker engine answers and none can be started, the reason is said (the docker tests skip with it)."""
from __future__ import annotations

import pytest

from capytale.stack import dockerd


def test_no_engine_and_no_dockerd_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    monkeypatch.setenv("CAPYTALE_CACHE", str(tmp_path))  # no engine.url of a running one there
    monkeypatch.setattr(dockerd, "dockerd_binary", lambda: None)
    with pytest.raises(dockerd.NoEngine, match="no Docker engine answers at unix://.*nothing.sock and dockerd is not installed"):
        with dockerd.engine():
            pass


def test_an_engine_that_answers_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///somewhere/docker.sock")
    monkeypatch.setattr(dockerd, "answers", lambda url: url == "unix:///somewhere/docker.sock")
    monkeypatch.setattr(dockerd, "dockerd_binary", lambda: pytest.fail("nothing to start"))
    with dockerd.engine() as url:
        assert url == "unix:///somewhere/docker.sock"
