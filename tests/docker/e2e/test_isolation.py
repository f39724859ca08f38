"""What a student's code can reach from a notebook kernel in its container: only its own work.

Every test runs code as a student, through the real way in (HAProxy, CHP, the
server in its container, a kernel over the websocket), and checks from both
sides: what the code saw, and what the host and the node's agent saw.
"""
from __future__ import annotations

import json
import time
import urllib.parse

import docker.errors
import pytest

from services.spawner import cgroups
from tests.docker.conftest import MEMORY_MB, PIDS
from tests.e2e.browser import KernelDied

pytestmark = pytest.mark.e2e


def share_path(activity: dict) -> str:
    return urllib.parse.urlsplit(activity["share_url"]).path


def container_id(platform, link) -> str:
    state = platform.var_dir / "run" / str(link.node) / f"{link.key}.json"
    return json.loads(state.read_text())["container_id"]


def enter(person, activity):
    link = person.open_share(share_path(activity))
    assert person.enter(link).status_code == 200
    return link


def run_json(person, link, code: str, timeout: float = 60.0):
    """Run ``code`` (which prints one JSON value last) in a kernel; that value."""
    return json.loads(person.run_code(link, code, timeout=timeout).strip().splitlines()[-1])


def the_node_still_serves(platform, operator, student, activity, node: int) -> None:
    """The node's agent answers, and a new student gets a server and runs code."""
    assert operator(node, "node.status")["node"] == node
    newcomer = student("suivant")
    link = enter(newcomer, activity)
    assert newcomer.run_code(link, "print(6 * 7)").strip() == "42"


def test_a_student_sees_nothing_of_another_students_workspace(platform, student, activity):
    alice, bob = student("alice"), student("bob")
    link_a, link_b = enter(alice, activity), enter(bob, activity)
    bob_on_host = platform.var_dir / "data" / "users" / link_b.key
    assert bob_on_host.is_dir()

    seen = run_json(alice, link_a, f"""
import json, os
tries = {{}}
for path in [{str(bob_on_host)!r}, {str(bob_on_host.parent)!r}, "/home/eleve/../{link_b.key}", "/home/{link_b.key}"]:
    try:
        tries[path] = sorted(os.listdir(path))
    except OSError as exc:
        tries[path] = type(exc).__name__
mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
print(json.dumps({{"cwd": os.getcwd(), "home": sorted(os.listdir("/home")), "tries": tries, "mounts": mounts,
                  "uid": os.getuid()}}))
""")
    assert seen["cwd"] == "/home/eleve" and seen["home"] == ["eleve"]
    assert set(seen["tries"].values()) == {"FileNotFoundError"}, seen["tries"]
    assert seen["uid"] == 1000
    assert not [m for m in seen["mounts"] if str(platform.var_dir) in m or link_b.key in m]
    assert "/home/eleve" in seen["mounts"] and "/capytale/socket" in seen["mounts"]


def test_a_student_reaches_no_service_and_no_network(platform, student, activity):
    alice = student("alice")
    link = enter(alice, activity)
    haproxy_port = urllib.parse.urlsplit(platform.url).port
    services = {"postgresql": 5432, "rabbitmq": 5672, "haproxy": haproxy_port,
                **{name: port for name, port in platform.service_ports.items()},
                **{f"chp{node}": port for node, port in platform.node_ports.items()}}
    seen = run_json(alice, link, f"""
import json, os, socket
results = {{}}
for name, port in {services!r}.items():
    with socket.socket() as sock:
        sock.settimeout(3)
        try:
            sock.connect(("127.0.0.1", port))
            results[name] = "connected"
        except OSError as exc:
            results[name] = type(exc).__name__
for name, path in (("postgresql socket", "/var/run/postgresql/.s.PGSQL.5432"), ("docker", "/var/run/docker.sock")):
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
            results[name] = "connected"
        except OSError as exc:
            results[name] = type(exc).__name__
print(json.dumps({{"results": results, "interfaces": sorted(os.listdir("/sys/class/net"))}}))
""")
    assert seen["interfaces"] == ["lo"], "a container without network has only its own loopback"
    assert {name: result for name, result in seen["results"].items()
            if result not in ("ConnectionRefusedError", "FileNotFoundError")} == {}, seen["results"]


def test_a_student_writes_only_in_the_workspace_and_tmp(platform, student, activity):
    alice = student("alice")
    link = enter(alice, activity)
    seen = run_json(alice, link, """
import json, os
results = {}
for path in ["/essai", "/etc/essai", "/opt/jupyter/essai", "/opt/capytale/services/essai", "/usr/lib/essai",
             "/var/tmp/essai", "/home/essai", "/root/essai", "/home/eleve/essai.txt", "/tmp/essai.txt"]:
    try:
        with open(path, "w") as file:
            file.write("écrit")
        results[path] = "written"
    except OSError as exc:
        results[path] = type(exc).__name__
print(json.dumps(results))
""")
    assert seen.pop("/home/eleve/essai.txt") == "written" and seen.pop("/tmp/essai.txt") == "written"
    assert set(seen.values()) <= {"OSError", "PermissionError"}, seen  # EROFS is a plain OSError
    saved = platform.var_dir / "data" / "users" / link.key / "essai.txt"
    assert saved.read_text() == "écrit" and saved.stat().st_uid == 1000


def test_a_fork_bomb_stops_at_the_process_limit(platform, engine, student, operator, activity):
    mallory = student("mallory")
    link = enter(mallory, activity)
    began = time.monotonic()
    seen = run_json(mallory, link, """
import json, os, time
children, stopped_by = [], None
try:
    for _ in range(100_000):
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/sleep", ["sleep", "60"])
        children.append(pid)
except OSError as exc:
    stopped_by = type(exc).__name__
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(json.dumps({"children": len(children), "stopped_by": stopped_by}))
""")
    assert seen["stopped_by"] == "BlockingIOError" and 0 < seen["children"] < PIDS, seen
    assert mallory.run_code(link, "print('encore là')").strip() == "encore là"

    # a shell fork bomb that never ends by itself: held at the limit until the server is stopped. In a
    # session of its own, so that closing the kernel that started it (run_code does) does not end it
    container = container_id(platform, link)
    refused_before = cgroups.fork_refusals(container)
    mallory.run_code(link, "import subprocess\n"
                           "subprocess.Popen(['sh', '-c', 'b() { b | b & }; b'], start_new_session=True)")
    counts = []
    for _ in range(30):
        counts.append(cgroups.process_count(container))
        time.sleep(0.1)
    if refused_before is not None:  # where this machine shows the container's cgroup
        assert max(counts) <= PIDS and cgroups.fork_refusals(container) > refused_before, counts
    the_node_still_serves(platform, operator, student, activity, link.node)
    assert operator(link.node, "server.stop", user_key=link.key, reason="admin")["stopped"] is True
    assert time.monotonic() - began < 120
    with pytest.raises(docker.errors.NotFound):  # the bomb went with its container
        engine.client.containers.get(container)


def test_a_memory_hog_is_killed_at_its_limit(platform, student, operator, activity):
    hog = student("glouton")
    link = enter(hog, activity)
    container = container_id(platform, link)
    began = time.monotonic()
    with pytest.raises(KernelDied):
        hog.run_code(link, "blocks = []\nwhile True:\n    blocks.append(b'x' * (16 * 2**20))", timeout=90)
    assert time.monotonic() - began < 90
    kills = cgroups.oom_kills(container)
    assert kills is None or kills >= 1
    memory = cgroups.container_memory_bytes(container)
    assert memory is None or memory < MEMORY_MB * 2**20
    # the server lived through it: the student carries on with a new kernel
    assert hog.run_code(link, "print(2 + 2)").strip() == "4"
    the_node_still_serves(platform, operator, student, activity, link.node)
