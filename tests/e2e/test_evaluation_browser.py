"""The evaluation loop in real browsers (Chromium through HAProxy), every part real, the clock set by the test.

A student hands in from their page and can no longer edit: the open notebook's save is refused with
Jupyter's own error and the file stays as handed in.  The teacher grades, writes an appréciation and a
note on a cell, marks it corrected; the student sees all three in their notebook (read-only cells) and
on their page.  A closing passes: copies handed in and read-only; in hidden mode the student is told.
The activities service's clock is a file these tests write (``CAPYTALE_CLOCK_FILE``, tests only).
"""
from __future__ import annotations

import re
import urllib.parse
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.browser import Browser
from tests.e2e.chromium import SLOW, close_jupyter_dialogs, open_notebook, wait_for_saved_text
from tests.e2e.conftest import start_platform
from tests.e2e.test_teacher_browser import DICE, create_activity, type_in_new_cell

pytestmark = pytest.mark.e2e

PARIS = ZoneInfo("Europe/Paris")
READ_ONLY = re.compile(r"lecture seule|read-only", re.IGNORECASE)


@pytest.fixture(scope="module")
def platform(tmp_path_factory, request):
    """The platform whose activities service reads its time from a file, swept every second."""
    clock = tmp_path_factory.mktemp("clock") / "now"
    clock.write_text("")
    local = start_platform(tmp_path_factory, request, CLOCK_FILE=str(clock), CLOSING_INTERVAL="1")
    local.clock = clock
    yield local
    local.stop(forget_messaging=True)


@pytest.fixture
def clock(platform):
    """Set the platform's time (``clock(moment)``); the real time again after the test."""
    yield lambda moment: platform.clock.write_text(moment.astimezone(timezone.utc).isoformat())
    platform.clock.write_text("")


def paris(moment: datetime) -> str:
    """``moment`` as a datetime-local field takes it: Paris time, to the minute."""
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def new_activity(people, corpus, teacher_name: str, title: str):
    teacher = people.login(teacher_name, "teacher", "/activities/new")
    create_activity(teacher, people, corpus / DICE, title)
    teacher.click("#new-activity button[type=submit]")
    teacher.wait_for_url(re.compile(r"/activities/\d+\?created=1"))
    code = teacher.inner_text("#share-code").strip().lower()
    return teacher, code, teacher.url.split("?")[0]


def set_window(teacher, activity_url: str, closes_at: datetime | None = None, opens_at: datetime | None = None,
               after_close: str = "read_only") -> None:
    teacher.goto(activity_url)
    teacher.fill("#opens_at", paris(opens_at) if opens_at else "")
    teacher.fill("#closes_at", paris(closes_at) if closes_at else "")
    teacher.check(f"input[name=after_close][value={after_close}]")
    with teacher.expect_navigation():
        teacher.click("#window button[type=submit]")
    teacher.wait_for_selector("#window")
    assert teacher.locator("main .error").count() == 0, teacher.inner_text("main .error")


def row_state(teacher, activity_url: str, uid: str, state: str, timeout: float = 30) -> None:
    """Reload the teacher's list until the student's copy shows ``state``."""
    teacher.goto(activity_url)
    for _ in range(int(timeout)):
        if teacher.locator(f"tr[data-uid='{uid}'][data-state='{state}']").count():
            return
        teacher.wait_for_timeout(1000)
        teacher.reload()
    raise AssertionError(f"the copy of {uid} never became {state}")


def refused_save(page) -> None:
    """Try to save the open notebook: Jupyter itself says it is read-only (a dialog or a notice)."""
    close_jupyter_dialogs(page)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Control+s")
    page.get_by_text(READ_ONLY).first.wait_for(timeout=SLOW)


def test_hand_in_correction_and_the_student_sees_it(people, platform, corpus):
    teacher, code, activity_url = new_activity(people, corpus, "prof.correctrice", "Dés à rendre")
    student = people.login("lina.rendue", "student", f"/s/{code}")
    open_notebook(student, f"/s/{code}")
    type_in_new_cell(student, "print('ma réponse rendue')")
    teacher.goto(activity_url)
    teacher.locator("tr[data-uid='lina.rendue']").get_by_role("link", name="Voir la copie").click()
    wait_for_saved_text(teacher, "ma réponse rendue")

    # the student hands in from their page (another tab; the notebook stays open)
    mine = student.context.new_page()
    mine.goto("/activities/me/")
    assert "Dés à rendre" in mine.inner_text("#my-copies")
    mine.get_by_role("link", name="Détails").click()
    mine.on("dialog", lambda dialog: dialog.accept())  # "Rendre ta copie ? …"
    mine.get_by_role("button", name="Rendre ma copie").click()
    mine.wait_for_selector("text=Ta copie est rendue.")
    people.screenshot(mine, "copie-rendue")

    # the open notebook can no longer be saved: Jupyter's own error, the file as handed in
    student.bring_to_front()
    type_in_new_cell(student, "print('après la remise')", saved=False)
    student.get_by_text(READ_ONLY).first.wait_for(timeout=SLOW)
    people.screenshot(student, "carnet-en-lecture-seule")
    opened_again = student.context.new_page()
    open_notebook(opened_again, f"/s/{code}")
    opened_again.locator("[data-jp-item-name=read-only-indicator]").wait_for(timeout=SLOW)
    refused_save(opened_again)
    teacher.reload()
    assert "Copie rendue le" in teacher.inner_text("#frozen")
    assert "ma réponse rendue" in teacher.inner_text("main") and "après la remise" not in teacher.inner_text("main")

    # the teacher grades, writes an appréciation and a note on the student's cell, marks it corrected
    teacher.fill("#grade", "15,5")
    teacher.fill("#comment", "Bonne démarche ; justifie tes calculs.")
    noted = teacher.locator(".nb-cell", has_text="ma réponse rendue")
    noted.locator("summary").click()
    noted.locator("textarea").fill("Affiche aussi le résultat.")
    teacher.get_by_role("button", name="Enregistrer et marquer corrigée").click()
    teacher.wait_for_selector("text=Correction enregistrée.")
    assert teacher.locator("[data-state=corrigee]").count()
    people.screenshot(teacher, "copie-corrigee", full_page=False)

    # the student sees all three in their notebook, under the cells, and on their page
    open_notebook(opened_again, f"/s/{code}")
    opened_again.wait_for_function(
        "() => (document.querySelector('.jp-Notebook')?.textContent ?? '').includes('Correction de ton enseignant')",
        timeout=SLOW)
    text = opened_again.inner_text(".jp-Notebook")
    assert "15,5 / 20" in text and "Bonne démarche ; justifie tes calculs." in text
    assert "Affiche aussi le résultat." in text
    cells = opened_again.locator(".jp-Notebook .jp-Cell")
    texts = [cells.nth(n).inner_text() for n in range(cells.count())]
    at = next(n for n, cell in enumerate(texts) if "ma réponse rendue" in cell)
    assert "Affiche aussi le résultat." in texts[at + 1]  # the note right under its cell
    people.screenshot(opened_again, "carnet-corrige")
    mine.goto("/activities/me/")
    row = mine.locator(f"tr[data-code='{code}']")
    assert "15,5 / 20" in row.inner_text() and "Bonne démarche" in row.inner_text()
    assert row.locator("[data-state=corrigee]").count() == 1
    mine.get_by_role("link", name="Détails").click()
    assert "Affiche aussi le résultat." in mine.inner_text("main")
    people.screenshot(mine, "mes-activites-eleve")


def test_a_closing_hands_the_copies_in_and_makes_them_read_only(people, platform, corpus, clock):
    teacher, code, activity_url = new_activity(people, corpus, "prof.horaire", "Dés chronométrés")
    closes = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(hours=1)
    set_window(teacher, activity_url, closes_at=closes)
    assert closes.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") in teacher.inner_text("#window-summary")

    student = people.login("tom.presse", "student", f"/s/{code}")
    open_notebook(student, f"/s/{code}")
    type_in_new_cell(student, "print('avant la fermeture')")
    http = Browser.on(platform).login("zoe.http", "student")
    link = http.open_share(f"/s/{code}")
    assert http.enter(link).status_code == 200
    notebook = http.contents(link).json()["content"]
    assert http.save(link, notebook).status_code == 200

    clock(closes + timedelta(minutes=1))  # the closing passes; the sweep hands every copy in
    row_state(teacher, activity_url, "tom.presse", "rendue")
    row_state(teacher, activity_url, "zoe.http", "rendue")
    refused = http.save(link, notebook)  # a save now is Jupyter's own 403, and nothing changes
    assert refused.status_code == 403, refused.text
    assert "est en lecture seule : cette copie a été rendue" in refused.json()["message"]
    assert http.contents(link).json()["writable"] is False
    refused_save(student)
    teacher.goto(activity_url)
    with teacher.expect_navigation():
        teacher.locator("tr[data-uid='tom.presse']").get_by_role("link", name="Voir la copie").click()
    assert "avant la fermeture" in teacher.inner_text("main")

    late = people.login("leo.retard", "student", f"/s/{code}")  # no copy: none is given after the closing
    late.wait_for_selector("h1")
    assert "Activité fermée" in late.inner_text("h1") and "plus possible" in late.inner_text("main")


def test_before_opening_and_after_a_hidden_closing_the_student_is_told(people, platform, corpus, clock):
    teacher, code, activity_url = new_activity(people, corpus, "prof.discrete", "Dés masqués")
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    opens, closes = now + timedelta(hours=1), now + timedelta(hours=2)
    set_window(teacher, activity_url, opens_at=opens, closes_at=closes, after_close="hidden")

    early = people.login("ines.tot", "student", f"/s/{code}")
    early.wait_for_selector("h1")
    assert "Pas encore ouverte" in early.inner_text("h1")
    assert f"ouvre le {opens.astimezone(PARIS).strftime('%d/%m/%Y à %H:%M')}" in early.inner_text("main")

    clock(opens + timedelta(minutes=5))
    open_notebook(early, f"/s/{code}")
    type_in_new_cell(early, "print('travail masqué')")
    clock(closes + timedelta(minutes=5))
    row_state(teacher, activity_url, "ines.tot", "rendue")
    early.goto(f"/s/{code}")
    early.wait_for_selector("h1")
    assert "Activité fermée" in early.inner_text("h1")
    told = early.inner_text("main")
    assert "masquée" in told and "rouvrira quand il ou elle le décidera" in told
    people.screenshot(early, "activite-masquee")
    early.goto("/activities/me/")
    assert "fermée par ton enseignant·e" in early.inner_text(f"tr[data-code='{code}']")

    set_window(teacher, activity_url, closes_at=None)  # the teacher reopens: the copy is given back
    row_state(teacher, activity_url, "ines.tot", "en_cours")
    open_notebook(early, f"/s/{code}")
    assert "travail masqué" in early.inner_text(".jp-Notebook")
    assert urllib.parse.urlsplit(early.url).path.endswith(".ipynb")
