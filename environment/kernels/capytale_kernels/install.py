"""Write the students' environment's kernelspecs: ``python -m capytale_kernels.install --prefix PREFIX``.

Run with the students' environment's own python: each kernelspec starts that interpreter by its
absolute path (``sys.executable``, not resolved: a venv's ``bin/python`` is what makes it the venv),
and carries PATH and VIRTUAL_ENV pointing into the environment, so that ``!pip install`` or a
subprocess in a kernel lands in the students' environment, never in the platform's, whatever
environment the Jupyter server itself runs from.  Writes into ``PREFIX/share/jupyter/kernels/``:

- ``python3``: ipykernel's own spec (``ipykernel.kernelspec.install``);
- ``ocaml`` and ``sql``: this package's kernels.

It also writes ``capytale-turtle.pth`` into the interpreter's site-packages, so that every Python
started from the environment imports ``capytale_kernels.turtle_hook`` (turtle drawings shown in the
notebook).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
from pathlib import Path
from typing import Any

from ipykernel.kernelspec import install as install_ipykernel_spec
from jupyter_client.kernelspec import KernelSpecManager

TURTLE_PTH_NAME = "capytale-turtle.pth"
TURTLE_PTH_LINE = "import capytale_kernels.turtle_hook"

# Names as environment/kernels.toml spells them: notebooks are matched to these.
PYTHON3_DISPLAY_NAME = "Python 3"
KERNELS = {
    "ocaml": {"module": "capytale_kernels.ocaml", "display_name": "OCaml", "language": "ocaml"},
    "sql": {"module": "capytale_kernels.sql", "display_name": "SQL (SQLite)", "language": "sql"},
}


def kernels_dir(prefix: Path) -> Path:
    return prefix / "share" / "jupyter" / "kernels"


def kernel_environment(prefix: Path) -> dict[str, str]:
    """What every kernel of the environment gets in its environment, over the Jupyter server's.

    PYTHONPATH is emptied: the image sets it for the server (the platform's code in /opt/capytale),
    and a student's kernel imports from the students' environment only."""
    return {"PATH": f"{prefix}/bin:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(prefix), "PYTHONPATH": ""}


def python_executable() -> str:
    return os.path.abspath(sys.executable)


def install_python3(prefix: Path) -> Path:
    destination = Path(install_ipykernel_spec(
        kernel_spec_manager=KernelSpecManager(), kernel_name="python3", display_name=PYTHON3_DISPLAY_NAME,
        prefix=str(prefix), env=kernel_environment(prefix)))
    spec_file = destination / "kernel.json"
    spec = json.loads(spec_file.read_text())
    # ipykernel writes sys.executable, absolute in any ordinary interpreter: made sure of here.
    spec["argv"][0] = python_executable()
    spec["env"] = {**spec.get("env", {}), **kernel_environment(prefix)}
    _write_json(spec_file, spec)
    return destination


def install_kernel(prefix: Path, name: str) -> Path:
    kernel = KERNELS[name]
    destination = kernels_dir(prefix) / name
    destination.mkdir(parents=True, exist_ok=True)
    _write_json(destination / "kernel.json", {
        "argv": [python_executable(), "-m", kernel["module"], "-f", "{connection_file}"],
        "display_name": kernel["display_name"],
        "language": kernel["language"],
        "interrupt_mode": "signal",
        "env": kernel_environment(prefix),
        "metadata": {},
    })
    return destination


def install_turtle_hook() -> Path:
    """The .pth that imports the turtle hook at every start of the environment's Python.

    Written even while ``capytale_kernels.turtle_hook`` is not there yet: it is shipped by this
    package, and the .pth only takes effect when it is.
    """
    path = Path(sysconfig.get_paths()["purelib"]) / TURTLE_PTH_NAME
    path.write_text(TURTLE_PTH_LINE + "\n")
    return path


def install(prefix: Path) -> list[Path]:
    written = [install_python3(prefix), *(install_kernel(prefix, name) for name in KERNELS)]
    written.append(install_turtle_hook())
    return written


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="the students' environment (default: this interpreter's, sys.prefix)")
    args = parser.parse_args(argv)
    prefix = args.prefix.absolute()
    if prefix != Path(sys.prefix).absolute():
        print(f"warning: the kernels will run {python_executable()}, which is not in {prefix}",
              file=sys.stderr)
    for path in install(prefix):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
