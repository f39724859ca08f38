"""A notebook node for real: CHP, RabbitMQ, and the spawner agent in a subprocess.

Every process a test starts is stopped by its pid at teardown: CHP, each
agent and its zygote, and every student server (and kernel) found in the
node's state files.  Node numbers are random and large, so these tests never
meet another node's queue on the shared RabbitMQ; the queues are deleted at
the end.  An agent's log is attached to the report of a failed test.
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pika
import pytest
import requests

from capytale.messaging import Bus, Envelope, Topology
from capytale.stack.platform import NODE_PROXY
from capytale.stack.processes import free_port
from capytale.tokens import GrantSigner, Identity, ensure_development_keys, load_private_key
from services.spawner import mounts, procfs
from services.spawner.proxy import ChpClient

ROOT = Path(__file__).resolve().parents[2]
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
TOPOLOGY = Topology(f"capytale-test-{secrets.token_hex(4)}")  # never a running platform's queues
_user_numbers = itertools.count(1)
_LIVE_NODES: list["Node"] = []


def run_coroutine(coroutine, timeout: float = 60):
    """``coroutine`` run to its end on a loop of its own, in a thread: the browser tests' Playwright
    may hold a running loop in this one, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result(timeout=timeout)


def wait_until(condition, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met after {timeout}s")
        time.sleep(interval)


def kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- CHP -------------------------------------------------------------------------------------


@dataclass
class Chp:
    url: str
    api_url: str
    token: str
    process: subprocess.Popen

    def client(self) -> ChpClient:
        return ChpClient(self.api_url, self.token, attempts=2)

    def routes(self) -> dict[str, Any]:
        client = self.client()
        try:
            return client.routes()
        finally:
            client.close()


@pytest.fixture(scope="session")
def chp(tmp_path_factory) -> Iterator[Chp]:
    """One configurable-http-proxy on free loopback ports, with a random API token."""
    port, api_port, token = free_port(), free_port(), secrets.token_urlsafe(24)
    log = (tmp_path_factory.mktemp("chp") / "chp.log").open("w")
    process = subprocess.Popen(
        [*NODE_PROXY, "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1",
         "--api-port", str(api_port), "--log-level", "warn"],
        env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": token}, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    proxy = Chp(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}", token, process)

    def answers() -> bool:
        try:
            return requests.get(f"{proxy.url}/_chp_healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, 20, message="CHP answering")
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            kill_pid(process.pid)
            process.wait()
        log.close()


# --- the node ------------------------------------------------------------------------------------


@dataclass
class Node:
    """One node's folders and settings; agents come and go on it."""

    number: int
    var_dir: Path
    chp: Chp
    settings: dict[str, str] = field(default_factory=dict)
    agents: list["Agent"] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run" / str(self.number)

    def workspace(self, user_key: str) -> Path:
        return self.var_dir / "data" / "users" / user_key

    def route(self, user_key: str) -> str:
        return f"/n/{self.number}/u/{user_key}"

    def url(self, user_key: str, path: str = "") -> str:
        return f"{self.chp.url}{self.route(user_key)}/{path}"

    def state(self, user_key: str) -> dict[str, Any]:
        return json.loads((self.run_dir / f"{user_key}.json").read_text())

    def server_pids(self) -> list[int]:
        pids = []
        for path in self.run_dir.glob("*.json"):
            try:
                pids.append(int(json.loads(path.read_text())["pid"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return pids

    def start_agent(self, **settings: str) -> "Agent":
        env = {name: value for name, value in os.environ.items() if not name.startswith("CAPYTALE_")}
        env.update({
            "CAPYTALE_VAR_DIR": str(self.var_dir), "CAPYTALE_NODE": str(self.number),
            "CAPYTALE_AMQP_URL": AMQP_URL, "CAPYTALE_AMQP_NAMESPACE": TOPOLOGY.namespace,
            "CAPYTALE_CHP_API_URL": self.chp.api_url,
            "CAPYTALE_CHP_AUTH_TOKEN": self.chp.token, "CAPYTALE_LOG_LEVEL": "INFO",
            "CAPYTALE_SPAWN_TIMEOUT": "20",
        })
        env.update({f"CAPYTALE_{name}": str(value) for name, value in {**self.settings, **settings}.items()})
        log_path = self.var_dir / f"agent-{len(self.agents) + 1}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen([sys.executable, "-m", "services.spawner"], env=env, cwd=ROOT,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        agent = Agent(process, log_path)
        self.agents.append(agent)
        ready = f"node {self.number} ready: consuming {TOPOLOGY.node_queue(self.number)}"
        wait_until(lambda: ready in agent.log() or process.poll() is not None, 30, 0.05, "agent ready")
        assert process.poll() is None, f"agent exited:\n{agent.log()}"
        agent.zygote_pids = procfs.descendants(process.pid)
        return agent

    def stop_everything(self) -> None:
        for agent in self.agents:
            agent.kill()
        for pid in self.server_pids():
            for leftover in [pid, *procfs.descendants(pid)]:
                kill_pid(leftover)
        mounts.unmount_all_under(self.var_dir)  # a killed docker agent's pool (workspaces mounted)


@dataclass
class Agent:
    process: subprocess.Popen
    log_path: Path
    zygote_pids: list[int] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            kill_pid(self.process.pid)
            self.process.wait()
        for pid in self.zygote_pids:
            kill_pid(pid)


def _delete_queue(number: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(TOPOLOGY.node_queue(number))
    finally:
        connection.close()


@pytest.fixture(scope="module")
def make_node(chp, students_env, request) -> Iterator:
    """A factory of nodes with a random number, fresh folders and development keys."""
    made: list[Node] = []

    def make(**settings: str) -> Node:
        # short folder names: a Unix socket path holds at most 107 bytes
        var_dir = Path(tempfile.mkdtemp(prefix="cs-", dir="/tmp"))
        ensure_development_keys(var_dir / "keys")
        node = Node(random.randint(1000, 999_999), var_dir, chp, {"STUDENTS_ENV": str(students_env), **settings})
        made.append(node)
        _LIVE_NODES.append(node)
        return node

    yield make
    for node in made:
        _LIVE_NODES.remove(node)
        node.stop_everything()
        _delete_queue(node.number)
        shutil.rmtree(node.var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def node(make_node) -> Node:
    """A node with a running agent, shared by the tests of a module."""
    made = make_node(HEARTBEAT_INTERVAL="0.5")
    made.start_agent()
    return made


@pytest.fixture(scope="module")
def bus() -> Iterator[Bus]:
    connection = Bus(AMQP_URL, "tests-spawner", TOPOLOGY)
    assert connection.wait_ready(10), "RabbitMQ is not reachable at 127.0.0.1:5672"
    yield connection
    connection.close()


@pytest.fixture
def command(bus):
    """Send a command to a node and return the reply's body."""

    def send(node: Node, command_type: str, timeout: float = 30, **body: Any) -> dict[str, Any]:
        return bus.call_node(node.number, Envelope(command_type, body), timeout=timeout).body

    return send


@pytest.fixture
def student() -> Identity:
    """A new student (unique user key) for each test."""
    number = next(_user_numbers)
    return Identity(uid=f"eleve{number}", name=f"Élève n°{number}", role="student",
                    key=f"k{secrets.token_hex(8)}{number:03d}"[:20], sid=secrets.token_urlsafe(12))


def issue_grant(node: Node, server: str, visitor: Identity, now: float | None = None) -> str:
    """A grant, signed with ``node``'s development key, to open ``server``'s notebook server as ``visitor``
    (naming the server's current start, as the router does from the ``server.ensure`` reply, and the
    visitor's session: one of its own when ``visitor`` names none)."""
    visitor = visitor if visitor.sid else dataclasses.replace(visitor, sid=f"session-of-{visitor.key}")
    state = node.run_dir / f"{server}.json"
    instance = json.loads(state.read_text())["instance"] if state.exists() else "no-such-start"
    return GrantSigner(load_private_key(node.var_dir / "keys" / "grant.key")).issue(server, instance, visitor, now=now)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for node in _LIVE_NODES:
            logs = [agent.log_path for agent in node.agents] + sorted(node.run_dir.glob("*.log"))
            for log in logs:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                report.sections.append((f"log {log}", tail))
