"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright (no browser download).

Each person gets a browser context of their own (cookies, language); pages go
through HAProxy like everyone else's.  ``screenshot`` always keeps a picture in the
test's folder, and also writes ``docs/screenshots/<name>.png`` when
``CAPYTALE_SCREENSHOTS=1`` (``make screenshots``), for the README.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying Google's hosts, which this machine refuses.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--lang=fr-FR"]
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NOTEBOOK_PAGE = re.compile(r"/n/\d+/u/[a-z0-9]+/notebooks/")
LAB_PAGE = re.compile(r"/n/\d+/u/[a-z0-9]+/lab")
SLOW = 90_000  # ms: a server start on a busy machine, a first JupyterLab load


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (make deps installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield browser
        browser.close()


class People:
    """Browser contexts, one per person, closed at the end of the test."""

    def __init__(self, chromium, base_url: str, shots: Path):
        self.chromium = chromium
        self.base_url = base_url.rstrip("/")
        self.shots = shots
        self.contexts: list = []

    def page(self, locale: str = "fr-FR"):
        context = self.chromium.new_context(base_url=self.base_url, locale=locale, accept_downloads=True,
                                            viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        self.contexts.append(context)
        return context.new_page()

    def login(self, name: str, role: str, next_path: str = "/", classes: str = "", locale: str = "fr-FR"):
        """A new person, logged in through the development login page; their page, at ``next_path``."""
        page = self.page(locale)
        page.goto(f"/auth/dev-login?next={next_path}")
        page.fill("#username", name)
        page.check(f"input[name=role][value={role}]")
        if classes:
            page.fill("#classes", classes)
        page.click("button[type=submit]")
        return page

    def screenshot(self, page, name: str, full_page: bool = True) -> Path:
        target = self.shots / f"{name}.png"
        page.screenshot(path=str(target), full_page=full_page)
        if os.environ.get("CAPYTALE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, DOCS_SCREENSHOTS / target.name)
        return target

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(chromium, platform, tmp_path) -> Iterator[People]:
    crowd = People(chromium, platform.url, tmp_path)
    yield crowd
    crowd.close()


def open_notebook(page, share_url: str):
    """Follow a share URL (waiting page included) to the student's notebook, rendered."""
    page.goto(share_url)
    page.wait_for_url(NOTEBOOK_PAGE, timeout=SLOW)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=SLOW)
    return page


def open_teacher_space(teacher):
    """Click « Mon espace Jupyter » in the teacher's pages: their JupyterLab, in a new tab, drawn."""
    with teacher.context.expect_page() as opened:
        teacher.click("nav >> text=Mon espace Jupyter")
    lab = opened.value
    lab.wait_for_url(LAB_PAGE, timeout=SLOW)
    lab.wait_for_selector(".jp-LabShell", timeout=SLOW)
    return lab


def wait_for_saved_text(page, text: str, timeout: float = SLOW) -> None:
    """Reload the teacher's read-only view of a copy until it shows ``text``: the view is drawn from
    storage when loaded, and the student's save may land a moment after the teacher opened it."""
    deadline = time.monotonic() + timeout / 1000
    while text not in page.inner_text("body"):
        assert time.monotonic() < deadline, f"{text!r} never reached the copy"
        page.wait_for_timeout(1000)
        page.reload()


def close_jupyter_dialogs(page) -> None:
    """Close a dialog Jupyter opened on its own, as the student would (a request that failed shows one)."""
    dialogs = page.locator(".jp-Dialog")
    while dialogs.count():
        page.keyboard.press("Escape")
        page.wait_for_timeout(200)


def jupyter_click(page, target, timeout: float = SLOW, double: bool = False) -> None:
    """Click ``target`` in a Jupyter page; a dialog that opens on its own meanwhile is closed first."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + timeout / 1000
    while True:
        close_jupyter_dialogs(page)
        try:
            (target.dblclick if double else target.click)(timeout=5_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
