"""The ``docker`` backend: each student's server is a container of the notebook image.

One container per student server, through the docker SDK:

- named ``<namespace>-n<node>-<user key>`` and labelled ``capytale.namespace``,
  ``capytale.node``, ``capytale.user_key``, ``capytale.instance``,
  ``capytale.started_at``: the agent finds its own containers by namespace and
  node, never another platform's or another node's on the same engine;
- three bind mounts: the student's workspace (read-write, at
  ``/home/eleve``) and the node's socket folder of that student
  (``<run root>/<node>/sockets/<key>/``, where the server's socket appears for
  CHP on the host), both given to the container's non-root user first; and,
  read-only, the node's revocations folder (``<run root>/<node>/revocations/``,
  the agent's list of ended sessions, see :mod:`services.spawner.jupyter.revoked`);
- a read-only root filesystem, a small ``/tmp`` in memory, no network unless
  ``DOCKER_NETWORK`` names one, every capability dropped, no new privileges,
  memory (without swap), CPU and process-count limits;
- the server's configuration is the image's own code
  (:mod:`services.spawner.jupyter.container`) given the spec on its command line
  and the grant public key in its environment: nothing is read from the
  workspace.

The proxy does not use the socket's path in the student's folder, where the student's code
(the server's user) could put a socket of its own: once the server answers, the agent gives
that socket a second name, a hard link in ``<run root>/<node>/routed/``, which no container
sees, and the route names that. The link leads to the socket the server bound whatever
becomes of the first name; a server that is killed takes its socket with it (the proxy then
meets a refused connection, never another server). The server also makes itself
non-dumpable (:mod:`services.spawner.jupyter.container`), so that its kernels, the same user,
cannot take its listening socket with ``pidfd_getfd`` or ``ptrace``.

A container that stopped is kept until the agent has saved its output to
``<run root>/<node>/<key>.log``, then removed.  :meth:`list_running` also removes
stopped containers of this node that no state file names.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Mount

from capytale.containers import Limits, confined, remove
from services.spawner import cgroups
from services.spawner.backends.base import Backend
from services.spawner.jupyter.container import KEY_VARIABLE, REVOCATIONS_DIR, SOCKET_DIR, WORKSPACE, container_spec
from services.spawner.jupyter.spec import ServerSpec, with_lab
from services.spawner.state import NodeDir, ServerHandle

log = logging.getLogger("capytale.spawner")

MIN_API_TIMEOUT = 30  # seconds a call to the engine may take at least (a stop waits for the container)
LOG_TAIL = 2000  # lines of a container's output kept in the node's log file
LABEL = "capytale."


def container_name(namespace: str, node: int, user_key: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in namespace).strip("-.") or "capytale"
    return f"{safe}-n{node}-{user_key}"


class DockerBackend(Backend):
    """Containers of the notebook image on one Docker engine, found again by their labels."""

    def __init__(self, node_dir: NodeDir, node: int, namespace: str, image: str, grant_public_key: Path,
                 extensions: tuple[str, ...], limits: Limits, network: str, user: str, spawn_timeout: float,
                 docker_url: str = "", secure_cookies: bool = False, autosave_interval: int = 10):
        self.node_dir = node_dir
        self.node = node
        self.namespace = namespace
        self.image = image
        self.grant_public_key = Path(grant_public_key)
        self.extensions = extensions
        self.limits = limits
        self.network = network
        self.uid, self.gid = (int(part) for part in user.split(":"))
        self.docker_url = docker_url
        self.secure_cookies = secure_cookies
        self.autosave_interval = autosave_interval
        self.api_timeout = max(MIN_API_TIMEOUT, spawn_timeout)  # a start's call to the engine may take SPAWN_TIMEOUT
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = (docker.DockerClient(base_url=self.docker_url, timeout=self.api_timeout, max_pool_size=16)
                            if self.docker_url else docker.from_env(timeout=self.api_timeout, max_pool_size=16))
        return self._client

    # --- the contract ------------------------------------------------------------------------

    def open(self) -> None:
        """Check the engine answers and holds the image (pulled from its registry when missing)."""
        self.client.ping()
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            log.info("notebook image %s not on this engine: pulling it", self.image)
            self.client.images.pull(self.image)
        log.info("docker backend ready: image %s, %d MiB, %.1f CPU, %d processes, network %s", self.image,
                 self.limits.memory_mb, self.limits.cpus, self.limits.pids, self.network)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def prepare_workspace(self, root_dir: Path) -> None:
        """What the platform wrote there (a new activity's copy) becomes the student's, who may change it."""
        _give(Path(root_dir), self.uid, self.gid)

    def start(self, user_key: str, root_dir: Path, base_url: str, instance: str, lab: bool = False) -> ServerHandle:
        socket_path = self.node_dir.socket_path(user_key, own_folder=True)  # alone in the folder the container gets
        socket_path.unlink(missing_ok=True)
        name = container_name(self.namespace, self.node, user_key)
        self._remove_named(name, user_key)  # what a server that died left behind
        socket_dir = Path(socket_path).parent
        socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _give(socket_dir, self.uid, self.gid)
        self.prepare_workspace(root_dir)
        spec = container_spec(ServerSpec(
            user_key=user_key, root_dir=str(root_dir), socket_path=str(socket_path), base_url=base_url, log_path="",
            runtime_dir="", grant_public_key="", students_env="", instance=instance, secure_cookies=self.secure_cookies,
            autosave_interval=self.autosave_interval,
            extensions=with_lab(self.extensions) if lab else self.extensions,
        ))
        started_at = time.time()
        container = self.client.containers.run(
            self.image, command=["--spec", json.dumps(spec.to_json())], name=name, detach=True,
            labels={f"{LABEL}namespace": self.namespace, f"{LABEL}node": str(self.node),
                    f"{LABEL}user_key": user_key, f"{LABEL}instance": instance,
                    f"{LABEL}started_at": repr(started_at)},
            environment={KEY_VARIABLE: self.grant_public_key.read_text()},
            mounts=[Mount(WORKSPACE, str(Path(root_dir).resolve()), type="bind"),
                    Mount(SOCKET_DIR, str(socket_dir.resolve()), type="bind"),
                    Mount(REVOCATIONS_DIR, str(self.node_dir.revocations_dir().resolve()), type="bind",
                          read_only=True)],
            network_mode=self.network, auto_remove=False,
            log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "2"}),
            **confined(self.limits, f"{self.uid}:{self.gid}"),
        )
        return ServerHandle(user_key=user_key, socket_path=str(socket_path), started_at=started_at,
                            instance=instance, container_id=container.id)

    def stop(self, handle: ServerHandle, timeout: float) -> None:
        try:
            container = self.client.containers.get(handle.container_id)
        except docker.errors.NotFound:
            return
        if container.status == "running":
            try:
                container.stop(timeout=max(1, round(timeout)))  # SIGTERM, then SIGKILL after timeout
            except docker.errors.NotFound:
                return
        self._keep_output(container, handle.user_key)
        remove(container)

    def is_alive(self, handle: ServerHandle) -> bool:
        if handle.container_id is None:
            return False
        try:
            state = self.client.api.inspect_container(handle.container_id)["State"]
        except docker.errors.NotFound:
            return False
        return bool(state.get("Running")) and not state.get("Restarting")

    def cpu_seconds(self, handle: ServerHandle) -> float | None:
        return None if handle.container_id is None else cgroups.container_cpu_seconds(handle.container_id)

    def list_running(self) -> list[ServerHandle]:
        running = []
        for container in self._containers():
            handle = self._handle(container)
            if container.status == "running":
                running.append(handle)
            elif container.status in ("exited", "dead") and not handle.same_server(self.node_dir.load(handle.user_key)):
                log.info("removing stopped container %s of %s that no server record names", container.name,
                         handle.user_key)
                self._keep_output(container, handle.user_key)
                remove(container)
        return running

    def memory_bytes(self, handles: list[ServerHandle]) -> int:
        total = 0
        for handle in handles:
            if handle.container_id is None:
                continue
            used = cgroups.container_memory_bytes(handle.container_id)
            if used is None:  # the agent does not see the engine's cgroups (it runs in a container)
                used = self._engine_memory_bytes(handle.container_id)
            total += used
        return total

    # --- helpers ---------------------------------------------------------------------------------

    def _containers(self) -> list[Any]:
        return self.client.containers.list(all=True, filters={"label": [
            f"{LABEL}namespace={self.namespace}", f"{LABEL}node={self.node}"]})

    def publish_socket(self, handle: ServerHandle) -> ServerHandle:
        """A hard link to the socket the server bound, out of every container's reach: the route's."""
        routed = self.node_dir.routed_socket(handle.user_key)
        if handle.socket_path == str(routed):  # published already (an adopted server): never again
            return handle
        routed.parent.mkdir(mode=0o700, exist_ok=True)
        routed.unlink(missing_ok=True)
        os.link(self.node_dir.socket_path(handle.user_key, own_folder=True), routed, follow_symlinks=False)
        return dataclasses.replace(handle, socket_path=str(routed))

    def _handle(self, container: Any) -> ServerHandle:
        labels = container.labels
        user_key = labels[f"{LABEL}user_key"]
        routed = self.node_dir.routed_socket(user_key)  # what a previous agent published, if it did
        socket_path = routed if routed.exists() else self.node_dir.socket_path(user_key, own_folder=True)
        return ServerHandle(user_key=user_key, socket_path=str(socket_path),
                            started_at=float(labels.get(f"{LABEL}started_at", "0")),
                            instance=labels.get(f"{LABEL}instance", ""), container_id=container.id)

    def _remove_named(self, name: str, user_key: str) -> None:
        try:
            container = self.client.containers.get(name)
        except docker.errors.NotFound:
            return
        if container.labels.get(f"{LABEL}namespace") != self.namespace:
            raise RuntimeError(f"container {name} exists and is not this platform's")
        log.info("removing the previous container %s of %s (%s)", name, user_key, container.status)
        if container.status == "running":
            container.stop(timeout=5)
        self._keep_output(container, user_key)
        remove(container)

    def _keep_output(self, container: Any, user_key: str) -> None:
        """The container's output (stdout and stderr) into the node's log of that student."""
        try:
            output = container.logs(tail=LOG_TAIL)
        except docker.errors.APIError:
            return
        path = self.node_dir.log_path(user_key)
        if path.exists():
            os.replace(path, path.with_name(path.name + ".1"))
        path.write_bytes(output)

    def _engine_memory_bytes(self, container_id: str) -> int:
        try:
            stats = self.client.api.stats(container_id, stream=False, one_shot=True)
        except docker.errors.APIError:
            return 0
        memory = stats.get("memory_stats", {})
        inactive = memory.get("stats", {}).get("total_inactive_file", memory.get("stats", {}).get("inactive_file", 0))
        return max(0, int(memory.get("usage", 0)) - int(inactive))


def _give(folder: Path, uid: int, gid: int) -> None:
    """Make ``folder`` and everything in it belong to ``uid:gid`` (only what does not yet).

    Never follows a link: a student's link to a folder of the host changes nothing there.
    """
    for parent, folders, files in os.walk(folder, followlinks=False):
        for name in [None, *folders, *files]:
            path = parent if name is None else os.path.join(parent, name)
            info = os.lstat(path)
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.lchown(path, uid, gid)
