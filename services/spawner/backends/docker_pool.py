"""The docker backend's pool of warm containers: started before their student is known.

A container of the notebook image spends about 1.6 CPU-seconds importing Jupyter before it
can answer; under a class, those seconds are what students wait for. So each node keeps up to
``DOCKER_POOL`` containers started ahead (``--pool``, :mod:`services.spawner.jupyter.container`),
each holding an imported server that waits for its student on a control socket, and gives one
to the next student who needs a server:

1. the student's workspace is bind-mounted on the host at ``<slot>/m/eleve``; the container
   holds that folder at ``/home/eleve`` with ``rslave`` propagation, so the workspace appears
   there, and nothing else does (the slot's folder is new, its own);
2. the container is renamed after the student (``<namespace>-n<k>-<key>``) and the gift
   recorded in ``<slot>/given.json``, beside the mount and out of the container's reach;
3. the spec goes over the control socket; the server starts in the process that imported it.

A container serves one student, once: when that server stops, the container is removed, the
workspace unmounted and the slot's folder deleted. The pool is refilled by one thread per node,
one container at a time, and only while the node starts no server (``busy``): a class arriving
takes the warm containers, then cold starts; the refill waits until the class is in. Containers
that were never given are removed when the agent stops, and by the next agent when it opens
(it rebuilds the pool); given ones are adopted like any server (their slot's ``given.json``
names the student).

The slots' folder ``<node>/pool/`` must be a shared mount for Docker to accept ``rslave``
(:func:`services.spawner.mounts.ensure_shared` binds it on itself where the host's mount is
private); the agent needs ``CAP_SYS_ADMIN`` for the mounts.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from services.spawner import mounts
from services.spawner.jupyter.container import CONTROL_NAME, SOCKET_NAME
from services.spawner.jupyter.spec import ServerSpec

log = logging.getLogger("capytale.spawner.pool")

READY_TIMEOUT = 120.0  # seconds a pooled container may take to warm up before it is given up
CONTROL_TIMEOUT = 10.0  # seconds the control socket may take to take a spec
REFILL_PAUSE = 0.5  # seconds between two looks at the pool
REFILL_BACKOFF_MAX = 60.0  # seconds between two tries at most, while pooled containers fail to warm up


@dataclass(frozen=True)
class Slot:
    """One pooled container's folder of the host, ``<node>/pool/<id>/``: ``m/`` is what the
    container sees (``m/eleve``, the workspace's mount point; ``m/socket/``, its sockets), the
    rest is the agent's."""

    id: str
    folder: Path
    container_id: str = ""

    @property
    def workspace(self) -> Path:
        return self.folder / "m" / "eleve"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "m" / "socket"

    @property
    def control(self) -> Path:
        return self.socket_dir / CONTROL_NAME

    @property
    def server_socket(self) -> Path:
        return self.socket_dir / SOCKET_NAME

    @property
    def routed_socket(self) -> Path:
        """The second name of the server's socket, for the proxy: beside ``m/``, out of the container's
        reach, and on the same mount (a hard link cannot cross one)."""
        return self.folder / SOCKET_NAME

    @property
    def given_file(self) -> Path:
        return self.folder / "given.json"

    @property
    def ready_file(self) -> Path:
        """There while the container is in the pool, ready to be given (for those outside: tests, make bench)."""
        return self.folder / "ready"


POOL_FOLDER = "pool"  # a node's pool, <node>/pool/


def ready_slots(node_folder: Path) -> list[Slot]:
    """The slots of a node's pool whose container is ready to be given, as seen from outside its agent
    (tests, ``make bench``): those with their :attr:`Slot.ready_file`."""
    root = Path(node_folder) / POOL_FOLDER
    folders = sorted(root.iterdir()) if root.is_dir() else []
    return [slot for slot in (Slot(folder.name, folder) for folder in folders) if slot.ready_file.exists()]


class ContainerPool:
    """Warm containers of one node. ``launch(slot)`` starts a pooled container for a new slot and
    returns its id; ``discard(container_id)`` removes one; ``running(container_id)`` says whether it
    runs; ``busy()`` whether the node is starting servers now (the refill waits)."""

    def __init__(self, root: Path, size: int, uid: int, gid: int, launch: Callable[[Slot], str],
                 discard: Callable[[str], None], running: Callable[[str], bool]):
        self.root = Path(root)
        self.size = size
        self.uid, self.gid = uid, gid
        self.launch, self.discard, self.running = launch, discard, running
        self.busy: Callable[[], bool] = lambda: False
        self._ready: list[Slot] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._filler: threading.Thread | None = None

    # --- life ------------------------------------------------------------------------------

    def open(self, free_containers: dict[str, str], busy: Callable[[], bool] | None = None) -> None:
        """Rebuild: remove the never-given containers a previous agent left (``{slot id: container id}``)
        and the folders of slots that hold no given server, then refill in the background."""
        self.root.mkdir(mode=0o755, exist_ok=True)
        mounts.ensure_shared(self.root)
        self.busy = busy or self.busy
        for slot_id, container_id in free_containers.items():
            log.info("removing pooled container %s left by a previous agent (never given)", container_id[:12])
            self.discard(container_id)
            self.release(slot_id)
        for folder in self.root.iterdir():  # what is left: the given slots, and folders of no container
            if folder.is_dir() and not self.slot(folder.name).given_file.exists():
                self.release(folder.name)
        if self.size > 0:
            self._filler = threading.Thread(target=self._refill, name="pool-refill", daemon=True)
            self._filler.start()

    def close(self) -> None:
        """Stop refilling and remove the containers never given; the given ones keep running."""
        self._closing.set()
        if self._filler is not None:
            self._filler.join(timeout=READY_TIMEOUT)
        with self._lock:
            free, self._ready = self._ready, []
        for slot in free:
            self._discard(slot)
        if not any(self.root.iterdir()):  # no given server either: the bind of the folder on itself goes
            mounts.unmount(self.root)

    # --- slots ---------------------------------------------------------------------------------

    def slot(self, slot_id: str) -> Slot:
        if not slot_id.isalnum():
            raise ValueError(f"not a slot id: {slot_id!r}")
        return Slot(slot_id, self.root / slot_id)

    def take(self) -> Slot | None:
        """The oldest warm container that still runs, now no longer the pool's; None when there is none."""
        while True:
            with self._lock:
                if not self._ready:
                    return None
                slot = self._ready.pop(0)
            slot.ready_file.unlink(missing_ok=True)
            if self.running(slot.container_id):
                return slot
            log.warning("pooled container %s died while waiting: removed", slot.container_id[:12])
            self._discard(slot)

    def give(self, slot: Slot, workspace: Path, spec: ServerSpec, record: dict) -> None:
        """Mount ``workspace`` in the slot, record the gift, send the spec; raises if the container
        does not take it (the caller then removes the container and :meth:`release` s the slot)."""
        mounts.bind(Path(workspace).resolve(), slot.workspace)
        slot.given_file.write_text(json.dumps({**record, "container_id": slot.container_id}))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.settimeout(CONTROL_TIMEOUT)
            control.connect(str(slot.control))
            control.sendall(json.dumps({"spec": spec.to_json()}).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = control.recv(4096)
                if not chunk:
                    break
                answer += chunk
        reply = json.loads(answer or b"{}")
        if not reply.get("ok"):
            raise RuntimeError(f"pooled container {slot.container_id[:12]} refused its student: "
                               f"{reply.get('error', 'no answer')}")

    def given(self, slot_id: str) -> dict | None:
        """What ``given.json`` of the slot records (user key, instance, start, container), or None."""
        try:
            return json.loads(self.slot(slot_id).given_file.read_text())
        except (OSError, ValueError):
            return None

    def release(self, slot_id: str) -> None:
        """The slot's container is gone: unmount its workspace, then delete its folder (never while
        anything is still mounted there: that would delete the student's work)."""
        slot = self.slot(slot_id)
        mounts.unmount(slot.workspace)
        if mounts.is_mount_point(slot.workspace):
            log.error("%s is still mounted: slot folder kept", slot.workspace)
            return
        shutil.rmtree(slot.folder, ignore_errors=True)

    def free_count(self) -> int:
        with self._lock:
            return len(self._ready)

    # --- refill ------------------------------------------------------------------------------

    def _refill(self) -> None:
        """One container at a time while the node is idle; after a failure, a pause that doubles (an
        image that cannot warm up must not make the node start containers in a loop)."""
        failures = 0
        while not self._closing.wait(REFILL_PAUSE):
            if self.free_count() >= self.size or self.busy():
                continue
            try:
                warmed = self._add_one()
            except Exception:  # noqa: BLE001 - the pool is an optimisation: the next pass tries again
                log.exception("could not add a warm container to the pool")
                warmed = False
            failures = 0 if warmed else failures + 1
            if failures:
                self._closing.wait(min(REFILL_BACKOFF_MAX, 2 ** failures))

    def _add_one(self) -> bool:
        slot = self.slot(secrets.token_hex(4))
        slot.folder.mkdir(mode=0o700)
        (slot.folder / "m").mkdir(mode=0o755)
        slot.workspace.mkdir(mode=0o755)
        slot.socket_dir.mkdir(mode=0o700)
        os.chown(slot.socket_dir, self.uid, self.gid)
        slot = Slot(slot.id, slot.folder, self.launch(slot))
        began = time.monotonic()
        while not slot.control.exists():
            if not self.running(slot.container_id) or time.monotonic() - began > READY_TIMEOUT:
                log.warning("pooled container %s did not warm up: removed", slot.container_id[:12])
                self._discard(slot)
                return False
            if self._closing.wait(0.1):
                self._discard(slot)
                return True
        with self._lock:
            self._ready.append(slot)
        slot.ready_file.touch()
        log.info("warm container %s ready in %.1f s (%d in the pool)", slot.container_id[:12],
                 time.monotonic() - began, self.free_count())
        return True

    def _discard(self, slot: Slot) -> None:
        if slot.container_id:
            self.discard(slot.container_id)
        self.release(slot.id)
