"""The students' environment: what students' kernels import, kept apart from the platform's own.

Students' kernels never run on the platform's ``.venv``.  They run on an
environment made from the lists of ``environment/`` (an académie edits them):

- ``python.txt``: the Python packages (pinned), installed with pip;
- ``kernels/``: the platform's own kernels (OCaml, SQL) and the turtle shim,
  a small package installed beside them, whose installer writes the
  kernelspecs (``python3``, ``ocaml``, ``sql``) with absolute paths into the
  environment's ``share/jupyter/kernels``;
- ``debian.txt``: the programs those kernels drive (OCaml's toplevel).

The process backend's environment is a virtual environment under
``students-env/<digest>/`` of the machine's cache (``capytale.stack.machine_cache``:
every checkout of the machine shares it), made here; the notebook image holds
the same one at :data:`IMAGE_PREFIX` (``capytale.stack.notebook_image``).  Both
are installed with ``--no-index`` from one folder of downloaded wheels
(``wheels/<digest>/`` of the same cache), so they hold the same versions of
everything, transitive dependencies included.  The digest covers the lists, the
kernels' code and the Python version: a changed list makes a new environment,
nothing else does.  Environments and wheels that no checkout used for two weeks
are removed by the next build.

``python -m capytale.stack.students_env`` builds it (``make deps`` does) and
prints its prefix.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from capytale.stack import machine_cache
from services.spawner.jupyter import container

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT_DIR = REPO / "environment"
PYTHON_LIST = ENVIRONMENT_DIR / "python.txt"
DEBIAN_LIST = ENVIRONMENT_DIR / "debian.txt"
KERNELS_PACKAGE = ENVIRONMENT_DIR / "kernels"
IMAGE_PREFIX = container.STUDENTS_ENV  # the same environment inside the notebook image
COMPLETE = ".complete"  # written last: a folder without it is a build that did not finish

Progress = Callable[[str], None]


def python_requirements(list_file: Path = PYTHON_LIST) -> list[str]:
    """The requirement lines of a list, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in list_file.read_text().splitlines())
    return [line for line in lines if line]


def debian_packages(list_file: Path = DEBIAN_LIST) -> list[str]:
    return python_requirements(list_file)  # the same format: one name a line, comments


def _kernels_files() -> list[Path]:
    """The kernels package's sources: no build output, caches or hidden folders."""
    def source(path: Path) -> bool:
        parts = path.relative_to(KERNELS_PACKAGE).parts
        return path.is_file() and "build" not in parts and not any(
            part == "__pycache__" or part.startswith(".") or part.endswith(".egg-info") for part in parts)

    return sorted(p for p in KERNELS_PACKAGE.rglob("*") if source(p))


def digest(list_file: Path = PYTHON_LIST) -> str:
    """What the environment is made of: the Python list, the kernels' code, the Python version."""
    sha = hashlib.sha256(f"python{sys.version_info.major}.{sys.version_info.minor}\0".encode())
    sha.update("\n".join(python_requirements(list_file)).encode() + b"\0")
    for path in _kernels_files():
        sha.update(str(path.relative_to(KERNELS_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:12]


def _pip(python: Path | str, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
                   check=True, stdin=subprocess.DEVNULL)


def wheelhouse(list_file: Path = PYTHON_LIST, progress: Progress = print) -> tuple[Path, Path]:
    """The wheels of ``list_file`` (downloaded once a machine) and the kernels package's wheel (built once).

    Returns the wheel folder and the kernels' wheel, the two things an install needs."""
    key = digest(list_file)
    wheels_root = machine_cache.folder("wheels")
    wheels = wheels_root / key
    with machine_cache.lock(f"wheels-{key}"):
        if not (wheels / COMPLETE).exists():
            shutil.rmtree(wheels, ignore_errors=True)
            progress(f"downloading the students' environment's wheels into {wheels} (once per list)")
            began = time.monotonic()
            # wheels from the index where it has them, built here from the sources where not (pycairo on
            # Linux): installing needs no compiler then, in the image's network-less build least of all
            _pip(sys.executable, "wheel", "--wheel-dir", str(wheels), "--requirement", str(list_file))
            _pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(wheels / "kernels"),
                 str(KERNELS_PACKAGE))
            shutil.rmtree(KERNELS_PACKAGE / "build", ignore_errors=True)
            (wheels / COMPLETE).write_text(f"{time.time()}\n")
            progress(f"wheels ready in {time.monotonic() - began:.0f} s")
        machine_cache.used(wheels)
    machine_cache.forget_unused(wheels_root, keep=wheels)
    kernels_wheel = next((wheels / "kernels").glob("capytale_kernels-*.whl"))
    return wheels, kernels_wheel


def install_commands(python: str, prefix: str, wheels: str, kernels_wheel: str, list_file: str) -> list[list[str]]:
    """The commands that fill a fresh virtual environment at ``prefix`` (whose interpreter is
    ``python``) from the wheel folder: the same here and in the notebook image's build."""
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet", "install", "--no-index",
           "--no-cache-dir", "--find-links", wheels]
    return [
        [*pip, "--requirement", list_file, kernels_wheel],
        [python, "-m", "capytale_kernels.install", "--prefix", prefix],
    ]


def ensure_students_env(progress: Progress = print, list_file: Path = PYTHON_LIST) -> Path:
    """The prefix of the process backend's students' environment for ``list_file``, made when missing."""
    key = digest(list_file)
    envs = machine_cache.folder("students-env")
    prefix = envs / key
    if (prefix / COMPLETE).exists():
        return machine_cache.used(prefix)
    wheels, kernels_wheel = wheelhouse(list_file, progress)
    with machine_cache.lock(f"students-env-{key}"):
        if (prefix / COMPLETE).exists():
            return machine_cache.used(prefix)
        shutil.rmtree(prefix, ignore_errors=True)
        progress(f"making the students' environment {prefix} (a minute, once per list)")
        began = time.monotonic()
        # the interpreter the platform runs on, but none of its packages (no --system-site-packages)
        subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, stdin=subprocess.DEVNULL)
        for command in install_commands(str(prefix / "bin" / "python"), str(prefix), str(wheels),
                                        str(kernels_wheel), str(list_file)):
            subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
        (prefix / COMPLETE).write_text(f"{time.time()}\n")
        progress(f"students' environment ready in {time.monotonic() - began:.0f} s ({size_mib(prefix)} MiB)")
    machine_cache.forget_unused(envs, keep=prefix)
    return prefix


def size_mib(path: Path) -> int:
    total = sum(p.lstat().st_size for p in path.rglob("*") if not p.is_symlink() and p.is_file())
    return total >> 20


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Make the students' environment of the process backend.")
    parser.add_argument("--list", type=Path, default=PYTHON_LIST, help="the Python list (default: %(default)s)")
    args = parser.parse_args(argv)
    print(ensure_students_env(lambda line: print(line, file=sys.stderr, flush=True), args.list))


if __name__ == "__main__":
    main()
