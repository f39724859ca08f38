"""A kernel started before its server exists: the warm kernel of a pooled container.

A container of the docker backend's pool (:mod:`.container`, ``--pool``) waits for a student it
does not know yet; its server cannot be built before (its URL names the student), but its first
kernel can: the same kernelspec, the same environment and sockets folder as the server will give
it. :func:`prelaunch` starts it the way jupyter_client's local provisioner does (a connection file
in the kernels' folder, ``launch_kernel``), and once the server runs, its kernel manager adopts it
as its warm kernel (:class:`.server.StudentsKernelManager`): Jupyter then handles it as any kernel it
started itself (restarts launch a new process, as usual). Its cost, about a third of a CPU-second,
is paid while the container waits, not while a class arrives.

The kernel is the container's own and nobody's code has run in it: the container serves one
student, once. It runs in the workspace's mount point before the workspace is mounted there; the
first notebook that takes it moves it to its folder.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.launcher import launch_kernel

from services.spawner.jupyter import priority


@dataclass(frozen=True)
class Prelaunched:
    kernel_id: str
    kernel_name: str
    connection_file: str
    process: subprocess.Popen


_waiting: Prelaunched | None = None


def prelaunch(kernel_name: str, kernel_spec: KernelSpec, sockets_dir: Path, env: Mapping[str, str],
              cwd: str) -> Prelaunched:
    """Start a kernel of ``kernel_spec`` now, for the server this process becomes later."""
    global _waiting
    kernel_id = str(uuid.uuid4())
    connection_file = str(Path(sockets_dir) / f"kernel-{kernel_id}.json")  # the name the kernel manager gives it
    write_connection_file(connection_file, transport="ipc", ip=os.path.splitext(connection_file)[0] + "-ipc",
                          key=str(uuid.uuid4()).encode(), signature_scheme="hmac-sha256", kernel_name=kernel_name)
    argv = [argument.replace("{connection_file}", connection_file) for argument in kernel_spec.argv]
    process = launch_kernel(argv, env={**env, **kernel_spec.env}, cwd=cwd)
    priority.yield_cpu(process.pid)
    _waiting = Prelaunched(kernel_id, kernel_name, connection_file, process)
    return _waiting


def waiting() -> Prelaunched | None:
    """The kernel started ahead that no kernel manager has adopted yet (None once adopted)."""
    return _waiting


def adopt(connection_file: str) -> Prelaunched | None:
    """The kernel started ahead with ``connection_file``, given once, if it still runs."""
    global _waiting
    found = _waiting
    if found is None or found.connection_file != connection_file:
        return None
    _waiting = None
    return found if found.process.poll() is None else None


def discard() -> None:
    """Stop the kernel started ahead, if no kernel manager adopted it."""
    global _waiting
    found, _waiting = _waiting, None
    if found is not None and found.process.poll() is None:
        found.process.kill()
        found.process.wait()
