"""Every notebook of the shared corpus, through the whole platform: uploaded by a teacher, shared,
opened by a student in their own server, viewed read-only by the teacher.  (A notebook that really is
invalid would be refused with a clear reason and nothing stored; none of the corpus is.)"""
from __future__ import annotations

import csv
import json
import re
import urllib.parse
from html.parser import HTMLParser

import nbformat
import pytest

from services.activities.grading import student_version
from tests.conftest import CORPUS
from tests.e2e.browser import Browser

pytestmark = pytest.mark.e2e


def corpus_names() -> list[str]:
    with (CORPUS / "MANIFEST.tsv").open(newline="", encoding="utf-8") as manifest:
        return [row["file_name"] for row in csv.DictReader(manifest, delimiter="\t")]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def sample_line(notebook) -> str:
    """A line of a code cell (shown as it is by the read-only view), else of the first non-empty cell."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()] or \
            [c for c in notebook.cells if c.source.strip()]
    line = next(line for line in cells[0].source.splitlines() if line.strip())
    return " ".join(line.split())


@pytest.fixture(scope="module")
def corpus_teacher(platform):
    return Browser.on(platform).login("prof.corpus", "teacher")


@pytest.fixture(scope="module")
def corpus_student(platform):
    return Browser.on(platform).login("eleve.corpus", "student")


@pytest.mark.parametrize("name", corpus_names())
def test_a_corpus_notebook_goes_all_the_way(name, corpus_teacher, corpus_student):
    source = CORPUS / name
    assert source.is_file(), f"{name} is listed in MANIFEST.tsv but missing"
    before = corpus_teacher.http.get(corpus_teacher.url("/activities/api/activities"), timeout=10).json()
    answer = corpus_teacher.upload(source, f"Corpus — {name}")
    if answer.status_code == 400:  # refused: it says why, in French, and nothing was stored
        assert re.search(r"[a-zé]{3,} .*[.:]", answer.json()["error"]), answer.json()
        assert corpus_teacher.http.get(corpus_teacher.url("/activities/api/activities")).json() == before
        pytest.fail(f"{name} refused: {answer.json()['error']}")  # no corpus notebook is invalid
    assert answer.status_code == 201, answer.text
    activity = answer.json()
    master = student_version(source.read_bytes()).notebook  # what students get: problem1's solutions stubbed

    # the student opens it in their own server: the same cells as the teacher's notebook
    link = corpus_student.open_share(urllib.parse.urlsplit(activity["share_url"]).path)
    assert corpus_student.enter(link).status_code == 200
    content = corpus_student.contents(link)
    assert content.status_code == 200, content.text[:300]
    opened = nbformat.from_dict(content.json()["content"])
    assert [c.source for c in opened.cells] == [c.source for c in master.cells]
    assert [c.cell_type for c in opened.cells] == [c.cell_type for c in master.cells]

    # the teacher sees it read-only, and downloads the student's bytes
    copies = corpus_teacher.http.get(corpus_teacher.url(f"/activities/api/activities/{activity['id']}/copies")).json()
    [copy] = copies
    uid = urllib.parse.quote(copy["student"]["uid"])
    view = corpus_teacher.http.get(corpus_teacher.url(f"/activities/{activity['id']}/copies/{uid}"), timeout=30)
    assert view.status_code == 200
    assert sample_line(master) in visible_text(view.text)
    raw = corpus_teacher.http.get(corpus_teacher.url(f"/activities/api/activities/{activity['id']}/copies/{uid}/notebook"))
    assert raw.status_code == 200
    assert raw.content == corpus_student.contents(link, raw=True).json()["content"].encode()
    json.loads(raw.content)
