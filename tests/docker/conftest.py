"""A real Docker engine and the notebook image, for the docker backend's tests.

The engine is the one at ``DOCKER_HOST`` (or the default socket) when it
answers, else a ``dockerd`` the session starts (``capytale.stack.dockerd``:
images under ``.cache/dockerd/``, sockets in a short folder of ``/tmp``, no
bridge, no firewall rule) and stops at the end, by its pid.  Where no engine
can be started, every test here is skipped with the reason.  The notebook image
is built once (``capytale.stack.notebook_image``; minutes when cold, seconds
when its root filesystem is cached) and the containers of this session's
platforms are removed at the end.
"""
from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass

import docker
import pytest

from capytale.stack import dockerd, notebook_image
from tests.conftest import terminal_progress

# Small limits, so that the fork bomb and the memory hog meet them fast.
MEMORY_MB = 512
PIDS = 128
POOL = 2  # warm containers per node: the first students of each node get one, the next ones start cold


@dataclass(frozen=True)
class Engine:
    url: str
    image: str
    client: docker.DockerClient

    def settings(self) -> dict[str, str]:
        """The spawner settings of the docker backend on this engine (short names)."""
        return {"SPAWNER_BACKEND": "docker", "DOCKER_URL": self.url, "DOCKER_IMAGE": self.image,
                "DOCKER_MEMORY_MB": str(MEMORY_MB), "DOCKER_PIDS": str(PIDS), "DOCKER_CPUS": "1",
                "DOCKER_TMP_MB": "32", "DOCKER_POOL": str(POOL)}

    def containers(self, namespace: str, **labels: str) -> list:
        wanted = [f"capytale.namespace={namespace}", *(f"capytale.{k}={v}" for k, v in labels.items())]
        return self.client.containers.list(all=True, filters={"label": wanted})


@pytest.fixture(scope="session")
def engine(request, tmp_path_factory):
    """The Docker engine and the notebook image's tag; skips with the reason where no engine can be started."""
    progress = terminal_progress(request, "docker")  # as it happens: a cold build takes minutes

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(dockerd.engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log"))
        except dockerd.NoEngine as exc:
            pytest.skip(f"no Docker engine: {exc}")
        progress(f"engine {url}")
        client = docker.DockerClient(base_url=url, timeout=600)
        stack.callback(client.close)
        began = time.monotonic()
        image = notebook_image.ensure_image(client, progress)
        progress(f"notebook image {image} in {time.monotonic() - began:.1f} s")
        yield Engine(url, image, client)


@pytest.fixture(scope="session")
def namespace(engine):
    """A platform namespace of its own; its containers are removed at the end of the session."""
    name = f"capytale-docker-{secrets.token_hex(4)}"
    yield name
    dockerd.remove_containers(engine.url, name)
