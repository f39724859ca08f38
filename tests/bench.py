"""``make bench`` (``BACKEND=docker`` for students' containers): the main flow measured through HAProxy
on this machine.

Figures: time from a student's first ``GET /s/<code>`` to their notebook being
readable through their server's contents API — cold (no server yet) and warm
(server running), min/median/p95 over several students; cold click → first cell
result (the notebook read, a kernel started through a session as the page does,
``print(6 * 7)`` answered over the kernel websocket), then the first cell importing
numpy and matplotlib; a class of new students arriving within one second (median,
p95, max, failures); memory of an idle student server, of an idle student with a
kernel that ran ``print(6 * 7)``, and once numpy and matplotlib are imported in it
(PSS of their processes on the process backend, the container's memory on the
docker backend); the students' environment's size (the process backend's
virtual environment, the notebook image and its layers); the platform's own
processes. Printed, and written to ``bench-results-<backend>.json``. Nothing here
is asserted: figures, not tests.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform as host
import statistics
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from capytale.stack import localhost_names, students_env
from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import free_port
from services.spawner import procfs
from tests.e2e.browser import Browser

localhost_names.install()  # students' servers are at <key>.nb.localhost: the loopback, never a DNS question

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "notebooks"
NOTEBOOK = "Calcul d'une paire de dés un peu particuliers.ipynb"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": min(values), "median": statistics.median(values),
            "p95": percentile(values, 95), "max": max(values)}


def time_to_notebook(browser: Browser, share: str) -> tuple[float, int]:
    """Seconds from the first GET /s/<code> to the copy read through the contents API."""
    started = time.perf_counter()
    link = browser.open_share(share, timeout=120)
    browser.enter(link).raise_for_status()
    browser.contents(link).raise_for_status()
    return time.perf_counter() - started, link.node


def time_to_cell(browser: Browser, share: str) -> tuple[float, float, int, object]:
    """Seconds from the first GET /s/<code> to the notebook read, then to ``print(6 * 7)`` answered over the
    kernel websocket (a session made as the page makes it), the node; the kernel is left running."""
    started = time.perf_counter()
    link = browser.open_share(share, timeout=120)
    browser.enter(link).raise_for_status()
    browser.contents(link).raise_for_status()
    notebook = time.perf_counter() - started
    kernel = browser.kernel(link, notebook_path=urllib.parse.unquote(link.path), timeout=120)
    answered = kernel.execute("print(6 * 7)", timeout=120)
    first = time.perf_counter() - started
    assert answered.printed.strip() == "42", answered
    return notebook, first, link.node, kernel


def time_to_imports(kernel) -> float:
    """Seconds for the cell most notebooks begin with: numpy and matplotlib imported."""
    began = time.perf_counter()
    imported = kernel.execute("import numpy as np, matplotlib.pyplot as plt", timeout=120)
    assert imported.error is None, imported.error
    return time.perf_counter() - began


def tree_mib(folder: Path) -> float:
    """The disk a folder's files take (hard links once), as ``du`` counts it."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        try:
            stat = path.lstat()
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512
    return total / 2**20


def memory(pid: int) -> dict:
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                values[name.lower() + "_mib"] = int(rest.split()[0]) / 1024
    return values


def session_members(session_id: int) -> list[int]:
    """Every process of a session started by the supervisor (workers, zygote…)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == session_id:  # field 6 of stat: session id
                members.append(int(entry))
    return members


def platform_memory(local: LocalPlatform) -> dict:
    groups: dict[str, dict] = {}
    for name, process in local.processes.items():
        kind = name.rstrip("0123456789")
        totals = groups.setdefault(kind, {"processes": 0, "rss_mib": 0.0, "pss_mib": 0.0})
        for pid in session_members(process.pid):
            try:
                figures = memory(pid)
            except OSError:
                continue
            totals["processes"] += 1
            totals["rss_mib"] += figures.get("rss_mib", 0)
            totals["pss_mib"] += figures.get("pss_mib", 0)
    return groups


def server_pids(local: LocalPlatform) -> list[int]:
    pids = []
    for state in (local.var_dir / "run").glob("*/*.json"):
        pid = json.loads(state.read_text()).get("pid")
        if pid and Path(f"/proc/{pid}").exists():
            pids.append(int(pid))
    return pids


class Backend:
    """Where students' servers run, and how their memory and their environment's size are read."""

    name = "process"

    def settings(self) -> dict[str, str]:
        return {}

    def student_mib(self, local: LocalPlatform) -> list[float]:
        """Per running student: the PSS of their server and its kernels."""
        figures, children = [], procfs.children_map()
        for pid in server_pids(local):
            with contextlib.suppress(OSError):
                family = [pid, *procfs.descendants(pid, children)]
                figures.append(sum(memory(member).get("pss_mib", 0) for member in family))
        return figures

    def sizes(self) -> dict:
        prefix = students_env.ensure_students_env(print)
        return {"students_env_mib": tree_mib(prefix), "students_env": str(prefix)}

    def settle(self, local: LocalPlatform) -> None:
        """Wait until what the nodes prepare ahead (the docker backend's warm containers) is ready."""

    def waiting_mib(self, local: LocalPlatform) -> list[float]:
        """Memory of what waits for students (warm containers), each."""
        return []

    def close(self) -> None:
        pass


class DockerBackend(Backend):
    """Students' containers on the engine that answers, or on one started here (its images cached)."""

    name = "docker"

    def __init__(self):
        import docker

        from capytale.stack import notebook_image
        from capytale.stack.__main__ import docker_settings

        self.stack = contextlib.ExitStack()
        self._settings = docker_settings(self.stack)  # as make run-docker: the engine, the image built if missing
        self.image = self._settings["CAPYTALE_DOCKER_IMAGE"]
        self.client = docker.DockerClient(base_url=self._settings["CAPYTALE_DOCKER_URL"], timeout=600)
        self.stack.callback(self.client.close)
        self.layers = {"base": notebook_image.base_tag(), "with the students' environment": notebook_image.students_tag()}

    def settings(self) -> dict[str, str]:
        return dict(self._settings)

    def _mib(self, container) -> float:
        """A container's memory as its cgroup counts it, inactive page cache left out (as docker stats)."""
        stats = container.stats(stream=False, one_shot=True)["memory_stats"]
        cache = stats.get("stats", {}).get("inactive_file", 0)
        return (stats.get("usage", 0) - cache) / 2**20

    def _containers(self, local: LocalPlatform, waiting: bool) -> list:
        """The platform's running containers: students' servers, or (``waiting``) the warm ones not given."""
        namespace = local.config.env["CAPYTALE_AMQP_NAMESPACE"]
        found = self.client.containers.list(filters={"label": f"capytale.namespace={namespace}"})
        return [c for c in found if ("-pool-" in c.name) == waiting]  # given ones are renamed after their student

    def student_mib(self, local: LocalPlatform) -> list[float]:
        """Per running student: their container's memory."""
        return [self._mib(container) for container in self._containers(local, waiting=False)]

    def waiting_mib(self, local: LocalPlatform) -> list[float]:
        return [self._mib(container) for container in self._containers(local, waiting=True)]

    def settle(self, local: LocalPlatform) -> None:
        """Until every node's pool is full (warm containers in the agents' pools), 5 min at most."""
        if not local.wait_pools_full(timeout=300):
            print("the pools are not full after 5 min: measuring anyway", flush=True)

    def sizes(self) -> dict:
        sizes = {f"image {name} ({tag})_mib": self.client.images.get(tag).attrs["Size"] / 2**20
                 for name, tag in self.layers.items()}
        sizes[f"image ({self.image})_mib"] = self.client.images.get(self.image).attrs["Size"] / 2**20
        return sizes

    def close(self) -> None:
        self.stack.close()


@contextlib.contextmanager
def platform_with_activity(backend: Backend, name: str):
    """The platform as ``make run`` starts it, on ``backend``, with a teacher's activity; its share path."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"capytale-{name}-"))
    config = PlatformConfig(var_dir=var_dir, http_port=free_port(), nodes=4, log_dir=var_dir / "logs",
                            env={"CAPYTALE_AMQP_NAMESPACE": f"capytale-{name}-{var_dir.name}", **backend.settings()})
    local = LocalPlatform(config)
    print(f"starting the platform ({backend.name} backend) in {var_dir}…", flush=True)
    local.start(timeout=120)
    try:
        local.wait_nodes_routed()
        time.sleep(2)  # every node's first heartbeat
        teacher = Browser.on(local).login(f"prof.{name}", "teacher")
        created = teacher.upload(CORPUS / NOTEBOOK, "Banc d'essai")
        created.raise_for_status()
        yield local, urllib.parse.urlsplit(created.json()["share_url"]).path
    finally:
        local.stop(forget_messaging=True)


def run(students: int, class_size: int, output: Path, backend: Backend) -> dict:
    with platform_with_activity(backend, "bench") as (local, share):

        print(f"cold and warm: {students} students one after the other…", flush=True)
        backend.settle(local)
        browsers = [Browser.on(local).login(f"eleve.seq{i}", "student") for i in range(students)]
        cold = [time_to_notebook(b, share)[0] for b in browsers]
        warm = [time_to_notebook(b, share)[0] for b in browsers]

        print("idle server memory…", flush=True)
        time.sleep(3)
        idle = backend.student_mib(local)

        print(f"cold click → first cell result: {students} more students one after the other…", flush=True)
        backend.settle(local)
        kernels, first_cell = [], []
        for i in range(students):
            _notebook, first, _node, kernel = time_to_cell(Browser.on(local).login(f"eleve.cellule{i}", "student"), share)
            first_cell.append(first)
            kernels.append(kernel)
        time.sleep(3)
        with_kernel = sorted(backend.student_mib(local), reverse=True)[:students]  # those with a kernel
        print("then numpy and matplotlib imported in each of their kernels…", flush=True)
        imports = [time_to_imports(kernel) for kernel in kernels]
        time.sleep(3)
        with_numpy = sorted(backend.student_mib(local), reverse=True)[:students]
        for kernel in kernels:
            with contextlib.suppress(Exception):
                kernel.__exit__(None, None, None)

        waiting = backend.waiting_mib(local)
        print(f"a class of {class_size} arriving within one second…", flush=True)
        backend.settle(local)
        arrivals = [Browser.on(local).login(f"eleve.classe{i}", "student") for i in range(class_size)]
        outcomes: list[tuple | str] = [""] * class_size
        class_kernels: list[object] = []
        start = time.perf_counter()

        def arrive(index: int) -> None:
            time.sleep(max(0.0, start + index / class_size - time.perf_counter()))
            try:
                notebook, first, node, kernel = time_to_cell(arrivals[index], share)
                outcomes[index] = (notebook, first, node)
                class_kernels.append(kernel)
            except Exception as exc:  # noqa: BLE001 - a failure is a figure here
                outcomes[index] = f"{type(exc).__name__}: {exc}"[:200]

        with ThreadPoolExecutor(max(1, class_size)) as pool:
            list(pool.map(arrive, range(class_size)))
        for kernel in class_kernels:
            with contextlib.suppress(Exception):
                kernel.__exit__(None, None, None)
        times = [o[0] for o in outcomes if isinstance(o, tuple)]
        firsts = [o[1] for o in outcomes if isinstance(o, tuple)]
        spread: dict[int, int] = {}
        for o in outcomes:
            if isinstance(o, tuple):
                spread[o[2]] = spread.get(o[2], 0) + 1

        results = {
            "backend": backend.name,
            "machine": {"cpus": os.cpu_count(), "python": host.python_version(), "kernel": host.release(),
                        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
            "cold_seconds": summary(cold),
            "warm_seconds": summary(warm),
            "first_cell_seconds": summary(first_cell),
            "import_numpy_matplotlib_seconds": summary(imports),
            "class": {**summary(times), "size": class_size,
                      "failures": [o for o in outcomes if isinstance(o, str)], "per_node": spread},
            "class_first_cell_seconds": summary(firsts),
            "idle_server_mib": summary(idle),
            "idle_student_with_kernel_mib": summary(with_kernel),
            "idle_student_with_numpy_matplotlib_mib": summary(with_numpy),
            "warm_container_waiting_mib": summary(waiting),
            "environment_size_mib": backend.sizes(),
            "platform_mib": platform_memory(local),
        }
        output.write_text(json.dumps(results, indent=2, ensure_ascii=False))  # before the platform stops
        print_results(results, output)
    return results


def print_results(r: dict, output: Path) -> None:
    ms = lambda s: f"{s * 1000:7.0f} ms"  # noqa: E731
    print(f"\n=== Capytale benchmark, {r['backend']} backend ===")
    print(f"machine: {r['machine']}")
    for label, key in (("cold (new student)", "cold_seconds"), ("warm (server running)", "warm_seconds"),
                       ("cold → first cell result", "first_cell_seconds"),
                       ("then numpy + matplotlib", "import_numpy_matplotlib_seconds")):
        s = r[key]
        print(f"{label:26} n={s['n']:3}  min {ms(s['min'])}  median {ms(s['median'])}  p95 {ms(s['p95'])}")
    c = r["class"]
    if c["n"]:
        f = r["class_first_cell_seconds"]
        print(f"{'class of ' + str(c['size']) + ' → notebook':26} ok={c['n']:3}  median {ms(c['median'])}  "
              f"p95 {ms(c['p95'])}  max {ms(c['max'])}  failures {len(c['failures'])}  per node {c['per_node']}")
        print(f"{'    → first cell result':26} ok={f['n']:3}  median {ms(f['median'])}  p95 {ms(f['p95'])}"
              f"  max {ms(f['max'])}")
    else:
        print(f"class of {c['size']}: every arrival failed: {c['failures'][:3]}")
    for label, key in (("idle student server", "idle_server_mib"), ("idle student, kernel", "idle_student_with_kernel_mib"),
                       ("    numpy + mpl imported", "idle_student_with_numpy_matplotlib_mib"),
                       ("warm container, waiting", "warm_container_waiting_mib")):
        m = r[key]
        if m["n"]:
            print(f"{label:26} median {m['median']:6.1f} MiB  p95 {m['p95']:6.1f} MiB  (n={m['n']})")
    for name, size in r["environment_size_mib"].items():
        if name.endswith("_mib"):
            print(f"size of {name[:-4]:40} {size:7.0f} MiB")
    for kind, m in r["platform_mib"].items():
        print(f"platform {kind:17} {m['processes']:2} processes  PSS {m['pss_mib']:7.1f} MiB  RSS {m['rss_mib']:7.1f} MiB")
    print(f"figures written to {output}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--students", type=int, default=12, help="students for the cold and warm figures")
    parser.add_argument("--class-size", type=int, default=35, help="students arriving within one second")
    parser.add_argument("--output", type=Path, default=None, help="default: bench-results-<backend>.json")
    parser.add_argument("--backend", choices=("process", "docker"), default="process",
                        help="where students' servers run (docker: containers, on an engine started if none answers)")
    args = parser.parse_args()
    backend = DockerBackend() if args.backend == "docker" else Backend()
    try:
        run(args.students, args.class_size, args.output or Path(f"bench-results-{args.backend}.json"), backend)
    finally:
        backend.close()


if __name__ == "__main__":
    main()
