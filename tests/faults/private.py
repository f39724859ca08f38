"""A RabbitMQ and a PostgreSQL of the fault tests' own, which they may stop and start again.

The machine's shared broker (127.0.0.1:5672) and database (5432) serve other tests and
people: a fault test never touches them.  Each part here listens on a free port of
127.0.0.1, keeps its data in a folder of its own, and is started and stopped through
a :class:`~capytale.stack.processes.Supervisor` (its own session, its log in a file,
stopped by its pid).  Stopping keeps the data, so that :meth:`start` again is a restart
on the same port and the same data, as an outage of the real thing would be.

- :class:`PrivateRabbitMQ`: ``rabbitmq-server`` under a node name of its own
  (``capytale-faults-<hex>@localhost``) with its own Erlang port mapper (``epmd``, on a
  free port: the machine's is left alone), no plugin (management off), logs to its output.
- :class:`PrivatePostgres`: a cluster made by ``initdb`` in a folder of ``/tmp``, trust
  authentication, served by ``postgres`` itself (as the ``postgres`` user when the tests
  run as root, which PostgreSQL refuses to be).
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pika
import psycopg

from capytale.stack.processes import Process, Supervisor, free_port, tcp_ready

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the script itself: /usr/sbin's wrapper changes user
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def missing_parts() -> list[str]:
    """What this machine lacks to run the private parts (empty: all there)."""
    missing = []
    if not Path(RABBITMQ_SERVER).exists():
        missing.append(RABBITMQ_SERVER)
    if shutil.which("epmd") is None:
        missing.append("epmd")
    if not POSTGRES_BINARIES:
        missing.append("/usr/lib/postgresql/*/bin")
    elif os.geteuid() == 0 and shutil.which("setpriv") is None:
        missing.append("setpriv (to run PostgreSQL as its own user)")
    return missing


class PrivateRabbitMQ:
    """One RabbitMQ node on ``127.0.0.1:<port>``, its data under ``root``."""

    def __init__(self, root: Path, supervisor: Supervisor):
        self.root = root
        self.supervisor = supervisor
        self.node = f"capytale-faults-{secrets.token_hex(4)}@localhost"
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.process: Process | None = None
        self.epmd: Process | None = None
        root.mkdir(parents=True, exist_ok=True)
        (root / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                                            "loopback_users.guest = true\n")
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's, which names the shared node

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": str(self.root),  # the Erlang cookie is made there
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_CRASH_DUMP": str(self.root / "erl_crash.dump"),  # not in the checkout
        })
        return env

    def answers(self) -> bool:
        """An AMQP connection opens (the broker has booted and listens)."""
        if not tcp_ready(self.port)():
            return False  # not even listening: spares pika's logged tracebacks
        params = pika.URLParameters(self.url)
        params.connection_attempts, params.socket_timeout, params.blocked_connection_timeout = 1, 2, 2
        try:
            pika.BlockingConnection(params).close()
            return True
        except (pika.exceptions.AMQPError, OSError):
            return False

    def start(self, timeout: float = 120.0) -> "PrivateRabbitMQ":
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the node (and its port mapper) without waiting for it to boot (:meth:`wait_ready`)."""
        if self.epmd is None or self.epmd.popen.poll() is not None:
            self.epmd = Process("epmd", [shutil.which("epmd"), "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                                self.env(), ready=tcp_ready(self.epmd_port))
            self.supervisor.start(self.epmd)
            self.supervisor.wait_ready([self.epmd], 30)
        self.process = Process("rabbitmq", [RABBITMQ_SERVER], self.env(), ready=self.answers)
        self.supervisor.start(self.process)

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.supervisor.wait_ready([self.process], timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (RabbitMQ's own graceful stop: connections are closed, queues kept), KILL after ``timeout``."""
        if self.process is not None:
            self.supervisor.stop(self.process, timeout)

    def close(self) -> None:
        self.stop()
        if self.epmd is not None:
            self.supervisor.stop(self.epmd)


class PrivatePostgres:
    """One PostgreSQL cluster on ``127.0.0.1:<port>``, in a folder of ``/tmp`` its user owns."""

    def __init__(self, supervisor: Supervisor):
        self.supervisor = supervisor
        self.bin = POSTGRES_BINARIES[-1]
        self.port = free_port()
        # short (the Unix socket's path) and reachable by the postgres user (pytest's tmp is root's only)
        self.root = Path(tempfile.mkdtemp(prefix="capytale-faults-pg-"))
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            # a change of user clears the parent-death signal the supervisor sets: setpriv sets it again after,
            # SIGINT (fast shutdown), so that a test run killed hard takes its database with it
            self.run_as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
                           "--pdeathsig", "INT", "--"]
        self.data = self.root / "data"
        self.process: Process | None = None
        subprocess.run([*self.run_as, str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                        "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def start(self, timeout: float = 60.0) -> "PrivatePostgres":
        argv = [*self.run_as, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                "-c", "fsync=off", "-c", "max_connections=200"]
        self.process = Process("postgres", argv, {**os.environ, "LC_ALL": "C.UTF-8"}, ready=self.answers)
        self.supervisor.start(self.process)
        self.supervisor.wait_ready([self.process], timeout)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT (PostgreSQL's fast shutdown: every client's connection is cut), KILL after ``timeout``."""
        process = self.process
        if process is None or process.popen.poll() is not None:
            return
        os.kill(process.pid, signal.SIGINT)
        try:
            process.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.supervisor.stop(process, 5)  # KILL to its session if still there; nothing when it has ended

    def create_database(self, name: str) -> str:
        """A new database ``name``; its SQLAlchemy URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, "postgresql+psycopg")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    """``check()``'s first true value within ``timeout`` seconds, else an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
