"""The ``process`` backend: each student's server is a process forked by the zygote.

The backend starts :mod:`services.spawner.zygote` once, with a clean
environment (none of the agent's settings or secrets reach a student's
server or kernels), and asks it over a socket pair for one fork per server.
Servers run in sessions of their own, so they outlive the agent and its
zygote and are adopted by the next agent through the state files; unless
``stop_servers_on_exit`` (``STOP_SERVERS_ON_EXIT``, ``make run``): then the
zygote, which ends with the agent (its control socket closes), takes every
server with it, even when the agent was killed hard.  Stopping
escalates SIGTERM → SIGKILL and then kills what the server left behind (its
kernels).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from services.spawner import procfs
from services.spawner.backends.base import Backend
from services.spawner.jupyter.revoked import FILE_NAME as REVOKED_FILE
from services.spawner.jupyter.spec import ServerSpec, kernels_dir, with_lab
from services.spawner.state import NodeDir, ServerHandle

log = logging.getLogger("capytale.spawner")

# What a server's environment keeps from the agent's: locale, time zone, where programs are.
PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV")
ZYGOTE_START_TIMEOUT = 60.0
DEFAULT_KERNEL = "python3"  # the kernelspec the kernels' zygote imitates


class ZygoteError(RuntimeError):
    """The zygote could not be started, or could not fork a server."""


class WarmProcess:
    """A process started with one end of a socket pair, which greets on it once ready and ends when the
    agent closes it (or dies: the kernel closes a dead process's sockets)."""

    name = "zygote"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._reader = None

    def command(self, control_fd: int) -> tuple[list[str], dict[str, str]]:
        """Its command line and environment."""
        raise NotImplementedError

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        argv, env = self.command(theirs.fileno())
        self._process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),))
        theirs.close()
        ours.settimeout(ZYGOTE_START_TIMEOUT)
        self._control, self._reader = ours, ours.makefile("rb")
        hello = self._read_line()
        if not hello.get("ready"):
            raise ZygoteError(f"unexpected greeting from the {self.name}: {hello}")
        log.info("%s %d ready", self.name, self._process.pid)

    def _ensure_running(self) -> None:
        """(Holding the lock) start it again if it died."""
        if self._process is None or self._process.poll() is not None:
            if self._process is not None:
                log.warning("%s %d died (code %s): starting another", self.name, self._process.pid,
                            self._process.returncode)
            self._close()
            self._start()

    def _read_line(self) -> dict:
        line = self._reader.readline()
        if not line:
            code = None if self._process is None else self._process.poll()
            raise ZygoteError(f"the {self.name} closed its control channel (exit code {code})")
        return json.loads(line)

    def close(self) -> None:
        """Close the control channel: the process exits, what it forked keeps running."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        for closable in (self._reader, self._control):
            if closable is not None:
                closable.close()
        self._reader = self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


def _passed_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}


class ZygoteClient(WarmProcess):
    """The agent's end of the servers' zygote: starts it, sends it spawn requests one at a time."""

    def __init__(self, log_level: str = "INFO", servers_die_with_it: bool = False):
        super().__init__()
        self.log_level = log_level
        self.servers_die_with_it = servers_die_with_it
        self._next_id = 0

    def command(self, control_fd: int) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-s", "-m", "services.spawner.zygote",
                "--control-fd", str(control_fd), "--log-level", self.log_level]
        if self.servers_die_with_it:
            argv.append("--servers-die-with-it")
        return argv, _passed_environment()

    def spawn(self, spec: ServerSpec, timeout: float) -> int:
        """Fork a server for ``spec``; its pid.  Restarts a zygote that died."""
        with self._lock:
            self._ensure_running()
            self._next_id += 1
            request = {"id": self._next_id, "spawn": spec.to_json()}
            assert self._control is not None
            self._control.settimeout(timeout)
            try:
                self._control.sendall(json.dumps(request).encode() + b"\n")
                reply = self._read_line()
            except OSError as exc:
                self._close()
                raise ZygoteError(f"lost the zygote while spawning {spec.user_key}: {exc}") from exc
        if reply.get("id") != request["id"] or "pid" not in reply:
            raise ZygoteError(reply.get("error") or f"unexpected reply from the zygote: {reply}")
        return int(reply["pid"])


# A Python kernelspec the kernels' zygote can imitate: <interpreter and its flags> -m ipykernel_launcher -f …
IPYKERNEL_LAUNCHER = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]


class KernelZygoteClient(WarmProcess):
    """The node's kernels' zygote (:mod:`services.spawner.kernel_zygote`), in the students' environment,
    imitating its Python kernelspec; servers ask it for kernels on ``socket_path`` themselves."""

    name = "kernels' zygote"

    def __init__(self, kernel_spec: Path, socket_path: Path, home: Path):
        super().__init__()
        spec = json.loads(Path(kernel_spec).read_text())
        argv = spec.get("argv", [])
        if argv[-len(IPYKERNEL_LAUNCHER):] != IPYKERNEL_LAUNCHER:
            raise ZygoteError(f"{kernel_spec}: not an ipykernel_launcher kernelspec")
        self.argv_prefix = argv[:-len(IPYKERNEL_LAUNCHER)]
        self.kernel_env = {name: str(value) for name, value in spec.get("env", {}).items()}
        self.socket_path = Path(socket_path)
        self.home = Path(home)

    def command(self, control_fd: int) -> tuple[list[str], dict[str, str]]:
        from services.spawner import kernel_zygote

        self.home.mkdir(mode=0o700, exist_ok=True)
        argv = [*self.argv_prefix, kernel_zygote.__file__, "--control-fd", str(control_fd),
                "--socket", str(self.socket_path), "--argv-prefix", json.dumps(self.argv_prefix)]
        return argv, {**_passed_environment(), "HOME": str(self.home), **self.kernel_env}

    def ensure_running(self) -> None:
        with self._lock:
            self._ensure_running()


class ProcessBackend(Backend):
    """Local processes forked by a zygote; state files are how servers are found again."""

    def __init__(self, node_dir: NodeDir, grant_public_key: Path, extensions: tuple[str, ...], students_env: Path,
                 spawn_timeout: float, secure_cookies: bool = False, autosave_interval: int = 10, log_level: str = "INFO",
                 stop_servers_on_exit: bool = False, warm_kernel: bool = True, kernel_zygote: bool = True):
        self.node_dir = node_dir
        self.students_env = Path(students_env).resolve()
        self.grant_public_key = Path(grant_public_key).resolve()
        self.extensions = extensions
        self.secure_cookies = secure_cookies
        self.autosave_interval = autosave_interval
        self.warm_kernel = warm_kernel
        self.spawn_timeout = spawn_timeout
        self.zygote = ZygoteClient(log_level, servers_die_with_it=stop_servers_on_exit)
        self.kernel_zygote: KernelZygoteClient | None = None
        self.use_kernel_zygote = kernel_zygote

    def start(self, user_key: str, root_dir: Path, base_url: str, instance: str, lab: bool = False) -> ServerHandle:
        socket_path = self.node_dir.socket_path(user_key)  # <node>/<key>.sock
        socket_path.unlink(missing_ok=True)
        extensions = with_lab(self.extensions) if lab else self.extensions
        spec = ServerSpec(
            user_key=user_key, root_dir=str(root_dir), socket_path=str(socket_path), base_url=base_url,
            log_path=str(self.node_dir.log_path(user_key)), runtime_dir=str(self.node_dir.runtime_dir(user_key)),
            grant_public_key=str(self.grant_public_key), extensions=extensions, students_env=str(self.students_env),
            secure_cookies=self.secure_cookies, autosave_interval=self.autosave_interval, instance=instance,
            revocations_file=str(self.node_dir.revocations_dir() / REVOKED_FILE), warm_kernel=self.warm_kernel,
            kernel_zygote=self._kernel_zygote_socket(),
        )
        started_at = time.time()
        pid = self.zygote.spawn(spec, timeout=self.spawn_timeout)
        return ServerHandle(user_key=user_key, socket_path=str(socket_path), started_at=started_at,
                            instance=instance, pid=pid)

    def stop(self, handle: ServerHandle, timeout: float) -> None:
        if handle.pid is None or not self.is_alive(handle):
            return
        leftovers = [(pid, procfs.start_time(pid)) for pid in procfs.descendants(handle.pid)]
        for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.kill(handle.pid, signum)
            except ProcessLookupError:
                break
            if self._wait_gone(handle, wait):
                break
            log.warning("server %d of %s still runs after %s", handle.pid, handle.user_key, signum.name)
        for pid, started in leftovers:  # kernels of a server that could not shut them down
            if started is not None and procfs.start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def is_alive(self, handle: ServerHandle) -> bool:
        return handle.pid is not None and procfs.is_running(handle.pid, started_by=handle.started_at)

    def cpu_seconds(self, handle: ServerHandle) -> float | None:
        return None if handle.pid is None else procfs.cpu_seconds(handle.pid)

    def list_running(self) -> list[ServerHandle]:
        return [handle for handle in self.node_dir.load_all() if self.is_alive(handle)]

    def memory_bytes(self, handles: list[ServerHandle]) -> int:
        """PSS (where Linux gives it) of each server and of everything below it."""
        children = procfs.children_map()
        total = 0
        for handle in handles:
            if handle.pid is not None and self.is_alive(handle):
                pids = [handle.pid, *procfs.descendants(handle.pid, children)]
                total += sum(procfs.memory_bytes(pid) for pid in pids)
        return total

    def open(self, busy=None) -> None:
        kernels = Path(kernels_dir(str(self.students_env)))
        if not kernels.is_dir():
            raise RuntimeError(f"no students' environment at {self.students_env} (no {kernels}): "
                               "python -m capytale.stack.students_env makes one (make deps does)")
        self.zygote.start()
        if self.use_kernel_zygote:
            try:
                self.kernel_zygote = KernelZygoteClient(kernels / DEFAULT_KERNEL / "kernel.json",
                                                        self.node_dir.kernel_zygote_socket(),
                                                        self.node_dir.kernel_zygote_home())
                self.kernel_zygote.start()
            except (OSError, ValueError, ZygoteError) as error:
                log.warning("no kernels' zygote (%s): every kernel starts cold", error)
                self.kernel_zygote = None

    def _kernel_zygote_socket(self) -> str:
        """The kernels' zygote's socket for a new server ("" without one: its kernels start cold)."""
        if self.kernel_zygote is None:
            return ""
        try:
            self.kernel_zygote.ensure_running()
        except (OSError, ZygoteError) as error:
            log.warning("the kernels' zygote does not start again (%s): this server's kernels start cold", error)
            return ""
        return str(self.kernel_zygote.socket_path)

    def close(self) -> None:
        self.zygote.close()
        if self.kernel_zygote is not None:
            self.kernel_zygote.close()

    def _wait_gone(self, handle: ServerHandle, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.is_alive(handle):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True
