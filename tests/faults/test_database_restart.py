"""PostgreSQL restarts during a class: the platform's private cluster is stopped (fast) and started again."""
from __future__ import annotations

import pytest

from tests.faults.classroom import RETRY_PAGE

pytestmark = pytest.mark.e2e


def test_a_database_restart_during_a_class_loses_nothing(classroom, database):
    """PostgreSQL stops (fast shutdown: every connection of the three services cut) and starts again on
    the same port and data, during a class.

    Lost: nothing, saved or typed.  Students who have their notebook open save and run cells
    throughout: their way needs no database.  While it is away, what needs it says so in French and
    asks to try again (503): the teacher's list, a student opening the link for the first time.  Once it
    is back, every service answers at the first request (the pools' stale connections are tested
    before use, ``pool_pre_ping``), the teacher's list shows every copy, the student refused during the
    outage and a new one get in, and each student's copy holds their last save.
    """
    pupils = [classroom.seat("en-classe") for _ in range(2)]
    for pupil in pupils:
        pupil.saves_fine()
        pupil.runs_fine()
    late = classroom.student("pendant-la-panne")  # logged in before: auth's login writes to its database

    database.stop()
    assert not database.answers(), "the database is down"
    for pupil in pupils:  # the open notebooks need no database
        pupil.saves_fine()
        pupil.runs_fine()
        pupil.reads_own_work()
    teacher = classroom.teacher
    listing = teacher.http.get(teacher.url(f"/activities/api/activities/{classroom.activity['id']}/copies"),
                               timeout=30)
    assert listing.status_code == 503 and RETRY_PAGE.search(listing.json()["error"]), (
        f"the teacher's list while the database is away: {listing.status_code} {listing.text[:300]}")
    refused = late.http.get(late.url(classroom.share), allow_redirects=False, timeout=30)
    assert refused.status_code in (502, 503) and RETRY_PAGE.search(refused.text), (
        f"a student arriving during the outage should be told to try again: {refused.status_code} {refused.text[:300]}")

    database.start()
    assert classroom.copies(), "the teacher's list answers at the first request after the restart"
    after = classroom.student("apres-la-panne")  # auth's database again
    newcomers = []
    for browser in (late, after):
        pupil, refusals = classroom.arrive(browser)
        assert refusals == [], f"{browser.name} was refused after the restart: {refusals}"
        newcomers.append(pupil)
    for pupil in [*pupils, *newcomers]:
        pupil.saves_fine()
        pupil.runs_fine()
    for pupil in pupils:
        classroom.reopen(pupil)
    classroom.nothing_lost()
