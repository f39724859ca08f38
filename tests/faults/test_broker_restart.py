"""RabbitMQ restarts during a class: the platform's private broker is stopped and started again."""
from __future__ import annotations

import pytest

from tests.faults.classroom import RETRY_PAGE

pytestmark = pytest.mark.e2e


def test_a_broker_restart_during_a_class_loses_nothing(classroom, broker):
    """RabbitMQ stops (its own graceful stop: every connection closed) and starts again on the same port
    and data, during a class.

    Lost: nothing, saved or typed.  Students who have their notebook open save and run cells
    throughout, in the same kernel: their way (HAProxy, the node's proxy, their server) carries no
    message.  A student who clicks the link while the broker is away gets the platform's French 503
    page ("Réessaie dans un instant"), since no node can be asked to start a server; their copy is
    made all the same and the teacher's pages keep answering.  Once the broker is back every
    connection comes back by itself (within its backoff, 10 s at most) and that student, a student
    arriving after the restart and those who reopen their link all get in, on their own copy.
    """
    pupils = [classroom.seat("en-classe") for _ in range(2)]
    for pupil in pupils:
        pupil.saves_fine()
        pupil.runs_fine()

    broker.stop()
    assert not broker.answers(), "the broker is down"
    for pupil in pupils:  # the open notebooks need no message
        pupil.saves_fine()
        pupil.runs_fine()
        pupil.reads_own_work()
    late = classroom.student("pendant-la-panne")
    refused = late.http.get(late.url(classroom.share), allow_redirects=False, timeout=30)
    assert refused.status_code == 503 and RETRY_PAGE.search(refused.text), (
        f"a student arriving during the outage should be told to try again: {refused.status_code} {refused.text[:300]}")
    assert late.name in classroom.copies(), "their copy is made all the same: activities needs no broker for it"

    broker.start()
    newcomers = [classroom.arrive(late)[0], classroom.arrive(classroom.student("apres-la-panne"))[0]]
    for pupil in newcomers:
        pupil.saves_fine()
        pupil.runs_fine()
    for pupil in pupils:  # still in their notebook and kernel; the link opens the same copy again
        pupil.saves_fine()
        pupil.runs_fine()
        classroom.reopen(pupil)
    classroom.nothing_lost()
