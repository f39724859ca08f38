"""``make bench``: the main flow measured through HAProxy on this machine.

Figures: time from a student's first ``GET /s/<code>`` to their notebook being
readable through their server's contents API — cold (no server yet) and warm
(server running), min/median/p95 over several students; a class of 35 new
students arriving within one second (median, p95, max, failures); memory (RSS and
PSS) of an idle student server and of the platform's own processes. Printed, and
written to ``bench-results.json``. Nothing here is asserted: figures, not tests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform as host
import statistics
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import free_port
from tests.e2e.browser import Browser

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


def run(students: int, class_size: int, output: Path) -> dict:
    var_dir = Path(tempfile.mkdtemp(prefix="capytale-bench-"))
    config = PlatformConfig(var_dir=var_dir, http_port=free_port(), nodes=4, log_dir=var_dir / "logs",
                            env={"CAPYTALE_AMQP_NAMESPACE": f"capytale-bench-{var_dir.name}"})
    local = LocalPlatform(config)
    print(f"starting the platform in {var_dir}…", flush=True)
    local.start(timeout=120)
    try:
        local.wait_nodes_routed()
        time.sleep(2)  # every node's first heartbeat
        teacher = Browser(local.url).login("prof.bench", "teacher")
        created = teacher.upload(CORPUS / NOTEBOOK, "Banc d'essai")
        created.raise_for_status()
        share = urllib.parse.urlsplit(created.json()["share_url"]).path

        print(f"cold and warm: {students} students one after the other…", flush=True)
        browsers = [Browser(local.url).login(f"eleve.seq{i}", "student") for i in range(students)]
        cold = [time_to_notebook(b, share)[0] for b in browsers]
        warm = [time_to_notebook(b, share)[0] for b in browsers]

        print("idle server memory…", flush=True)
        time.sleep(3)
        idle = [memory(pid) for pid in server_pids(local)]

        print(f"a class of {class_size} arriving within one second…", flush=True)
        arrivals = [Browser(local.url).login(f"eleve.classe{i}", "student") for i in range(class_size)]
        outcomes: list[tuple[float, int] | str] = [""] * class_size
        start = time.perf_counter()

        def arrive(index: int) -> None:
            time.sleep(max(0.0, start + index / class_size - time.perf_counter()))
            try:
                outcomes[index] = time_to_notebook(arrivals[index], share)
            except Exception as exc:  # noqa: BLE001 - a failure is a figure here
                outcomes[index] = f"{type(exc).__name__}: {exc}"[:200]

        with ThreadPoolExecutor(class_size) as pool:
            list(pool.map(arrive, range(class_size)))
        times = [o[0] for o in outcomes if isinstance(o, tuple)]
        spread: dict[int, int] = {}
        for o in outcomes:
            if isinstance(o, tuple):
                spread[o[1]] = spread.get(o[1], 0) + 1

        results = {
            "machine": {"cpus": os.cpu_count(), "python": host.python_version(), "kernel": host.release(),
                        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
            "cold_seconds": summary(cold),
            "warm_seconds": summary(warm),
            "class": {**summary(times), "size": class_size,
                      "failures": [o for o in outcomes if isinstance(o, str)], "per_node": spread},
            "idle_server_mib": {"servers": len(idle),
                                "pss_median": statistics.median(m["pss_mib"] for m in idle) if idle else None,
                                "rss_median": statistics.median(m["rss_mib"] for m in idle) if idle else None},
            "platform_mib": platform_memory(local),
        }
    finally:
        local.stop(forget_messaging=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print_results(results, output)
    return results


def print_results(r: dict, output: Path) -> None:
    ms = lambda s: f"{s * 1000:7.0f} ms"  # noqa: E731
    print("\n=== Capytale benchmark ===")
    print(f"machine: {r['machine']}")
    for label, key in (("cold (new student)", "cold_seconds"), ("warm (server running)", "warm_seconds")):
        s = r[key]
        print(f"{label:24} n={s['n']:3}  min {ms(s['min'])}  median {ms(s['median'])}  p95 {ms(s['p95'])}")
    c = r["class"]
    if c["n"]:
        print(f"{'class of ' + str(c['size']):24} ok={c['n']:3}  median {ms(c['median'])}  p95 {ms(c['p95'])}"
              f"  max {ms(c['max'])}  failures {len(c['failures'])}  per node {c['per_node']}")
    else:
        print(f"class of {c['size']}: every arrival failed: {c['failures'][:3]}")
    i = r["idle_server_mib"]
    if i["servers"]:
        print(f"idle student server      PSS {i['pss_median']:.1f} MiB  RSS {i['rss_median']:.1f} MiB"
              f"  (median of {i['servers']})")
    for kind, m in r["platform_mib"].items():
        print(f"platform {kind:15} {m['processes']:2} processes  PSS {m['pss_mib']:7.1f} MiB  RSS {m['rss_mib']:7.1f} MiB")
    print(f"figures written to {output}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--students", type=int, default=12, help="students for the cold and warm figures")
    parser.add_argument("--class-size", type=int, default=35, help="students arriving within one second")
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    run(args.students, args.class_size, args.output)


if __name__ == "__main__":
    main()
