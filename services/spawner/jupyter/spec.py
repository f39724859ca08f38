"""What the agent tells the zygote about one student's server (JSON over the control socket).

Kept free of Jupyter imports: the agent builds specs without loading Jupyter.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class ServerSpec:
    """Everything one student's server needs to know; travels as JSON to the zygote."""

    user_key: str
    root_dir: str
    socket_path: str
    base_url: str
    log_path: str
    runtime_dir: str
    grant_public_key: str
    instance: str  # the grants this server accepts name it
    students_env: str  # prefix of the students' environment: the server's kernels are its kernelspecs, only
    extensions: tuple[str, ...] = ("notebook",)
    secure_cookies: bool = False  # the public URL is https: cookies only travel encrypted
    autosave_interval: int = 10  # seconds between two autosaves of an open notebook
    revocations_file: str = ""  # the node's list of ended sessions (jupyter/revoked.py), read-only to the server
    warm_kernel: bool = True  # one kernel started with the server, for the first notebook (jupyter/server.py)
    kernel_zygote: str = ""  # socket of the node's kernels' zygote (process backend), "" for none

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ServerSpec":
        values = dict(data)
        values["extensions"] = tuple(values.get("extensions", ()))
        return cls(**values)


def kernels_dir(students_env: str) -> str:
    """The folder of a students' environment's kernelspecs (``capytale.stack.students_env`` writes them)."""
    return f"{students_env}/share/jupyter/kernels"


def parse_extensions(raw: str) -> tuple[str, ...]:
    """``"notebook, jupyterlab"`` → ``("notebook", "jupyterlab")``."""
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def with_lab(extensions: tuple[str, ...]) -> tuple[str, ...]:
    """``extensions`` plus JupyterLab (a teacher's own space): ``("notebook",)`` → ``("notebook", "jupyterlab")``."""
    return extensions if "jupyterlab" in extensions else (*extensions, "jupyterlab")
