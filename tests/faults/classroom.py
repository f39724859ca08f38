"""A class at work, as the fault tests need it: students with their notebook open, saving and running cells.

A :class:`Pupil` is one student's browser in their own copy, with a kernel of the notebook open as
its page keeps one.  Each :meth:`Pupil.save` adds a cell whose text is new (``"<name>: saved 3"``)
and remembers it once the server said 200, as Jupyter's autosave writes what was typed; each
:meth:`Pupil.run` runs a cell in the same kernel (the first defines ``x``, the next ones print it:
a kernel that survived keeps its ``x``).  :meth:`Classroom.nothing_lost` asks the teacher's side for
every copy as it is on storage and checks that each holds its student's last save, and at the end
:meth:`Classroom.leave` stops their kernels and servers (:class:`Operator`), so that the next test
finds empty nodes.  :meth:`Classroom.arrive` is a student clicking the share link during or after an outage: the
platform's French "try again" pages are tried again, as a person would ("Réessayer"), anything else
fails.
"""
from __future__ import annotations

import collections
import itertools
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import requests
import websocket
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from capytale.messaging import Bus, Envelope, MessagingUnavailable, RpcTimeout, Topology
from tests.e2e.browser import Browser, Kernel, NotebookLink

FIRST_CELL = "x = 6 * 7; print(x)"  # what students run: harmless, never the network
NEXT_CELL = "print(x)"
PRINTED = "42\n"
RETRY_PAGE = re.compile(r"Réessaie|Réessayer")  # the platform's pages for a part that is away say so
_names = itertools.count(1)


def unique(name: str) -> str:
    return f"{name}-{next(_names)}"


@dataclass
class Pupil:
    browser: Browser
    share: str
    link: NotebookLink
    notebook: dict
    saves: int = 0
    last_saved: str | None = None
    kernel: Kernel | None = None
    kernel_id: str | None = None
    ran: int = 0
    servers: set[tuple[int, str]] = field(default_factory=set)  # (node, user key) of each server it used

    def __post_init__(self) -> None:
        self.servers.add((self.link.node, self.link.key))

    @property
    def name(self) -> str:
        return self.browser.name

    # --- saving ----------------------------------------------------------------------------

    def save(self) -> requests.Response:
        """Save the notebook with one more cell of new text; remembered as saved when the server says 200."""
        text = f"{self.name}: saved {self.saves + 1}"
        notebook = dict(self.notebook, cells=[*self.notebook["cells"],
                                              {"cell_type": "markdown", "metadata": {}, "source": text}])
        answer = self.browser.save(self.link, notebook)
        if answer.status_code == 200:
            self.saves, self.last_saved, self.notebook = self.saves + 1, text, notebook
        return answer

    def saves_fine(self) -> None:
        answer = self.save()
        assert answer.status_code == 200, f"{self.name} could not save: {answer.status_code} {answer.text[:300]}"

    def reads_own_work(self) -> None:
        """What the server serves is the student's last save."""
        answer = self.browser.contents(self.link)
        assert answer.status_code == 200, f"{self.name}: {answer.status_code} {answer.text[:300]}"
        if self.last_saved is not None:
            assert self.last_saved in str(answer.json()["content"]["cells"]), f"{self.name}'s last save is not there"

    # --- running cells ---------------------------------------------------------------------------

    def runs_fine(self) -> None:
        """Run a cell in the notebook's kernel (started with the first cell, as the page starts it)."""
        if self.kernel is None and self.kernel_id is None:
            self.kernel = self.browser.kernel(self.link, notebook_path=self.link.path)
            self.kernel_id = self.kernel.id
        elif self.kernel is None:
            self.kernel = connect(self.browser, self.link, self.kernel_id)
        code = FIRST_CELL if self.ran == 0 else NEXT_CELL
        printed = self.kernel.execute(code, timeout=60).printed
        assert printed == PRINTED, f"{self.name}'s cell {code!r} printed {printed!r}"
        self.ran += 1

    def lose_kernel_connection(self) -> None:
        """The page's websocket is gone (its node's proxy died); the kernel may live on behind it."""
        if self.kernel is not None:
            self.kernel.conn.close()
            self.kernel = None

    def leave(self) -> None:
        """Close the notebook: its kernel stops (the test leaves no kernel behind)."""
        if self.kernel is not None:
            self.kernel.conn.close()
            self.kernel = None
        if self.kernel_id is not None:
            try:
                self.browser.http.delete(self.browser.url(f"{self.link.prefix}api/kernels/{self.kernel_id}"),
                                         headers=self.browser._xsrf(self.link), timeout=10)
            except requests.RequestException:
                pass  # its server is gone: the platform's stop ends it


def person(platform, name: str, role: str) -> Browser:
    """A logged-in browser that, as browsers do, sends an idempotent request once more when the kept-alive
    connection it went on was closed before any answer (HAProxy closes an idle one after 15 s: a request
    leaving at that instant)."""
    browser = Browser.on(platform)
    again = Retry(total=1, connect=0, read=1, status=0, other=0, allowed_methods=Retry.DEFAULT_ALLOWED_METHODS)
    browser.http.mount("http://", HTTPAdapter(max_retries=again))
    return browser.login(unique(name), role)


def unless_cut(call):
    """``call()``'s answer, or None when the connection was closed without one.

    Right after a part is killed, HAProxy may still send a request over a kept-alive connection to it
    that the kill has just closed, and then closes the browser's connection without an answer (the
    page's call fails, Jupyter tries again at its next save): a request at that instant is lost, never
    what was saved."""
    try:
        return call()
    except requests.ConnectionError:
        return None


def every_part_answers(platform) -> bool:
    """Each service answers through HAProxy with its own answer, and every node's proxy is reached."""
    if not platform._every_service_routed():
        return False
    try:
        platform.wait_nodes_routed(timeout=1)
    except (TimeoutError, OSError):
        return False
    return True


def connect(browser: Browser, link: NotebookLink, kernel_id: str) -> Kernel:
    """A new websocket to a kernel that runs already, as the notebook page reconnects after a cut."""
    url = browser.url(f"{link.prefix}api/kernels/{kernel_id}/channels").replace("http://", "ws://", 1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser._server_cookies(link))
    conn = websocket.create_connection(url, header=[f"Cookie: {cookie}"], origin=browser.server_url(link), timeout=30)
    return Kernel(conn, kernel_id, browser.name, interrupt=lambda: None)


class Operator:
    """What the people running the platform see and say over its RabbitMQ: the nodes' heartbeats, and
    ``server.stop``."""

    def __init__(self, amqp_url: str, namespace: str):
        self.bus = Bus(amqp_url, "tests-operator", Topology(namespace)).start()
        assert self.bus.wait_ready(30), "the operator's connection to RabbitMQ"
        self.beats: collections.Counter[int] = collections.Counter()
        self.beat = threading.Condition()
        self.bus.subscribe(("node.heartbeat",), self._heard)

    def _heard(self, _key: str, event: Envelope) -> None:
        with self.beat:
            self.beats[event.body.get("node")] += 1
            self.beat.notify_all()

    def wait_heartbeats(self, node: int, count: int, timeout: float) -> None:
        """Wait for ``count`` more heartbeats of ``node``: after two, the router has heard the first too."""
        with self.beat:
            target = self.beats[node] + count
            assert self.beat.wait_for(lambda: self.beats[node] >= target, timeout), (
                f"node {node} sent no {count} heartbeats in {timeout:.0f} s")

    def stop_server(self, node: int, user_key: str) -> None:
        self.bus.call_node(node, Envelope("server.stop", {"user_key": user_key, "reason": "admin"}), timeout=10)

    def close(self) -> None:
        self.bus.close()


@dataclass
class Classroom:
    """The students of one activity, on one platform; each of them leaves (kernel and server stopped) at
    the end."""

    platform: object
    teacher: Browser
    activity: dict
    operator: Operator
    pupils: list[Pupil] = field(default_factory=list)

    @property
    def share(self) -> str:
        return urllib.parse.urlsplit(self.activity["share_url"]).path

    def student(self, name: str) -> Browser:
        return person(self.platform, name, "student")

    def seat(self, name: str, timeout: float = 90.0) -> Pupil:
        """A new student opens the share link and is in their notebook (page loaded, copy read)."""
        browser = self.student(name)
        return self.take_seat(browser, browser.open_share(self.share, timeout=timeout))

    def take_seat(self, browser: Browser, link: NotebookLink) -> Pupil:
        page = browser.enter(link)
        assert page.status_code == 200, f"{browser.name}'s notebook page: {page.status_code} {page.text[:300]}"
        contents = browser.contents(link)
        assert contents.status_code == 200, contents.text[:300]
        pupil = Pupil(browser, self.share, link, notebook=contents.json()["content"])
        self.pupils.append(pupil)
        return pupil

    def reopen(self, pupil: Pupil, timeout: float = 90.0) -> Pupil:
        """The same student clicks the share link again: the same copy, their last save in it.  On the
        same server their kernel is still there; on another (their node was away) a new one starts."""
        link = pupil.browser.open_share(self.share, timeout=timeout)
        page = pupil.browser.enter(link)
        assert page.status_code == 200, f"{pupil.name} reopening: {page.status_code} {page.text[:300]}"
        assert link.path == pupil.link.path, "the same copy"
        if link.prefix != pupil.link.prefix:
            pupil.lose_kernel_connection()
            pupil.kernel_id, pupil.ran = None, 0
        pupil.link = link
        pupil.servers.add((link.node, link.key))
        pupil.reads_own_work()
        return pupil

    def arrive(self, browser: Browser, timeout: float = 90.0) -> tuple[Pupil, list[int]]:
        """``browser`` opens the share link while a part of the platform comes back: a French page that
        says to try again (502, 503, 504) is tried again, the waiting page is followed.  The pupil, and
        the statuses of the refusals met on the way."""
        deadline = time.monotonic() + timeout
        refusals: list[int] = []
        while True:
            answer = browser.http.get(browser.url(self.share), allow_redirects=False, timeout=30)
            if answer.status_code in (200, 302):
                link = browser.open_share(self.share, timeout=max(5.0, deadline - time.monotonic()))
                return self.take_seat(browser, link), refusals
            assert answer.status_code in (502, 503, 504) and RETRY_PAGE.search(answer.text), (
                f"{browser.name} got {answer.status_code}: {answer.text[:500]}")
            refusals.append(answer.status_code)
            assert time.monotonic() < deadline, f"{browser.name} still refused after {timeout:.0f} s: {refusals}"
            time.sleep(1.0)  # a person reading the page, then clicking "Réessayer"

    def copies(self) -> dict[str, dict]:
        """The teacher's list of copies, by student name."""
        answer = self.teacher.http.get(self.teacher.url(f"/activities/api/activities/{self.activity['id']}/copies"),
                                       timeout=30)
        assert answer.status_code == 200, f"the teacher's list: {answer.status_code} {answer.text[:300]}"
        return {copy["student"]["name"]: copy for copy in answer.json()}

    def nothing_lost(self) -> None:
        """The teacher's list shows every pupil's copy, and each copy on storage holds its pupil's last save."""
        copies = self.copies()
        names = {pupil.name for pupil in self.pupils}
        assert names <= set(copies), f"copies missing from the teacher's list: {sorted(names - set(copies))}"
        for pupil in self.pupils:
            uid = urllib.parse.quote(copies[pupil.name]["student"]["uid"])
            stored = self.teacher.http.get(self.teacher.url(
                f"/activities/api/activities/{self.activity['id']}/copies/{uid}/notebook"), timeout=30)
            assert stored.status_code == 200, stored.text[:300]
            if pupil.last_saved is not None:
                assert pupil.last_saved in stored.text, (
                    f"{pupil.name}'s last save ({pupil.last_saved!r}) was lost: what was saved must stay")

    def leave(self) -> None:
        """Every pupil closes their notebook; their servers are stopped (saved work stays)."""
        for pupil in self.pupils:
            pupil.leave()
        try:
            for node, key in sorted({server for pupil in self.pupils for server in pupil.servers}):
                self.operator.stop_server(node, key)
        except (MessagingUnavailable, RpcTimeout):
            pass  # the test failed with a part down: the platform's stop ends them
