"""The notebook image's entry point: one student's server inside its container.

The docker backend starts the image with ``--spec <ServerSpec as JSON>`` and
the grant public key (PEM) in ``GRANT_PUBLIC_KEY_PEM``; nothing comes from the
student's workspace.  This module turns them into the same environment and
configuration as a server forked by the zygote (:mod:`.server`), then runs
it.  Inside the container the paths are fixed (below): the workspace and the
socket folder are the two read-write bind mounts, the node's revocations folder
the read-only one, everything else writable is ``/tmp``. The server makes itself
non-dumpable before it starts: its kernels run as its user, and must not reach into it.

With ``--pool`` the container is started before its student is known (the docker backend's
pool of warm containers, :mod:`services.spawner.backends.docker_pool`): it imports what a
server needs (:mod:`.warm`), starts its first kernel (:mod:`.prelaunch`), then waits on a
control socket in its socket folder for the one spec it will ever serve. Its ``/home/eleve``
is then an empty folder of its slot on the host, mounted with ``rslave`` propagation: the
agent mounts the student's workspace on it before sending the spec, and it appears there.
It answers ``{"ok": true}``, closes the control socket for good and runs the server in the
same process, already warm, with the same paths as a container started for its student.

Kept free of Jupyter imports at module level: the agent imports the constants.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import socket
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
CONTROL_NAME = "control.sock"
POOL_KERNELS = "/tmp/capytale-kernels-pool"  # a pooled container's kernels' folder, its warm kernel's first
CONTROL_MAX = 1 << 20  # bytes of a spec, at most
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


def wait_for_student() -> ServerSpec:
    """``--pool``: warm up, then take the one spec the agent sends on the slot's control socket.

    The socket is bound under a temporary name and renamed once listening: the agent takes the
    name's appearance for "ready". A request that is not a valid spec for a mounted workspace is
    refused and the next one awaited; the socket is closed and removed once a spec is taken."""
    from services.spawner.jupyter.warm import warm

    warm()
    _prelaunch_kernel()
    control = Path(SOCKET_DIR) / CONTROL_NAME
    binding = control.with_name(f".{CONTROL_NAME}")
    binding.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(binding))
    os.chmod(binding, 0o600)
    listener.listen(1)
    os.replace(binding, control)
    logging.getLogger("capytale.pool").info("warm: waiting for a student on %s", control)
    while True:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(10)
            try:
                spec = _read_spec(connection)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                with contextlib.suppress(OSError):
                    connection.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
                continue
            with contextlib.suppress(OSError):  # the agent gone meanwhile removes this container anyway
                connection.sendall(b'{"ok": true}\n')
        listener.close()
        control.unlink(missing_ok=True)
        return spec


def _prelaunch_kernel() -> None:
    """Start the server's warm kernel now (:mod:`.prelaunch`): the environment and the kernels' folder
    it would have from the server are known already, the student's paths inside being fixed."""
    from services.spawner.jupyter import prelaunch, server
    from services.spawner.jupyter.spec import kernels_dir

    ahead = ServerSpec(user_key="pool", root_dir=WORKSPACE, socket_path="", base_url="/", log_path="",
                       runtime_dir=RUNTIME_DIR, grant_public_key="", instance="", students_env=STUDENTS_ENV)
    env = server.environment(ahead, {name: value for name, value in os.environ.items() if name != KEY_VARIABLE})
    Path(RUNTIME_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
    Path(env["TMPDIR"]).mkdir(parents=True, exist_ok=True)
    Path(POOL_KERNELS).mkdir(mode=0o700)
    specs = server.StudentsKernelSpecs(folder=kernels_dir(STUDENTS_ENV))
    try:
        started = prelaunch.prelaunch("python3", specs.get_kernel_spec("python3"), Path(POOL_KERNELS), env,
                                      cwd=WORKSPACE)
    except Exception:  # noqa: BLE001 - without it, the server starts its warm kernel itself
        logging.getLogger("capytale.pool").exception("could not start the warm kernel ahead")
        return
    logging.getLogger("capytale.pool").info("warm kernel started ahead (pid %d)", started.process.pid)


def _read_spec(connection: socket.socket) -> ServerSpec:
    received = b""
    while not received.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk or len(received) > CONTROL_MAX:
            raise ValueError("incomplete request")
        received += chunk
    spec = ServerSpec.from_json(json.loads(received)["spec"])
    if spec.root_dir != WORKSPACE or not _workspace_mounted():
        raise ValueError(f"no workspace mounted at {WORKSPACE}")
    return spec


def _workspace_mounted() -> bool:
    """Whether the workspace is mounted on the slot's folder at ``/home/eleve``: two mounts there, the
    second over the first (``os.path.ismount`` cannot tell binds of one filesystem apart)."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return points.count(WORKSPACE) >= 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--spec", help="the ServerSpec, as JSON")
    given.add_argument("--pool", action="store_true", help="warm up, then wait for the spec on the slot's socket")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = wait_for_student() if args.pool else ServerSpec.from_json(json.loads(args.spec))
    kernel_sockets = Path(POOL_KERNELS) if args.pool else None
    if args.pool and not spec.warm_kernel:  # the node wants none: the kernel started ahead goes
        from services.spawner.jupyter import prelaunch

        prelaunch.discard()
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
    server.run(spec, kernel_sockets)


if __name__ == "__main__":
    main()
