"""The pool of warm containers: a student gets a started container, confined as a cold one, holding
only their workspace and nothing of anyone before them; the never-given ones go with their agent."""
from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from capytale.settings import load as load_settings
from capytale.stack import dockerd
from capytale.tokens import ensure_development_keys
from services.spawner import mounts, unixhttp
from services.spawner.backends import make_backend
from services.spawner.backends.docker import container_name
from services.spawner.backends.docker_pool import ready_slots
from services.spawner.state import NodeDir
from tests.docker.conftest import MEMORY_MB, PIDS
from tests.docker.node.test_restart import gone, open_server, read, save
from tests.spawner.conftest import TOPOLOGY, wait_until
from tests.spawner.test_warm_kernel import FOLDER, NOTEBOOK, kernels, opened, where_and_who

POOL = 2


def pooled_backend(engine, folder: Path, pool: int = POOL):
    namespace = f"capytale-pool-{secrets.token_hex(4)}"
    settings = load_settings("spawner", environ={}, overrides={
        **engine.settings(), "NODE": 1, "AMQP_NAMESPACE": namespace, "GRANT_PUBLIC_KEY": folder / "keys" / "grant.pub",
        "JUPYTER_EXTENSIONS": "notebook", "DOCKER_POOL": pool})
    return make_backend(settings, NodeDir(folder / "run", 1).create())


@pytest.fixture(scope="module")
def folder():
    made = Path(tempfile.mkdtemp(prefix="cp-", dir="/tmp"))
    ensure_development_keys(made / "keys")
    yield made
    mounts.unmount_all_under(made)
    shutil.rmtree(made, ignore_errors=True)


@pytest.fixture(scope="module")
def backend(engine, folder):
    made = pooled_backend(engine, folder)
    made.open()
    yield made
    made.close()
    dockerd.remove_containers(engine.url, made.namespace)


def full(backend) -> None:
    wait_until(lambda: backend.pool.free_count() == backend.pool.size, 120, 0.1, "a full pool")


def start(backend, folder: Path, user_key: str, files: dict[str, str]):
    root = folder / "data" / user_key
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    began = time.monotonic()
    handle = backend.start(user_key, root, f"/n/1/u/{user_key}/", "i1")
    backend.node_dir.save(handle)
    assert unixhttp.wait_answering(handle.socket_path, f"/n/1/u/{user_key}/api", 30, lambda: backend.is_alive(handle))
    return backend.publish_socket(handle), time.monotonic() - began


def inside(engine, container_id: str, script: str) -> str:
    """What a Python script prints inside the container, run as its user (as a student's code would)."""
    result = engine.client.containers.get(container_id).exec_run(["python", "-c", script], user="1000:1000")
    assert result.exit_code == 0, result.output
    return result.output.decode()


def test_a_warm_container_is_confined_and_holds_only_its_students_workspace(backend, engine, folder):
    full(backend)
    handle, took = start(backend, folder, "kwarma", {"a.txt": "travail de A"})
    container = engine.client.containers.get(handle.container_id)
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert "capytale.pool" in config["Labels"], "the student got a warm container"
    assert host["CpuShares"] == 1024, "given: the CPU weight of any student (it warmed up at 64)"
    assert container.name == container_name(backend.namespace, 1, "kwarma")
    assert config["User"] == "1000:1000" and config["Image"] == engine.image
    assert host["ReadonlyRootfs"] is True and host["NetworkMode"] == "none"
    assert host["Memory"] == host["MemorySwap"] == MEMORY_MB * 2**20 and host["PidsLimit"] == PIDS
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert list(host["Tmpfs"]) == ["/tmp"]
    slot = Path(handle.socket_path).parent
    binds = sorted((m["Source"], m["Destination"], m["RW"], m["Propagation"]) for m in container.attrs["Mounts"])
    assert binds == sorted([(str(slot / "m" / "eleve"), "/home/eleve", True, "rslave"),
                            (str(slot / "m" / "socket"), "/capytale/socket", True, "rprivate"),
                            (str(backend.node_dir.revocations_dir()), "/capytale/revocations", False, "rprivate")])
    seen = inside(engine, handle.container_id, "import os; print(sorted(os.listdir('/home/eleve')))")
    assert seen.strip() == "['a.txt']"
    mounted = inside(engine, handle.container_id, "print(open('/proc/self/mountinfo').read())")
    assert str(folder / "data") not in mounted.replace(str(folder / "data" / "kwarma"), ""), "only A's workspace"
    print(f"\nwarm container answered in {took:.2f}s")
    backend.stop(handle, timeout=5)
    assert not slot.exists(), "the slot's folder goes with its container"
    assert (folder / "data" / "kwarma" / "a.txt").read_text() == "travail de A", "the work stays"


def test_a_container_given_to_b_holds_no_trace_of_a(backend, engine, folder):
    full(backend)
    a, _took = start(backend, folder, "ktracea", {"secret-de-a.txt": "à A"})
    inside(engine, a.container_id, "import os, subprocess\n"
           "open('/tmp/trace-de-a', 'w').write('A était là')\n"
           "subprocess.Popen(['sleep', '600'], start_new_session=True, env={'TRACE': 'ktracea'})")
    backend.stop(a, timeout=5)
    full(backend)
    b, _took = start(backend, folder, "ktraceb", {"b.txt": "à B"})
    assert b.container_id != a.container_id, "a container serves one student, once"
    assert "capytale.pool" in engine.client.containers.get(b.container_id).labels
    seen = inside(engine, b.container_id, "import os\n"
                  "print(sorted(os.listdir('/home/eleve')), sorted(os.listdir('/tmp')))\n"
                  "print([open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()])")
    assert "['b.txt']" in seen and "trace-de-a" not in seen and "sleep" not in seen and "secret" not in seen
    environment = engine.client.containers.get(b.container_id).attrs["Config"]["Env"]
    assert not any("ktracea" in variable for variable in environment)
    backend.stop(b, timeout=5)


def test_the_never_given_containers_are_removed_when_the_backend_closes(engine, folder):
    ensure_development_keys(folder / "autre" / "keys")
    other = pooled_backend(engine, folder / "autre")
    other.open()
    full(other)
    free = [c.id for c in engine.containers(other.namespace)]
    assert len(free) == POOL
    assert {engine.client.containers.get(c).attrs["HostConfig"]["CpuShares"] for c in free} == {64}, "warming: low"
    other.close()
    assert all(gone(engine, container_id) for container_id in free)
    assert not mounts.mounts_under(other.pool.root) and not any(other.pool.root.iterdir())


def free_pooled(engine, node) -> set[str]:
    """Ids of the node's warm containers ready for a student (in the agent's pool), not given yet."""
    ready = {slot.id for slot in ready_slots(node.run_dir) if not slot.given_file.exists()}
    return {container.id for container in engine.containers(TOPOLOGY.namespace, node=str(node.number))
            if container.labels.get("capytale.pool") in ready}


def test_a_new_agent_adopts_the_given_containers_and_rebuilds_the_pool(make_node, engine, command, student):
    node = make_node(DOCKER_POOL=str(POOL))
    first = node.start_agent()
    wait_until(lambda: len(free_pooled(engine, node)) == POOL, 120, 0.2, "a full pool")
    ensured = command(node, "server.ensure", user_key=student.key)
    assert ensured["started"] is True
    container = node.state(student.key)["container_id"]
    assert "capytale.pool" in engine.client.containers.get(container).labels, "a warm container"
    browser = open_server(node, student)
    save(browser, node, student, "avant.txt", "écrit avant le redémarrage")
    wait_until(lambda: len(free_pooled(engine, node)) == POOL, 120, 0.2, "the pool refilled")
    left = free_pooled(engine, node)

    first.kill()  # kill -9: the pool is left as it was
    second = node.start_agent()
    servers = command(node, "node.status")["servers"]
    assert [(server["user_key"], server["container_id"]) for server in servers] == [(student.key, container)]
    assert read(browser, node, student, "avant.txt") == "écrit avant le redémarrage", "same server, same cookie"
    assert all(gone(engine, container_id) for container_id in left), "the never-given ones are not reused"
    wait_until(lambda: len(free_pooled(engine, node)) == POOL, 120, 0.2, "a new pool")
    rebuilt = free_pooled(engine, node)
    assert not rebuilt & left

    assert second.terminate() == 0  # a clean stop: the server stays for the next agent, the pool goes
    assert all(gone(engine, container_id) for container_id in rebuilt)
    assert engine.client.containers.get(container).status == "running"


def test_a_warm_containers_first_kernel_ran_before_its_student_came_and_restarts(make_node, engine, command, student):
    node = make_node(DOCKER_POOL="1")
    node.start_agent()
    wait_until(lambda: len(free_pooled(engine, node)) == 1, 120, 0.2, "a full pool")
    asked = time.time()
    browser, link = opened(node, command, student)
    assert "capytale.pool" in engine.client.containers.get(node.state(student.key)["container_id"]).labels
    [warm] = wait_until(lambda: kernels(browser, link), 30, message="the warm kernel listed")

    age = ("import os; ticks = int(open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19]);"
           "print(float(open('/proc/uptime').read().split()[0]) - ticks / os.sysconf('SC_CLK_TCK'))")
    with browser.kernel(link, notebook_path=NOTEBOOK) as kernel:
        assert kernel.id == warm, "the session took the warm kernel"
        older = float(kernel.execute(age).printed)
        assert older > time.time() - asked, "the kernel was started while the container waited, before the click"
        pid, cwd, _session = where_and_who(kernel)
        assert cwd == Path("/home/eleve") / FOLDER, "moved into the notebook's folder, in the workspace"
        kernel.execute("avant = 1")
        restarted = browser.restart_kernel(link, warm)
        assert restarted.status_code == 200, restarted.text
    with browser.kernel(link, notebook_path=NOTEBOOK) as again:
        new_pid, new_cwd, _session = where_and_who(again)
        assert new_pid != pid and new_cwd == cwd
        assert again.execute("print('avant' in globals())").printed.strip() == "False"
