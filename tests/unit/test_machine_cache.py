"""The machine's cache: where it is, and what its age-based clean-up removes and spares."""
from __future__ import annotations

import os
import time

from capytale.stack import machine_cache


def test_the_cache_is_where_the_environment_says(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPYTALE_CACHE", str(tmp_path / "chosen"))
    assert machine_cache.root() == tmp_path / "chosen"
    monkeypatch.delenv("CAPYTALE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert machine_cache.root() == tmp_path / "xdg" / "capytale"
    assert machine_cache.folder("wheels").is_dir()


def test_what_nothing_used_for_two_weeks_goes_and_the_rest_stays(tmp_path):
    weeks_ago = time.time() - 15 * 86400
    stale_env, fresh_env, kept_env = (tmp_path / name for name in ("stale", "fresh", "kept"))
    for folder in (stale_env, fresh_env, kept_env):
        (folder / "bin").mkdir(parents=True)
        (folder / "bin" / "python").write_text("")
    stale_file = tmp_path / "old.tar"
    stale_file.write_text("")
    for path in (stale_env, kept_env, stale_file):
        os.utime(path, (weeks_ago, weeks_ago))
    machine_cache.used(fresh_env)

    gone = machine_cache.forget_unused(tmp_path, keep=kept_env)

    assert sorted(gone) == sorted([stale_env, stale_file])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "kept"]


def test_using_an_entry_again_spares_it(tmp_path):
    entry = tmp_path / "env"
    entry.mkdir()
    weeks_ago = time.time() - 15 * 86400
    os.utime(entry, (weeks_ago, weeks_ago))
    machine_cache.used(entry)
    assert machine_cache.forget_unused(tmp_path) == []
    assert entry.is_dir()
