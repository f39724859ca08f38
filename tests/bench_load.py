"""``make bench-load``: a class working for minutes through the public path, and every answer counted.

35 students (``--students``) open the share link, then each, in a loop for ``--minutes``: saves their
notebook (PUT, as autosave does), reads it back, renames their kernel session (PATCH, as the page
does), and every fifth round runs a cell in their kernel over its websocket; a pause of about two
seconds between rounds. Bounded in time and in count (``--max-requests``). Printed: every status
code seen, the 5xx among them, websocket failures, latency percentiles of the saves. Nothing here
is asserted: it is the figure ``docs/performance.md`` gives for the proxy path.
"""
from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.bench import Backend, DockerBackend, platform_with_activity, summary
from tests.e2e.browser import Browser


def run(students: int, minutes: float, max_requests: int, backend: Backend) -> dict:
    statuses: Counter = Counter()
    failures: list[str] = []
    saves: list[float] = []
    lock = threading.Lock()
    with platform_with_activity(backend, "load") as (local, share):
        pupils = [Browser.on(local).login(f"eleve.charge{i}", "student") for i in range(students)]
        print(f"{students} students open the link…", flush=True)
        links = [pupil.open_share(share, timeout=300) for pupil in pupils]
        deadline = time.monotonic() + minutes * 60

        def count(status: int) -> bool:
            with lock:
                statuses[status] += 1
                return sum(statuses.values()) < max_requests

        def work(index: int) -> None:
            pupil, link = pupils[index], links[index]
            rng = random.Random(index)
            try:
                pupil.enter(link).raise_for_status()
                notebook = pupil.contents(link).json()["content"]
                session = pupil.http.post(pupil.url(f"{link.prefix}api/sessions"), headers=pupil._xsrf(link),
                                          json={"path": link.path, "type": "notebook", "name": "",
                                                "kernel": {"name": "python3"}}, timeout=120)
                count(session.status_code)
                session_id = session.json()["id"]
                round_ = 0
                while time.monotonic() < deadline:
                    round_ += 1
                    notebook["metadata"]["capytale_load"] = round_
                    began = time.perf_counter()
                    saved = pupil.save(link, notebook)
                    with lock:
                        saves.append(time.perf_counter() - began)
                    going = count(saved.status_code)
                    going &= count(pupil.contents(link).status_code)
                    going &= count(pupil.http.patch(pupil.url(f"{link.prefix}api/sessions/{session_id}"),
                                                    json={"name": f"tour {round_}"}, headers=pupil._xsrf(link),
                                                    timeout=60).status_code)
                    if round_ % 5 == 0:
                        try:
                            with pupil.kernel(link, notebook_path=link.path, timeout=120) as kernel:
                                kernel.forget = None  # the session stays: the notebook is still open
                                if kernel.execute(f"print({round_} * 2)", timeout=120).printed.strip() != str(round_ * 2):
                                    raise RuntimeError("wrong answer")
                        except Exception as exc:  # noqa: BLE001 - a failure is a figure here
                            with lock:
                                failures.append(f"kernel: {type(exc).__name__}: {exc}"[:200])
                    if not going:
                        break
                    time.sleep(rng.uniform(1.5, 2.5))
            except Exception as exc:  # noqa: BLE001
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])

        print(f"working for {minutes} min (at most {max_requests} requests)…", flush=True)
        started = time.monotonic()
        with ThreadPoolExecutor(students) as pool:
            list(pool.map(work, range(students)))
        elapsed = time.monotonic() - started
    results = {"backend": backend.name, "students": students, "seconds": round(elapsed, 1),
               "requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items())),
               "server_errors": sum(n for code, n in statuses.items() if code >= 500),
               "failures": failures, "save_seconds": summary(saves)}
    print(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_load")
    parser.add_argument("--students", type=int, default=35)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--max-requests", type=int, default=12_000)
    parser.add_argument("--backend", choices=("process", "docker"), default="process")
    parser.add_argument("--output", type=Path, default=None, help="default: bench-load-<backend>.json")
    args = parser.parse_args()
    backend = DockerBackend() if args.backend == "docker" else Backend()
    try:
        results = run(args.students, args.minutes, args.max_requests, backend)
    finally:
        backend.close()
    (args.output or Path(f"bench-load-{args.backend}.json")).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
