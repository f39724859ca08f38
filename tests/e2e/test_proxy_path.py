"""The node's proxy carries a class's saves and kernel sessions without an error: students each save
their notebook and change their kernel session many times, at once, through HAProxy → configurable-http-
proxy → their server's Unix socket; every answer is the server's own (no 503 from the proxy)."""
from __future__ import annotations

import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.test_main_flow import share_path

pytestmark = pytest.mark.e2e

STUDENTS, ROUNDS = 10, 30  # 600 requests with a body, bounded


def test_saves_and_session_changes_of_a_class_all_reach_the_servers(student, activity):
    pupils = [student(f"eleve{i}") for i in range(STUDENTS)]
    links = [pupil.open_share(share_path(activity)) for pupil in pupils]
    for pupil, link in zip(pupils, links):
        assert pupil.enter(link).status_code == 200

    def work(index: int) -> Counter:
        pupil, link = pupils[index], links[index]
        notebook = pupil.contents(link).json()["content"]
        session = pupil.http.post(pupil.url(f"{link.prefix}api/sessions"), headers=pupil._xsrf(link), timeout=60,
                                  json={"path": link.path, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
        assert session.status_code == 201, session.text[:300]
        statuses = Counter()
        for round_ in range(ROUNDS):
            notebook["metadata"]["capytale_round"] = round_
            statuses[pupil.save(link, notebook).status_code] += 1
            renamed = pupil.http.patch(pupil.url(f"{link.prefix}api/sessions/{session.json()['id']}"),
                                       json={"name": f"tour {round_}"}, headers=pupil._xsrf(link), timeout=30)
            statuses[renamed.status_code] += 1
        pupil.http.delete(pupil.url(f"{link.prefix}api/sessions/{session.json()['id']}"), headers=pupil._xsrf(link),
                          timeout=30)
        return statuses

    with ThreadPoolExecutor(STUDENTS) as pool:
        total = sum(pool.map(work, range(STUDENTS)), Counter())
    assert total == Counter({200: 2 * STUDENTS * ROUNDS}), total
    saved = pupils[0].contents(links[0]).json()["content"]
    assert saved["metadata"]["capytale_round"] == ROUNDS - 1
    assert urllib.parse.unquote(links[0].path).endswith(".ipynb")
