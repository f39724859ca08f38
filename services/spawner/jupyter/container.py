"""The notebook image's entry point: one student's server inside its container.

The docker backend starts the image with ``--spec <ServerSpec as JSON>`` and
the grant public key (PEM) in ``GRANT_PUBLIC_KEY_PEM``; nothing comes from the
student's workspace.  This module turns them into the same environment and
configuration as a server forked by the zygote (:mod:`.server`), then runs
it.  Inside the container the paths are fixed (below): the workspace and the
socket folder are the two read-write bind mounts, the node's revocations folder
the read-only one, everything else writable is ``/tmp``. The server makes itself
non-dumpable before it starts: its kernels run as its user, and must not reach into it.

Kept free of Jupyter imports at module level: the agent imports the constants.
"""
from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

from services.spawner.jupyter.revoked import FILE_NAME as REVOKED_FILE
from services.spawner.jupyter.spec import ServerSpec

WORKSPACE = "/home/eleve"  # the student's workspace (read-write bind mount), the server's root_dir and HOME
SOCKET_DIR = "/capytale/socket"  # the node's socket folder of this student (read-write bind mount)
SOCKET_NAME = "jupyter.sock"
REVOCATIONS_DIR = "/capytale/revocations"  # the node's revocations folder (read-only bind mount)
STUDENTS_ENV = "/opt/students"  # the students' environment (capytale.stack.students_env), in the image
RUNTIME_DIR = "/tmp/runtime"  # on the container's tmpfs: kernel connection files, Jupyter's data, the key
KEY_VARIABLE = "GRANT_PUBLIC_KEY_PEM"
PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def container_spec(spec: ServerSpec) -> ServerSpec:
    """``spec`` (as the agent sees it, host paths) with the paths the server has inside its container."""
    return dataclasses.replace(spec, root_dir=WORKSPACE, socket_path=f"{SOCKET_DIR}/{SOCKET_NAME}", log_path="",
                               runtime_dir=RUNTIME_DIR, grant_public_key=f"{RUNTIME_DIR}/grant.pub",
                               students_env=STUDENTS_ENV, revocations_file=f"{REVOCATIONS_DIR}/{REVOKED_FILE}")


def not_dumpable() -> None:
    """Close this process to its own user's other processes (its kernels): no ``ptrace``, no
    ``pidfd_getfd`` of its listening socket, no ``/proc/<pid>/fd``. A kernel, a new program, is
    dumpable again: the server itself can still stop and signal it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="the ServerSpec, as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = ServerSpec.from_json(json.loads(args.spec))
    runtime = Path(spec.runtime_dir)
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.environ.pop(KEY_VARIABLE, "")
    if not key:
        sys.exit(f"{KEY_VARIABLE} is empty: the server could not verify any grant")
    Path(spec.grant_public_key).write_text(key)

    from services.spawner.jupyter import server

    base = dict(os.environ)  # the image's own (PATH, LANG, PYTHONPATH): the agent passes nothing else
    os.environ.clear()
    os.environ.update(server.environment(spec, base))
    os.chdir(spec.root_dir)
    not_dumpable()
    server.run(spec)


if __name__ == "__main__":
    main()
