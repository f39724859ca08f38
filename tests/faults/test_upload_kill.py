"""The activities service is killed (SIGKILL, master and workers) while a teacher's large upload is in flight."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import urllib.parse

import psycopg
import pytest
import requests

from tests.faults.classroom import RETRY_PAGE, every_part_answers, unless_cut
from tests.faults.private import wait_until

pytestmark = pytest.mark.e2e

ANNEX_BYTES = 4 * 1024 * 1024


def stored_versions(platform, database) -> tuple[set[tuple[int, int]], set[tuple[int, int]], list[str]]:
    """What activities holds: its version rows, the master folders on storage, and anything else in masters/."""
    with psycopg.connect(database.url("capytale_activities")) as connection:
        rows = set(connection.execute("SELECT activity_id, number FROM activity_versions").fetchall())
    masters = platform.var_dir / "data" / "masters"
    folders, other = set(), []
    for activity in masters.iterdir() if masters.is_dir() else ():
        if not activity.name.isdigit():
            other.append(activity.name)  # a staging folder left behind
            continue
        folders |= {(int(activity.name), int(version.name)) for version in activity.iterdir()}
    return rows, folders, other


def send_in_two_halves(prepared: requests.PreparedRequest, between) -> tuple[int | None, str]:
    """Send ``prepared`` to HAProxy by hand: the head and half of the body, then ``between()``, then read the
    answer (the rest of the body is never sent: the service that was reading it is gone).  Its status and
    body; None when the connection was closed without an answer."""
    url = urllib.parse.urlsplit(prepared.url)
    head = [f"{prepared.method} {url.path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close",
            *(f"{name}: {value}" for name, value in prepared.headers.items())]
    body = prepared.body
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(body[: len(body) // 2])
        between()
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    if not answer:
        return None, ""
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode(errors="replace")


def test_activities_killed_during_an_upload_stores_nothing_half(whole, database, classroom, corpus):
    """SIGKILL to the activities service (its gunicorn master and workers) while a teacher's upload of a
    notebook with 12 MB of annex files is half sent.

    Lost: that upload only; the teacher is told in French to try again (HAProxy's 502, then 503 while
    the service is down) and the same upload succeeds once it is back.  Nothing is stored by halves:
    no version row without its master folder, no folder without its row, no staging folder left, and
    the teacher's list is what it was.  A student at work on the teacher's earlier activity saves and
    runs cells throughout (their way does not go through activities) and gets in again afterwards.
    """
    platform, teacher = whole, classroom.teacher
    pupil = classroom.seat("en-classe")
    pupil.saves_fine()
    pupil.runs_fine()
    before = teacher.http.get(teacher.url("/activities/api/activities"), timeout=30).json()
    rows, folders, other = stored_versions(platform, database)
    assert rows == folders and not other, "stored whole before the fault"

    notebook = corpus / "Calcul d'une paire de dés un peu particuliers.ipynb"
    annexes = [(f"données/mesures {n} été.bin", secrets.token_bytes(ANNEX_BYTES)) for n in range(3)]
    files = [("notebook", (notebook.name, notebook.read_bytes(), "application/x-ipynb+json")),
             *(("annex", (name, data, "application/octet-stream")) for name, data in annexes)]
    upload = teacher.http.prepare_request(requests.Request("POST", teacher.url("/activities/api/activities"),
                                                           data={"title": "Gros envoi"}, files=files))

    activities = platform.processes["activities"]

    def kill_activities() -> None:
        os.killpg(activities.pid, signal.SIGKILL)
        activities.popen.wait(timeout=30)

    status, page = send_in_two_halves(upload, kill_activities)
    # HAProxy's French 502, or (HAProxy 2.6, the server gone while the body still comes) the connection closed
    # without an answer: the browser's own "no data received" page; never a success
    assert status is None or (status in (502, 503) and RETRY_PAGE.search(page)), (
        f"the upload cut short: {status} {page[:300]}")
    # the teacher tries again at once: the service is still down (the French 503), or HAProxy cut that request too
    retried = unless_cut(lambda: teacher.upload(notebook, "Gros envoi", annexes))
    assert retried is None or (retried.status_code == 503 and RETRY_PAGE.search(retried.text)), (
        f"{retried.status_code} {retried.text[:300]}")
    pupil.saves_fine()
    pupil.runs_fine()

    platform.start_again("activities")
    wait_until(lambda: every_part_answers(platform), 30, "activities answering through HAProxy again")
    assert stored_versions(platform, database) == (rows, folders, other), "nothing stored from the cut upload"
    assert teacher.http.get(teacher.url("/activities/api/activities"), timeout=30).json() == before

    done = teacher.upload(notebook, "Gros envoi", annexes)
    assert done.status_code == 201, f"the same upload after the restart: {done.status_code} {done.text[:300]}"
    master = platform.var_dir / "data" / "masters" / str(done.json()["id"]) / "1"
    assert (master / notebook.name).read_bytes() == notebook.read_bytes()
    for name, data in annexes:
        assert (master / name).read_bytes() == data, f"{name} stored whole"
    after = teacher.http.get(teacher.url("/activities/api/activities"), timeout=30).json()
    assert [a["id"] for a in after] == [done.json()["id"], *(a["id"] for a in before)]
    rows, folders, other = stored_versions(platform, database)
    assert rows == folders and not other
    pupil.saves_fine()
    classroom.reopen(pupil)
    classroom.nothing_lost()
