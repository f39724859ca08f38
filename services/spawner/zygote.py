"""The zygote: one warm process that forks a Jupyter server per student.

A fresh ``jupyter server`` spends about two seconds importing Jupyter and
holds ~113 MiB; a child forked from a parent that has already imported it
answers in a fraction of a second and shares those pages.  The zygote is
started by the process backend (``python -m services.spawner.zygote
--control-fd N``) with a clean environment, imports and warms what a server
needs, then waits for requests on its control socket, one JSON object per
line::

    → {"id": 1, "spawn": {<ServerSpec>}}
    ← {"id": 1, "pid": 4242}        or  {"id": 1, "error": "…"}

It stays single-threaded (forking a threaded process is unsafe), reaps its
children as they exit, and exits when the control socket closes (the agent is
gone, however it ended: the kernel closes a dead process's sockets), leaving
the servers running for the next agent to adopt.  With ``--servers-die-with-it``
(the agent's ``STOP_SERVERS_ON_EXIT``, which ``make run`` sets), each server
asks the kernel for SIGTERM when the zygote ends instead: a killed agent takes
its zygote, and so its servers, with it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, NoReturn

from capytale import logs, parent_death
from services.spawner import forking
from services.spawner.jupyter import priority, server
from services.spawner.jupyter.warm import warm
from services.spawner.jupyter.spec import ServerSpec

log = logging.getLogger("capytale.spawner.zygote")

class Zygote:
    """Answers spawn requests on ``control`` by forking; reaps the children."""

    def __init__(self, control: socket.socket, servers_die_with_it: bool = False):
        self.control = control
        self.servers_die_with_it = servers_die_with_it
        self.pid = os.getpid()
        self.base_env = dict(os.environ)
        self._selector = selectors.DefaultSelector()
        self.children = forking.Children(self._selector)

    def serve(self) -> None:
        """Serve until the control socket closes."""
        self.children.watch()
        self._selector.register(self.control, selectors.EVENT_READ)
        pending = b""
        while True:
            for key, _events in self._selector.select():
                if self.children.woke(key):
                    self.reap()
                    continue
                data = self.control.recv(65536)
                if not data:
                    self.reap()
                    log.info("control channel closed: exiting, %d server(s) %s", len(self.children.pids),
                             "stop with it" if self.servers_die_with_it else "keep running")
                    return
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.control.sendall(json.dumps(self.answer(line)).encode() + b"\n")

    def answer(self, line: bytes) -> dict[str, Any]:
        request_id = None
        try:
            request = json.loads(line)
            request_id = request.get("id")
            spec = ServerSpec.from_json(request["spawn"])
            return {"id": request_id, "pid": self.spawn(spec)}
        except Exception as exc:  # noqa: BLE001 - the agent gets the error, the zygote goes on
            log.exception("spawn request failed")
            return {"id": request_id, "error": f"{type(exc).__name__}: {exc}"}

    def spawn(self, spec: ServerSpec) -> int:
        if threading.active_count() > 1:
            raise RuntimeError("the zygote has started a thread: refusing to fork")
        Path(spec.runtime_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_server(spec)
        self.children.pids.add(pid)
        log.info("forked server %d for %s", pid, spec.user_key)
        return pid

    def _become_server(self, spec: ServerSpec) -> NoReturn:
        """In the child: leave the zygote behind, then run the student's server until it stops."""
        code = 1
        try:
            if self.servers_die_with_it:  # first: the zygote may end any time (this is its only thread)
                parent_death.die_with_parent(signal.SIGTERM, self.pid)
            self.children.leave_behind()
            self.control.close()
            os.setsid()
            priority.yield_cpu()
            forking.name_process(f"jupyter-{spec.user_key}")
            _redirect_output(spec.log_path)
            os.environ.clear()
            os.environ.update(server.environment(spec, self.base_env))
            os.chdir(spec.root_dir)
            server.run(spec)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - whatever happens, the child must never return into the zygote
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def reap(self) -> None:
        for pid, status in self.children.reap():
            log.info("server %d exited (%s)", pid, _describe(status))


def _redirect_output(log_path: str) -> None:
    """stdin from /dev/null; stdout and stderr to the server's log file (the previous run's kept as ``.1``)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if os.path.exists(log_path):
        os.replace(log_path, log_path + ".1")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control-fd", type=int, required=True, help="file descriptor of the control socket")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--servers-die-with-it", action="store_true",
                        help="each server gets SIGTERM when the zygote ends (else servers outlive it)")
    args = parser.parse_args(argv)
    logs.configure("spawner.zygote", args.log_level)
    control = socket.socket(fileno=args.control_fd)
    warm()
    control.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    try:
        Zygote(control, servers_die_with_it=args.servers_die_with_it).serve()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
