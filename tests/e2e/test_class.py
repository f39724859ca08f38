"""A class arriving at once, at the platform's default settings: all 35 students reach their notebook and
their first cell answers; nobody is refused (each node queues the starts it cannot run yet)."""
from __future__ import annotations

import statistics
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e

CLASS_SIZE = 35


def arrive_and_run_a_cell(person, share: str) -> tuple[object, str, float, float]:
    """As the notebook page does: the share URL, the notebook read, a kernel started, a cell run; its link,
    what the cell printed, and the seconds to the notebook and to the cell's answer."""
    began = time.monotonic()
    link = person.open_share(share, timeout=240)
    assert person.enter(link).status_code == 200
    assert person.contents(link).status_code == 200
    notebook = time.monotonic() - began
    with person.kernel(link, notebook_path=urllib.parse.unquote(link.path), timeout=240) as kernel:
        printed = kernel.execute("print(6 * 7)", timeout=120).printed.strip()
    return link, printed, notebook, time.monotonic() - began


def test_a_class_arriving_within_a_second_all_get_in_and_run_a_cell(student, activity, operator):
    share = urllib.parse.urlsplit(activity["share_url"]).path
    students = [student("classe") for _ in range(CLASS_SIZE)]
    outcomes: list = [None] * CLASS_SIZE
    start = time.monotonic()

    def arrive(index: int) -> None:
        time.sleep(max(0.0, start + index / CLASS_SIZE - time.monotonic()))
        try:
            outcomes[index] = arrive_and_run_a_cell(students[index], share)
        except Exception as exc:  # noqa: BLE001 - every failure is listed below
            outcomes[index] = f"{type(exc).__name__}: {exc}"[:300]

    try:
        with ThreadPoolExecutor(CLASS_SIZE) as pool:
            list(pool.map(arrive, range(CLASS_SIZE)))
        failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
        assert not failures, f"{len(failures)} of {CLASS_SIZE} failed: {failures[:5]}"
        assert [printed for _link, printed, _n, _c in outcomes] == ["42"] * CLASS_SIZE
        assert len({link.prefix for link, *_ in outcomes}) == CLASS_SIZE, "one server each"
        notebooks, cells = sorted(o[2] for o in outcomes), sorted(o[3] for o in outcomes)
        print(f"\nclass of {CLASS_SIZE}: notebook median {statistics.median(notebooks):.1f} s, max {notebooks[-1]:.1f} s;"
              f" first cell median {statistics.median(cells):.1f} s, max {cells[-1]:.1f} s")
    finally:
        for outcome in outcomes:
            if isinstance(outcome, tuple):  # the next tests do not share the node with a whole class
                operator(outcome[0].node, "server.stop", user_key=outcome[0].key, reason="admin")
