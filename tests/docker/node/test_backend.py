"""The docker backend against a real engine: the backends' contract, and how a container is made."""
from __future__ import annotations

import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path

import docker.errors
import pytest

from capytale.stack import dockerd
from capytale.tokens import ensure_development_keys
from services.spawner import cgroups, unixhttp
from capytale.settings import load as load_settings
from services.spawner.backends import make_backend
from services.spawner.backends.docker import container_name
from services.spawner.state import NodeDir
from tests.docker.conftest import MEMORY_MB, PIDS
from tests.spawner.test_backends import test_a_backend_starts_finds_and_stops_a_server  # noqa: F401 - the contract


@pytest.fixture(scope="module")
def backend(engine):
    """A docker backend on a fresh node folder and a namespace of its own; its containers removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="cs-", dir="/tmp"))
    ensure_development_keys(folder / "keys")
    namespace = f"capytale-backend-{secrets.token_hex(4)}"
    settings = load_settings("spawner", environ={}, overrides={
        **engine.settings(), "NODE": 1, "AMQP_NAMESPACE": namespace, "GRANT_PUBLIC_KEY": folder / "keys" / "grant.pub",
        "JUPYTER_EXTENSIONS": "notebook", "DOCKER_POOL": 0})  # the cold start (tests/docker/node/test_pool.py: warm)
    made = make_backend(settings, NodeDir(folder / "run", 1).create())  # the catalogue's defaults, the engine's limits
    made.open()
    made.root = folder / "data"
    yield made
    made.close()
    dockerd.remove_containers(engine.url, namespace)
    shutil.rmtree(folder, ignore_errors=True)


def start(backend, user_key: str, lab: bool = False):
    root = backend.root / user_key
    root.mkdir(parents=True, exist_ok=True)
    backend.prepare_workspace(root)
    began = time.monotonic()
    handle = backend.start(user_key, root, f"/n/1/u/{user_key}/", "i1", lab=lab)
    backend.node_dir.save(handle)
    assert handle.socket_path == str(backend.node_dir.socket_path(user_key, own_folder=True))
    assert unixhttp.wait_answering(handle.socket_path, f"/n/1/u/{user_key}/api", 30, lambda: backend.is_alive(handle))
    return handle, time.monotonic() - began


def test_a_container_is_isolated_and_limited_as_configured(backend, engine):
    handle, took = start(backend, "kisolated")
    container = engine.client.containers.get(handle.container_id)
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert container.name == container_name(backend.namespace, 1, "kisolated")
    assert config["Labels"]["capytale.namespace"] == backend.namespace
    assert (config["Labels"]["capytale.node"], config["Labels"]["capytale.user_key"]) == ("1", "kisolated")
    assert config["User"] == "1000:1000" and config["Image"] == engine.image
    assert host["ReadonlyRootfs"] is True and host["NetworkMode"] == "none"
    assert host["Memory"] == host["MemorySwap"] == MEMORY_MB * 2**20
    assert host["NanoCpus"] == 10**9 and host["PidsLimit"] == PIDS
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["RestartPolicy"]["Name"] in ("no", "") and host["AutoRemove"] is False
    assert list(host["Tmpfs"]) == ["/tmp"]
    binds = sorted((m["Source"], m["Destination"], m["RW"]) for m in container.attrs["Mounts"])
    assert binds == sorted([(str((backend.root / "kisolated").resolve()), "/home/eleve", True),
                            (str(Path(handle.socket_path).parent.resolve()), "/capytale/socket", True),
                            (str(backend.node_dir.revocations_dir()), "/capytale/revocations", False)])
    assert "GRANT_PUBLIC_KEY_PEM" not in str(config["Cmd"]), "the key travels in the environment, not argv"

    socket_info = Path(handle.socket_path).stat()
    assert stat.S_ISSOCK(socket_info.st_mode) and stat.S_IMODE(socket_info.st_mode) == 0o600
    assert socket_info.st_uid == 1000 and (backend.root / "kisolated").stat().st_uid == 1000
    time.sleep(1)
    memory = backend.memory_bytes([handle])
    assert 20 * 2**20 < memory < MEMORY_MB * 2**20
    print(f"\ncontainer answered in {took:.2f}s; idle container memory {memory / 2**20:.0f} MiB "
          f"(cgroup files {'read' if cgroups.container_memory_bytes(handle.container_id) else 'absent: engine stats'})")
    backend.stop(handle, timeout=5)


def test_a_teachers_server_loads_jupyterlab_too(backend):
    handle, _took = start(backend, "kteacher", lab=True)
    assert unixhttp.get_status(handle.socket_path, "/n/1/u/kteacher/lab/api/settings") in (200, 403)
    assert unixhttp.get_status(handle.socket_path, "/n/1/u/kteacher/lab") != 404
    backend.stop(handle, timeout=5)


def test_a_stopped_container_is_removed_and_its_output_kept(backend, engine):
    handle, _took = start(backend, "kstopped")
    backend.stop(handle, timeout=5)
    with pytest.raises(docker.errors.NotFound):
        engine.client.containers.get(handle.container_id)
    assert "Jupyter Server" in backend.node_dir.log_path("kstopped").read_text()
    backend.stop(handle, timeout=5)  # stopping what is gone is success


def test_a_dead_container_no_record_names_is_swept(backend, engine):
    handle, _took = start(backend, "kswept")
    engine.client.containers.get(handle.container_id).kill()
    backend.node_dir.forget("kswept")
    assert handle not in backend.list_running()
    with pytest.raises(docker.errors.NotFound):
        engine.client.containers.get(handle.container_id)


def test_the_workspace_is_given_to_the_student_without_following_links(backend, tmp_path):
    root = backend.root / "klinks"
    (root / "nouvelle activité").mkdir(parents=True)
    (root / "nouvelle activité" / "copie.ipynb").write_text("{}")
    host_file = tmp_path / "du serveur"
    host_file.write_text("x")
    (root / "lien").symlink_to(host_file)
    backend.prepare_workspace(root)
    assert {p.lstat().st_uid for p in [root, *root.rglob("*")]} == {1000}
    assert host_file.stat().st_uid == 0, "a link's target is never given away"
