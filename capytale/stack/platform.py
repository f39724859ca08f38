"""The whole platform on one machine: what ``make run``, the tests and the benchmark start.

Order: keys, then auth, activities and router (gunicorn), then each node (its CHP
and its spawner), then HAProxy in front. Everything listens on 127.0.0.1. Browsers
reach the platform at ``http://127.0.0.1:<port>`` and each student's server at
``http://<user key>.nb.localhost:<port>``: names under ``localhost`` are the loopback
(browsers resolve them so themselves), and each is an origin, and a site, apart.
``stop()`` stops every process it started, by pid, and any student server the
spawners left behind (their pids are in the run root's state files).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import requests

from capytale.messaging import Topology, delete_topology
from capytale.settings import load, notebook_origins, notebook_url, usable_cpus
from capytale.stack import haproxy, haproxy_errors
from capytale.stack.dockerd import remove_containers
from capytale.stack.processes import Process, Supervisor, free_port, http_ready
from capytale.stack.students_env import ensure_students_env
from capytale.tokens import ensure_development_keys
from services.spawner import mounts
from services.spawner.backends.docker_pool import ready_slots

REPO = Path(__file__).resolve().parents[2]
# A node's proxy: configurable-http-proxy (node_modules/, make deps), with a keep-alive agent to the
# students' sockets (services/spawner/chp.mjs says why)
NODE_PROXY = ("node", str(REPO / "services" / "spawner" / "chp.mjs"))
GUNICORN_CONFIG = "python:capytale.gunicorn_conf"  # its limits above HAProxy's (the module says why)
SERVICES = {  # name -> (gunicorn app, settings service)
    "auth": "services.auth:create_app()",
    "activities": "services.activities:create_app()",
    "router": "services.router:create_app()",
}


@dataclass
class PlatformConfig:
    var_dir: Path
    http_port: int = 8080
    nodes: int = 4
    workers: int = 2  # gunicorn workers per service
    threads: int = 16  # threads per worker (the router waits on spawns)
    base_port: int | None = None  # consecutive internal ports from here; None: free ports
    env: dict[str, str] = field(default_factory=dict)  # extra CAPYTALE_* settings
    log_dir: Path | None = None  # None: prefixed lines on the terminal
    access_log: bool = False


class LocalPlatform:
    def __init__(self, config: PlatformConfig, terminal: TextIO | None = None):
        self.config = config
        self.var_dir = config.var_dir.resolve()
        self.supervisor = Supervisor(config.log_dir, terminal)
        self.url = f"http://127.0.0.1:{config.http_port}"
        self.notebook_url = config.env.get("CAPYTALE_NOTEBOOK_URL") or f"http://{{key}}.nb.localhost:{config.http_port}"
        self._ports = iter(range(config.base_port, config.base_port + 100)) if config.base_port else None
        self.chp_tokens: dict[int, str] = {}
        self.chp_api: dict[int, str] = {}
        self.processes: dict[str, Process] = {}

    # --- the environment ----------------------------------------------------------------

    def _port(self) -> int:
        return next(self._ports) if self._ports is not None else free_port()

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPYTALE_")}
        env.update({
            "CAPYTALE_VAR_DIR": str(self.var_dir),
            "CAPYTALE_PUBLIC_URL": self.url,
            "CAPYTALE_NOTEBOOK_URL": self.notebook_url,
            "CAPYTALE_NODES": str(self.config.nodes),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.config.env)
        return env

    # --- start and stop ------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> "LocalPlatform":
        ensure_development_keys(self.var_dir / "keys")
        if self.config.env.get("CAPYTALE_SPAWNER_BACKEND", "process") == "process":
            # students' kernels run on their own environment, made once per list (a container has its own)
            self.config.env.setdefault("CAPYTALE_STUDENTS_ENV", str(ensure_students_env(
                lambda line: print(line, file=sys.stderr, flush=True))))
        else:  # grading runs in containers of the same image: a kernel each run, no network
            self.config.env.setdefault("CAPYTALE_GRADING_RUNNER", "docker")
        try:
            self._start_services(timeout)
            self._start_nodes(timeout)
            self._start_haproxy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_services(self, timeout: float) -> None:
        ports = {name: self._port() for name in SERVICES}
        env = self.base_env()
        if not env.get("CAPYTALE_CAS_SERVER_URL"):  # with an ENT's CAS, its login only
            env.setdefault("CAPYTALE_DEV_LOGIN", "true")
        env["CAPYTALE_ACTIVITIES_URL"] = f"http://127.0.0.1:{ports['activities']}"
        started = []
        for name, app in SERVICES.items():
            argv = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
                    "--workers", str(self.config.workers), "--threads", str(self.config.threads),
                    "--bind", f"127.0.0.1:{ports[name]}", "--graceful-timeout", "5", "--timeout", "120",
                    "--name", f"capytale-{name}", "--no-control-socket",
                    "--config", GUNICORN_CONFIG, app]
            process = Process(name, argv, env, ready=http_ready(f"http://127.0.0.1:{ports[name]}/_health"))
            started.append(self.supervisor.start(process))
            self.processes[name] = process
        self.service_ports = ports
        self.supervisor.wait_ready(started, timeout)

    def _start_nodes(self, timeout: float) -> None:
        self.node_ports: dict[int, int] = {}
        chps, spawners = [], []
        router = f"http://127.0.0.1:{self.service_ports['router']}"
        for node in range(1, self.config.nodes + 1):
            port, api_port, token = self._port(), self._port(), secrets.token_urlsafe(24)
            self.node_ports[node] = port
            self.chp_tokens[node] = token
            self.chp_api[node] = f"http://127.0.0.1:{api_port}"
            env = self.base_env()
            env["CONFIGPROXY_AUTH_TOKEN"] = token
            chp = Process(f"chp{node}", [*NODE_PROXY, "--ip", "127.0.0.1", "--port", str(port),
                                         "--api-ip", "127.0.0.1", "--api-port", str(api_port),
                                         "--error-target", f"{router}/s/_proxy-error/",
                                         "--log-level", "warn"],
                          env, ready=http_ready(f"http://127.0.0.1:{port}/_chp_healthz"))
            chps.append(self.supervisor.start(chp))
            self.processes[chp.name] = chp
        self.supervisor.wait_ready(chps, timeout)
        for node in range(1, self.config.nodes + 1):
            spawners.append(self.start_spawner(node))
        self.supervisor.wait_ready(spawners, timeout)

    def spawner_env(self, node: int) -> dict[str, str]:
        env = self.base_env()
        env.update({
            "CAPYTALE_NODE": str(node),
            "CAPYTALE_CHP_API_URL": self.chp_api[node],
            "CAPYTALE_CHP_AUTH_TOKEN": self.chp_tokens[node],
        })
        env.setdefault("CAPYTALE_STOP_SERVERS_ON_EXIT", "true")
        # the nodes share this machine's CPUs: together they start no more servers at once than it has
        env.setdefault("CAPYTALE_SPAWN_PARALLEL", str(max(1, usable_cpus() // self.config.nodes)))
        return env

    def start_spawner(self, node: int) -> Process:
        """Start (or start again) node ``node``'s spawner; ready once it consumes its queue."""
        process = Process(f"spawner{node}", [sys.executable, "-m", "services.spawner"], self.spawner_env(node),
                          log_line=lambda line, n=node: f"node {n} ready" in line)
        self.supervisor.start(process)
        self.processes[process.name] = process
        return process

    def start_again(self, name: str, timeout: float = 60.0) -> Process:
        """Start process ``name`` (``activities``, ``chp2``, ``spawner2``…) again once it has ended, as it was
        first started (same command line, environment and ports); returns once it is ready as it was then.

        What a supervisor does after a crash: the fault tests kill a part by its pid and bring it back."""
        ended = self.processes[name]
        if ended.popen is not None and ended.popen.poll() is None:
            raise RuntimeError(f"{name} is still running (pid {ended.pid})")
        process = Process(ended.name, ended.argv, ended.env, ready=ended.ready, log_line=ended.log_line)
        self.supervisor.start(process)
        self.processes[name] = process
        self.supervisor.wait_ready([process], timeout)
        return process

    def _start_haproxy(self, timeout: float) -> None:
        layout = haproxy.Layout(
            bind=("127.0.0.1", self.config.http_port),
            services={name: [("127.0.0.1", port)] for name, port in self.service_ports.items()},
            nodes={node: ("127.0.0.1", port) for node, port in self.node_ports.items()},
            errors=str(haproxy_errors.write(self.var_dir / "haproxy-errors")),
            notebooks=(haproxy.NotebookOrigin.of(self.notebook_url, self.url)
                       if notebook_origins(self.notebook_url, self.url) else None),
        )
        config_path = self.var_dir / "haproxy.cfg"
        config_path.write_text(haproxy.render(layout, access_log=self.config.access_log))
        haproxy_bin = shutil.which("haproxy") or "/usr/sbin/haproxy"
        process = Process("haproxy", [haproxy_bin, "-db", "-f", str(config_path)], self.base_env(),
                          ready=self._every_service_routed)
        self.supervisor.start(process)
        self.processes["haproxy"] = process
        self.supervisor.wait_ready([process], timeout)

    def _every_service_routed(self) -> bool:
        """Each service answers through HAProxy (its own answer, not HAProxy's 503)."""
        return all(http_ready(self.url + path, expect)() for path, expect in (
            ("/auth/whoami", 401), ("/activities/", 302), ("/s/_", 302)))

    def stop(self, forget_messaging: bool = False) -> None:
        """Stop everything; ``forget_messaging`` also deletes this platform's queues (tests)."""
        self.supervisor.stop_all()
        self.stop_leftover_servers()
        spawner = load("spawner", environ=self.base_env())
        if spawner["SPAWNER_BACKEND"] == "docker":  # containers the spawners left: this platform's only
            try:
                remove_containers(spawner["DOCKER_URL"], spawner["AMQP_NAMESPACE"])
            finally:  # an engine that does not answer leaves containers, never mounts
                mounts.unmount_all_under(self.var_dir / "run")  # a killed spawner's warm containers' slots
        if forget_messaging:
            settings = load("router", environ=self.base_env())
            delete_topology(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"]), self.config.nodes)

    def stop_leftover_servers(self) -> list[int]:
        """Student servers whose spawner could not stop them: stopped by their recorded pid."""
        stopped = []
        for state in (self.var_dir / "run").glob("*/*.json"):
            try:
                pid = int(json.loads(state.read_text()).get("pid") or 0)  # 0: a container (see stop)
            except (ValueError, OSError):
                continue
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                    stopped.append(pid)
                except ProcessLookupError:
                    pass
        return stopped

    # --- for tests and the benchmark -------------------------------------------------------

    def wait_pools_full(self, timeout: float) -> bool:
        """Wait until every node's pool of warm containers (docker backend, ``DOCKER_POOL``) is full, each
        container in its node's pool (its slot's ``ready``); whether it is (nothing to wait for on the process backend)."""
        spawner = load("spawner", environ=self.base_env())
        wanted = spawner["DOCKER_POOL"] * self.config.nodes if spawner["SPAWNER_BACKEND"] == "docker" else 0
        deadline = time.monotonic() + timeout
        nodes = [self.var_dir / "run" / str(node) for node in range(1, self.config.nodes + 1)]
        while sum(len(ready_slots(node)) for node in nodes) < wanted:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def wait_nodes_routed(self, timeout: float = 30.0) -> None:
        """Wait until HAProxy reaches every node's CHP."""
        deadline = time.monotonic() + timeout
        for node in self.node_ports:
            probe = f"{notebook_url(self.notebook_url, 'probe')}/n/{node}/u/probe/"
            while requests.get(probe, timeout=2).status_code == 503:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {node} not reachable through HAProxy")
                time.sleep(0.2)
