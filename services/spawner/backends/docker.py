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

With ``DOCKER_POOL`` above 0, a student's server is, when one is ready, a warm container of
the node's pool (:mod:`.docker_pool`) given to that student: same image, limits, confinement
and revocations mount, the workspace mounted into it at that moment, its sockets in the slot's
folder; otherwise (an empty pool, a teacher's JupyterLab) a container started for them as above.
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

from capytale import containers
from capytale.containers import Limits, confined, remove
from services.spawner import cgroups
from services.spawner.backends.base import Backend
from services.spawner.backends.docker_pool import POOL_FOLDER, ContainerPool, Slot
from services.spawner.jupyter.container import (
    KEY_VARIABLE, REVOCATIONS_DIR, SOCKET_DIR, WORKSPACE, container_spec,
)
from services.spawner.jupyter.spec import ServerSpec, with_lab
from services.spawner.state import NodeDir, ServerHandle

log = logging.getLogger("capytale.spawner")

MIN_API_TIMEOUT = 30  # seconds a call to the engine may take at least (a stop waits for the container)
LOG_TAIL = 2000  # lines of a container's output kept in the node's log file
LABEL = "capytale."
# CPU weight of a warm container while it warms up and waits (Docker's default, 1024, once given): the
# refill takes only what the node's students leave.
WAITING_CPU_SHARES = 64
GIVEN_CPU_SHARES = 1024


def container_name(namespace: str, node: int, user_key: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in namespace).strip("-.") or "capytale"
    return f"{safe}-n{node}-{user_key}"


class DockerBackend(Backend):
    """Containers of the notebook image on one Docker engine, found again by their labels."""

    def __init__(self, node_dir: NodeDir, *, node: int, namespace: str, image: str, grant_public_key: Path,
                 extensions: tuple[str, ...], limits: Limits, network: str, user: str, spawn_timeout: float,
                 docker_url: str, secure_cookies: bool, autosave_interval: int, pool_size: int, warm_kernel: bool):
        """Every value comes from the settings (:func:`services.spawner.backends.make_backend`): their
        defaults live in the catalogue only."""
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
        self.warm_kernel = warm_kernel
        self.api_timeout = max(MIN_API_TIMEOUT, spawn_timeout)  # a start's call to the engine may take SPAWN_TIMEOUT
        self._client: docker.DockerClient | None = None
        self.pool = ContainerPool(node_dir.path / POOL_FOLDER, pool_size, self.uid, self.gid, launch=self._launch_pooled,
                                  discard=self._discard, running=self._running)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = (docker.DockerClient(base_url=self.docker_url, timeout=self.api_timeout, max_pool_size=16)
                            if self.docker_url else docker.from_env(timeout=self.api_timeout, max_pool_size=16))
        return self._client

    # --- the contract ------------------------------------------------------------------------

    def open(self, busy=None) -> None:
        """Check the engine answers and holds the image (pulled from its registry when missing); rebuild
        the pool (the never-given containers a previous agent left are removed) and refill it."""
        self.client.ping()
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            log.info("notebook image %s not on this engine: pulling it", self.image)
            self.client.images.pull(self.image)
        if self.pool.size > 0 or self.pool.root.exists():
            free = {containers.labels(c)[f"{LABEL}pool"]: c.id for c in self._containers()
                    if f"{LABEL}pool" in containers.labels(c) and self.pool.given(containers.labels(c)[f"{LABEL}pool"]) is None}
            self.pool.open(free, busy)
        log.info("docker backend ready: image %s, %d MiB, %.1f CPU, %d processes, network %s, pool of %d", self.image,
                 self.limits.memory_mb, self.limits.cpus, self.limits.pids, self.network, self.pool.size)

    def close(self) -> None:
        if self.pool.size > 0 or self.pool.root.exists():
            self.pool.close()
        if self._client is not None:
            self._client.close()
            self._client = None

    def prepare_workspace(self, root_dir: Path) -> None:
        """What the platform wrote there (a new activity's copy) becomes the student's, who may change it."""
        _give(Path(root_dir), self.uid, self.gid)

    def start(self, user_key: str, root_dir: Path, base_url: str, instance: str, lab: bool = False) -> ServerHandle:
        name = container_name(self.namespace, self.node, user_key)
        self._remove_named(name, user_key)  # what a server that died left behind
        self.prepare_workspace(root_dir)
        spec = ServerSpec(
            user_key=user_key, root_dir=str(root_dir), socket_path="", base_url=base_url, log_path="",
            runtime_dir="", grant_public_key="", students_env="", instance=instance, secure_cookies=self.secure_cookies,
            autosave_interval=self.autosave_interval, warm_kernel=self.warm_kernel,
            extensions=with_lab(self.extensions) if lab else self.extensions,
        )
        slot = None if lab else self.pool.take()  # a teacher's JupyterLab is not what pooled servers imported
        if slot is not None:
            try:
                return self._give(slot, name, root_dir, spec)
            except Exception as exc:  # noqa: BLE001 - a cold start still serves the student
                log.warning("warm container %s could not take %s (%s): starting a new one", slot.container_id[:12],
                            user_key, exc)
                self._discard(slot.container_id)
                self.pool.release(slot.id)
        return self._start_cold(name, root_dir, spec)

    def _start_cold(self, name: str, root_dir: Path, spec: ServerSpec) -> ServerHandle:
        """A container started for this student: the image's entry point given the spec."""
        socket_path = self.node_dir.socket_path(spec.user_key, own_folder=True)  # alone in the folder it gets
        socket_path.unlink(missing_ok=True)
        socket_dir = Path(socket_path).parent
        socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _give(socket_dir, self.uid, self.gid)
        started_at = time.time()
        container = self._run(
            ["--spec", json.dumps(container_spec(spec).to_json())], name,
            {f"{LABEL}user_key": spec.user_key, f"{LABEL}instance": spec.instance, f"{LABEL}started_at": repr(started_at)},
            [Mount(WORKSPACE, str(Path(root_dir).resolve()), type="bind"),
             Mount(SOCKET_DIR, str(socket_dir.resolve()), type="bind")])
        return ServerHandle(user_key=spec.user_key, socket_path=str(socket_path), started_at=started_at,
                            instance=spec.instance, container_id=container.id)

    def _give(self, slot: Slot, name: str, root_dir: Path, spec: ServerSpec) -> ServerHandle:
        """A warm container of the pool made this student's: named after them, their workspace mounted in."""
        started_at = time.time()
        self.client.api.rename(slot.container_id, name)
        self.client.api.update_container(slot.container_id, cpu_shares=GIVEN_CPU_SHARES)
        self.pool.give(slot, root_dir, container_spec(spec),
                       {"user_key": spec.user_key, "instance": spec.instance, "started_at": started_at})
        log.info("gave warm container %s to %s", slot.container_id[:12], spec.user_key)
        return ServerHandle(user_key=spec.user_key, socket_path=str(slot.server_socket), started_at=started_at,
                            instance=spec.instance, container_id=slot.container_id)

    def _launch_pooled(self, slot: Slot) -> str:
        """A container for the pool: warm, waiting on ``slot``'s control socket for a student."""
        container = self._run(
            ["--pool"], f"{container_name(self.namespace, self.node, 'pool')}-{slot.id}",
            {f"{LABEL}pool": slot.id, f"{LABEL}started_at": repr(time.time())},
            [Mount(WORKSPACE, str(slot.workspace.resolve()), type="bind", propagation="rslave"),
             Mount(SOCKET_DIR, str(slot.socket_dir.resolve()), type="bind")],
            cpu_shares=WAITING_CPU_SHARES)
        return container.id

    def _run(self, command: list[str], name: str, labels: dict[str, str], mounts: list[Mount], **options: Any) -> Any:
        """A container of the image, confined: the node's labels, the revocations mount, the limits."""
        return self.client.containers.run(
            self.image, command=command, name=name, detach=True,
            labels={f"{LABEL}namespace": self.namespace, f"{LABEL}node": str(self.node), **labels},
            environment={KEY_VARIABLE: self.grant_public_key.read_text()},
            mounts=[*mounts, Mount(REVOCATIONS_DIR, str(self.node_dir.revocations_dir().resolve()), type="bind",
                                   read_only=True)],
            network_mode=self.network, auto_remove=False,
            log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "2"}),
            **confined(self.limits, f"{self.uid}:{self.gid}"), **options,
        )

    def _discard(self, container_id: str) -> None:
        """Remove a container (a pooled one, or a gift that failed), running or not."""
        try:
            remove(self.client.containers.get(container_id))
        except docker.errors.NotFound:
            pass

    def _running(self, container_id: str) -> bool:
        """Whether the container runs (and is not being restarted): a server's, or a warm one's."""
        try:
            state = self.client.api.inspect_container(container_id)["State"]
        except docker.errors.NotFound:
            return False
        return bool(state.get("Running")) and not state.get("Restarting")

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
        self._release_slot(container)

    def _release_slot(self, container: Any) -> None:
        """A given pooled container is gone: its slot (the workspace's mount, the folder) goes too."""
        slot_id = containers.labels(container).get(f"{LABEL}pool")
        if slot_id:
            self.pool.release(slot_id)

    def is_alive(self, handle: ServerHandle) -> bool:
        return handle.container_id is not None and self._running(handle.container_id)

    def cpu_seconds(self, handle: ServerHandle) -> float | None:
        return None if handle.container_id is None else cgroups.container_cpu_seconds(handle.container_id)

    def list_running(self) -> list[ServerHandle]:
        running = []
        for container in self._containers():
            handle = self._handle(container)
            if handle is None:  # a warm container of the pool, nobody's server (the pool looks after it)
                continue
            if container.status == "running":
                running.append(handle)
            elif container.status in ("exited", "dead") and not handle.same_server(self.node_dir.load(handle.user_key)):
                log.info("removing stopped container %s of %s that no server record names", containers.name(container),
                         handle.user_key)
                self._keep_output(container, handle.user_key)
                remove(container)
                self._release_slot(container)
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
        """This node's containers, as the engine lists them (``sparse``: not inspected one by one, which
        the reconciliation every 10 s did for each of the node's dozens of containers)."""
        return self.client.containers.list(all=True, sparse=True, filters={"label": [
            f"{LABEL}namespace={self.namespace}", f"{LABEL}node={self.node}"]})

    def publish_socket(self, handle: ServerHandle) -> ServerHandle:
        """A hard link to the socket the server bound, out of every container's reach: the route's."""
        routed = self._routed_socket(handle)
        if handle.socket_path == str(routed):  # published already (an adopted server): never again
            return handle
        routed.parent.mkdir(mode=0o700, exist_ok=True)
        routed.unlink(missing_ok=True)
        os.link(handle.socket_path, routed, follow_symlinks=False)
        return dataclasses.replace(handle, socket_path=str(routed))

    def _routed_socket(self, handle: ServerHandle) -> Path:
        """Where the route's name of the server's socket is: the node's ``routed/``, or for a warm
        container of the pool its slot's folder (the slots' folder may be a mount of its own, and a
        hard link cannot leave it)."""
        path = Path(handle.socket_path)
        if self.pool.root in path.parents:  # <pool>/<slot>/m/socket/jupyter.sock, or <pool>/<slot>/jupyter.sock
            return self.pool.slot(path.relative_to(self.pool.root).parts[0]).routed_socket
        return self.node_dir.routed_socket(handle.user_key)

    def _handle(self, container: Any) -> ServerHandle | None:
        """The server a container of this node is, from its labels (a given pooled container: from its
        slot's record); None for a warm container not given yet."""
        labels = containers.labels(container)
        slot_id = labels.get(f"{LABEL}pool")
        if slot_id:
            given = self.pool.given(slot_id)
            if given is None or given.get("container_id") != container.id:
                return None
            slot = self.pool.slot(slot_id)
            socket_path = slot.routed_socket if slot.routed_socket.exists() else slot.server_socket
            return ServerHandle(user_key=given["user_key"], socket_path=str(socket_path),
                                started_at=float(given["started_at"]), instance=given["instance"],
                                container_id=container.id)
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
        if containers.labels(container).get(f"{LABEL}namespace") != self.namespace:
            raise RuntimeError(f"container {name} exists and is not this platform's")
        log.info("removing the previous container %s of %s (%s)", name, user_key, container.status)
        if container.status == "running":
            container.stop(timeout=5)
        self._keep_output(container, user_key)
        remove(container)
        self._release_slot(container)

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

