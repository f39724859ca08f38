"""The process backend's students' environment: made from the lists, apart from the platform's own,
holding what the lists say, and what an académie adds to a list reaches it (the docker side of the
same checks is ``tests/docker/test_students_image.py``)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from capytale.stack import students_env as envs

# name → version of every distribution of an environment, as its own interpreter sees them
VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}))")


def versions(python: str | Path, *prefix: str) -> dict[str, str]:
    """From ``/``: run from the checkout, ``-c`` would also see the platform's ``capytale.egg-info``."""
    output = subprocess.run([*prefix, str(python), "-c", VERSIONS], capture_output=True, text=True, check=True,
                            cwd="/")
    return json.loads(output.stdout.strip().splitlines()[-1])


def pinned(list_file: Path = envs.PYTHON_LIST) -> dict[str, str]:
    pins = {}
    for requirement in envs.python_requirements(list_file):
        name, _, version = requirement.partition("==")
        pins[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version
    return pins


def test_the_environment_holds_every_pinned_version_of_the_list(students_env):
    seen = versions(students_env / "bin" / "python")
    for name, version in pinned().items():
        assert seen.get(name) == version, (name, seen.get(name), version)
    assert "capytale-kernels" in seen


def test_it_is_not_the_platforms_environment(students_env):
    python = students_env / "bin" / "python"
    found = subprocess.run([str(python), "-c", "import sys; print(sys.prefix); print(sys.path)"],
                           capture_output=True, text=True, check=True).stdout
    assert found.splitlines()[0] == str(students_env)
    assert sys.prefix not in found  # nothing of the platform's .venv on its path
    assert "flask" not in versions(python) and "flask" in versions(sys.executable)


def test_its_kernelspecs_start_its_own_interpreter(students_env):
    kernels = students_env / "share" / "jupyter" / "kernels"
    assert sorted(p.name for p in kernels.iterdir()) == ["ocaml", "python3", "sql"]
    for name in ("ocaml", "python3", "sql"):
        spec = json.loads((kernels / name / "kernel.json").read_text())
        assert spec["argv"][0] == str(students_env / "bin" / "python"), name
        assert spec["env"]["PATH"].startswith(f"{students_env}/bin:"), name
        assert spec["env"]["PYTHONPATH"] == "", name  # never the platform's code, which the image puts there


def test_the_digest_follows_the_list(tmp_path):
    extended = tmp_path / "python.txt"
    extended.write_text(envs.PYTHON_LIST.read_text() + "tabulate==0.9.0\n")
    assert envs.digest(extended) != envs.digest()
    assert envs.digest(envs.PYTHON_LIST) == envs.digest()
