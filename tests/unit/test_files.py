"""Files written whole (:mod:`capytale.files`): the old file or the new one, never a part, nothing left beside."""
from __future__ import annotations

import errno
import os
import stat

import pytest

from capytale.files import replacing


def beside(path) -> list[str]:
    return sorted(os.listdir(path.parent))


def test_the_new_content_replaces_the_old_file_in_one_rename(tmp_path):
    path = tmp_path / "TP noté.ipynb"
    path.write_text("ancien")
    before = os.stat(path).st_ino
    with replacing(path, text=True) as out:
        out.write("nouveau\r\nligne\n")
        assert path.read_text() == "ancien", "the old file is whole until the block ends"
        assert len(beside(path)) == 2 and all(name.startswith((".~", "TP")) for name in beside(path))
    assert path.read_bytes() == "nouveau\r\nligne\n".encode()
    assert os.stat(path).st_ino != before and beside(path) == ["TP noté.ipynb"]


def test_an_error_in_the_block_leaves_the_old_file_and_nothing_beside(tmp_path):
    path = tmp_path / "copie.ipynb"
    path.write_bytes(b"{}")
    with pytest.raises(OSError):
        with replacing(path) as out:
            out.write(b"{\"cells\": [")
            raise OSError(errno.ENOSPC, "No space left on device")  # as a full disk at the flush
    assert path.read_bytes() == b"{}" and beside(path) == ["copie.ipynb"]


def test_the_mode_is_the_old_files_or_a_new_files_or_the_one_asked(tmp_path):
    kept = tmp_path / "rendu.ipynb"
    kept.write_text("x")
    kept.chmod(0o444)  # a copy handed in
    with replacing(kept) as out:
        out.write(b"y")
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o444

    new = tmp_path / "nouveau.txt"
    umask = os.umask(0o022)
    os.umask(umask)
    with replacing(new) as out:
        out.write(b"z")
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o666 & ~umask

    asked = tmp_path / "etat.json"
    with replacing(asked, mode=0o600) as out:
        out.write(b"{}")
    assert stat.S_IMODE(os.stat(asked).st_mode) == 0o600


def test_the_file_is_private_until_it_is_renamed(tmp_path):
    path = tmp_path / "secret.json"
    with replacing(path, mode=0o644) as out:
        aside = next(tmp_path.iterdir())
        assert stat.S_IMODE(os.stat(aside).st_mode) == 0o600
        out.write(b"{}")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_a_link_is_replaced_by_the_file_never_followed(tmp_path):
    elsewhere = tmp_path / "ailleurs.txt"
    elsewhere.write_text("à ne pas toucher")
    link = tmp_path / "lien.ipynb"
    link.symlink_to(elsewhere)
    with replacing(link, mode=0o644) as out:
        out.write(b"{}")
    assert not link.is_symlink() and link.read_bytes() == b"{}"
    assert elsewhere.read_text() == "à ne pas toucher"
