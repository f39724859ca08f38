"""Grading in a container: the production runner.

:class:`DockerRunner` is the run of :class:`~.runner.KernelRunner` (nbclient here, one fresh kernel per
run, only how each cell ended comes back) with its kernel in a container of the notebook image, made
for the run and removed with it:

- the image's students' environment and kernelspecs (``python3``, ``ocaml``, ``sql``), started by the
  image's :mod:`services.spawner.jupyter.grading_kernel`, which also ends the container at the run's
  deadline even if this service is gone;
- no network at all (``none``: no setting changes it, unlike students' servers), a read-only root
  filesystem, a small ``/tmp`` in memory as home, every capability dropped, no new privileges, the
  memory, CPU and process limits of students' containers (``DOCKER_*``), the students' non-root user;
- one mount, the run's folder (``/capytale/run``): the annex files in ``activite/`` (the kernel's
  working folder) and the kernel's Unix sockets, which this service connects to from the host; the
  folder sits in a private temporary folder of this service's user, so nobody else reaches them
  (under ``GRADING_RUN_DIR``: where this service runs in a container, a folder of the engine's host
  mounted at the same path, since the engine mounts it from there);
- no environment but the run's (``CAPYTALE_SEED``) and a few fixed variables: no setting, no secret.

Shell escapes and URL fetches are left in the cells: the kernel has no network to reach.  The engine
is ``DOCKER_URL`` (else ``DOCKER_HOST``, else the local socket); ``docs/deploy.md`` says which one
the activities service may use.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import docker
import docker.errors
from docker.types import LogConfig, Mount
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from capytale.containers import DEFAULT_URL, Limits, answers, confined, remove, student_user
from services.activities.grading.runner import KernelRunner, RunnerError

RUN_DIR = "/capytale/run"  # the run's folder inside the container
INSIDE_CONNECTION_FILE = "kernel-inside.json"  # the connection file as the kernel sees it (its sockets' paths)
LAUNCHER = ["tini", "--", "python", "-m", "services.spawner.jupyter.grading_kernel"]
KERNELS = ("python3", "ocaml", "sql")  # the image's kernelspecs (capytale.stack.students_env)
LABEL = "capytale.grading"
MARGIN = 30.0  # seconds the container outlives the run's own limit before it ends itself


@dataclass
class ContainerPlan:
    """What the provisioner of one run starts: the image, the limits, the run's folder, the environment."""

    client: docker.DockerClient
    image: str
    kernel: str
    limits: Limits
    user: str
    run_dir: Path
    lifetime: float
    name: str = field(default_factory=lambda: f"capytale-grading-{secrets.token_hex(6)}")


class ContainerProvisioner(LocalProvisioner):
    """jupyter_client's provisioner for a kernel in a container: the connection file is written as for a
    local kernel (``ipc``, in the run's folder), the kernel is the container's."""

    plan: ContainerPlan
    container: Any = None

    @property
    def has_process(self) -> bool:
        return self.container is not None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        plan = self.plan
        connection = json.loads(Path(self.parent.connection_file).read_text())
        connection["ip"] = f"{RUN_DIR}/{Path(connection['ip']).relative_to(plan.run_dir)}"
        (plan.run_dir / INSIDE_CONNECTION_FILE).write_text(json.dumps(connection))
        self.container = await asyncio.to_thread(
            plan.client.containers.run, plan.image,
            entrypoint=LAUNCHER,
            command=[plan.kernel, f"{RUN_DIR}/{INSIDE_CONNECTION_FILE}", str(round(plan.lifetime))],
            name=plan.name, detach=True, labels={LABEL: "1"}, environment=dict(kwargs.get("env") or {}),
            working_dir=f"{RUN_DIR}/activite", mounts=[Mount(RUN_DIR, str(plan.run_dir.resolve()), type="bind")],
            network_mode="none",
            log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
            **confined(plan.limits, plan.user),
        )
        return self.connection_info

    async def poll(self) -> int | None:
        if self.container is None:
            return 0
        try:
            await asyncio.to_thread(self.container.reload)
        except docker.errors.NotFound:
            return -1
        state = self.container.attrs["State"]
        return None if state.get("Running") else int(state.get("ExitCode", -1))

    async def wait(self) -> int | None:
        while (status := await self.poll()) is None:
            await asyncio.sleep(0.2)
        return status

    async def send_signal(self, signum: int) -> None:
        if signum and self.container is not None:
            await asyncio.to_thread(self._signal, signum)

    async def kill(self, restart: bool = False) -> None:
        if self.container is not None:
            await asyncio.to_thread(self._signal, signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        if restart:
            return
        if self.container is not None:
            await asyncio.to_thread(remove, self.container)

    def _signal(self, signum: int) -> None:
        try:
            self.container.kill(signal=int(signum))
        except docker.errors.APIError:  # not running any more (or gone): nothing to signal
            pass

    def output_tail(self) -> bytes:
        try:
            return self.container.logs(tail=40)[-2000:] if self.container is not None else b""
        except docker.errors.APIError:
            return b""


class DockerRunner(KernelRunner):
    """Each run's kernel in a new container of the notebook image (see the module's docstring)."""

    def __init__(self, image: str, docker_url: str, limits: Limits, user: str, cell_timeout: float = 30.0,
                 timeout: float = 180.0, kernel_name: str = "python3", startup_timeout: float = 60.0,
                 run_root: str = ""):
        super().__init__(cell_timeout, timeout, kernel_name, startup_timeout)
        self.run_root = run_root or None  # the engine mounts the run's folder from its host: the same path there
        self.image = image
        self.docker_url = docker_url
        self.limits = limits
        self.user = student_user(user)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DockerRunner:
        return cls(settings["DOCKER_IMAGE"], settings["DOCKER_URL"], Limits.from_settings(settings),
                   settings["DOCKER_USER"], settings["GRADING_CELL_TIMEOUT"], settings["GRADING_TIMEOUT"],
                   run_root=settings["GRADING_RUN_DIR"])

    def _client(self) -> docker.DockerClient:
        """A client of the engine for one run (runs may happen in several threads at once)."""
        url = self.docker_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
        if not answers(url):  # first: the SDK would leave the socket of a connection that failed open
            raise RunnerError(f"no Docker engine answers at {url} for grading")
        return docker.DockerClient(base_url=url, timeout=60)

    def _has_kernel(self, kernel: str) -> bool:
        return kernel in KERNELS

    def _manager(self, kernel: str, run_dir: Path) -> AsyncKernelManager:
        # the run's folder is opened to the container's user (the parent folder stays this user's alone)
        run_dir.chmod(0o777)
        for path in run_dir.rglob("*"):
            path.chmod(0o777 if path.is_dir() else 0o666)
        # a kernelspec of our own, whose only use is to say which kernel of the image to start and how to
        # interrupt it (a message on the control channel: ipykernel's kernels all answer it)
        specs_dir = run_dir.parent / "kernels" / kernel
        specs_dir.mkdir(parents=True)
        (specs_dir / "kernel.json").write_text(json.dumps({
            "argv": ["grading-kernel", "{connection_file}"], "display_name": kernel, "language": kernel,
            "interrupt_mode": "message"}))
        specs = KernelSpecManager(kernel_dirs=[str(specs_dir.parent)], ensure_native_kernel=False)
        manager = AsyncKernelManager(kernel_name=kernel, kernel_spec_manager=specs, transport="ipc",
                                     ip=str(run_dir / "kernel"), connection_file=str(run_dir / "kernel.json"))
        manager.kernel_id = secrets.token_hex(8)
        provisioner = ContainerProvisioner(kernel_id=manager.kernel_id, kernel_spec=manager.kernel_spec,
                                           parent=manager)
        provisioner.plan = ContainerPlan(self._client(), self.image, kernel, self.limits, self.user, run_dir,
                                         lifetime=self.timeout + self.startup_timeout + MARGIN)
        manager.provisioner = provisioner  # jupyter_client keeps a provisioner it is given
        return manager

    def _environment(self, run_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
        """The container's whole environment (the image adds its own ``PATH``)."""
        return {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLCONFIGDIR": "/tmp/.matplotlib",
                "IPYTHONDIR": "/tmp/.ipython", "NBAUTOEVAL_LOG": "/tmp/.nbautoeval", "PYTHONDONTWRITEBYTECODE": "1",
                **{key: str(value) for key, value in extra.items()}}

    def run(self, notebook, files=None, env=None):
        try:
            return super().run(notebook, files, env)
        except docker.errors.DockerException as exc:
            raise RunnerError(f"grading container failed: {exc}") from exc

    async def _stop(self, manager: AsyncKernelManager, client) -> None:
        try:
            await super()._stop(manager, client)
        finally:
            if isinstance(manager.provisioner, ContainerProvisioner):
                manager.provisioner.plan.client.close()  # the run's own, even when no container started

    def _kill(self, manager: AsyncKernelManager) -> None:
        provisioner = manager.provisioner
        if isinstance(provisioner, ContainerProvisioner):
            provisioner._signal(signal.SIGKILL)

    def _output_tail(self, manager: AsyncKernelManager) -> bytes:
        provisioner = manager.provisioner
        return provisioner.output_tail() if isinstance(provisioner, ContainerProvisioner) else b""

