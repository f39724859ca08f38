"""A person's browser, as far as the platform can tell: cookies, redirects, XSRF, websockets.

Used by the end-to-end tests and the benchmark. Every request goes through HAProxy.
"""
from __future__ import annotations

import functools
import json
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass

import requests
import websocket

from capytale.settings import notebook_url

# where the router sends a person: a notebook of their server, or JupyterLab (a teacher's space)
NOTEBOOK_URL = re.compile(r"^(?P<origin>https?://[^/]+)?(?P<prefix>/n/(?P<node>\d+)/u/(?P<key>[a-z0-9]+)/)(?:notebooks/(?P<path>[^?]+)|lab)"
                          r"\?grant=(?P<grant>.+)$")


SERVER_PATH = re.compile(r"^/n/\d+/u/(?P<key>[a-z0-9]+)/")


class KernelDied(Exception):
    """The kernel died while running the code (killed for memory, for example): Jupyter restarts it."""


@dataclass(frozen=True)
class NotebookLink:
    """Where /s/<code> sent a student."""

    location: str  # path and query, on the students' servers' origin
    prefix: str
    node: int
    key: str
    path: str  # relative to the student's root, decoded
    grant: str
    waits: int  # how many waiting pages were shown first


class Browser:
    """``base_url``: the platform's; ``notebook_url``: the students' servers' (``NOTEBOOK_URL``, with
    ``{key}``), where each ``/n/<k>/u/<key>/…`` path goes."""

    def __init__(self, base_url: str, name: str = "", notebook_url: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.notebook_url = notebook_url or self.base_url
        self.name = name
        self.http = requests.Session()

    @classmethod
    def on(cls, platform, name: str = "") -> "Browser":
        """A browser of ``platform`` (a :class:`~capytale.stack.platform.LocalPlatform`)."""
        return cls(platform.url, name, platform.notebook_url)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        server = SERVER_PATH.match(path)
        return (notebook_url(self.notebook_url, server["key"]) if server else self.base_url) + path

    def server_url(self, link: "NotebookLink") -> str:
        """The base URL of the server ``link`` names (its origin)."""
        return notebook_url(self.notebook_url, link.key)

    # --- platform -------------------------------------------------------------------------

    def login(self, name: str, role: str) -> "Browser":
        answer = self.http.post(self.url("/auth/dev-login"), data={"username": name, "role": role, "next": "/"},
                                allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        self.name = name
        return self

    def upload(self, notebook_path, title: str, annexes: list = ()) -> requests.Response:
        files = [("notebook", (notebook_path.name, notebook_path.read_bytes(), "application/x-ipynb+json"))]
        files += [("annex", (name, data, "application/octet-stream")) for name, data in annexes]
        return self.http.post(self.url("/activities/api/activities"), data={"title": title}, files=files, timeout=30)

    def open_share(self, share_path: str, timeout: float = 90.0) -> NotebookLink:
        """GET /s/<code> as a browser would, following the waiting page until the redirect."""
        deadline = time.monotonic() + timeout
        url, waits = self.url(share_path), 0
        while True:
            answer = self.http.get(url, allow_redirects=False, timeout=30)
            if answer.status_code == 302:
                location = answer.headers["Location"]
                match = NOTEBOOK_URL.match(location)
                assert match, f"unexpected redirect to {location}"
                assert (match["origin"] or self.base_url) == notebook_url(self.notebook_url, match["key"]), location
                return NotebookLink(location=location[len(match["origin"] or ""):], prefix=match["prefix"], node=int(match["node"]),
                                    key=match["key"], path=urllib.parse.unquote(match["path"] or ""),
                                    grant=match["grant"], waits=waits)
            assert answer.status_code == 200 and "se prépare" in answer.text, (
                f"{answer.status_code}: {answer.text[:500]}")
            waits += 1
            assert time.monotonic() < deadline, f"still waiting after {timeout}s"
            retry = re.search(r'url=([^"]+)"', answer.text)
            url = self.url(retry.group(1).replace("&amp;", "&")) if retry else url
            time.sleep(0.5)

    # --- the student's server ----------------------------------------------------------------

    def enter(self, link: NotebookLink) -> requests.Response:
        """Load the notebook page (spends the grant, sets the server's own cookie)."""
        return self.http.get(self.url(link.location), allow_redirects=False, timeout=30)

    def contents(self, link: NotebookLink, path: str | None = None, raw: bool = False) -> requests.Response:
        path = link.path if path is None else path
        query = "?type=file&format=text&content=1" if raw else "?content=1"
        return self.http.get(self.url(f"{link.prefix}api/contents/{urllib.parse.quote(path)}{query}"), timeout=30)

    def _server_cookies(self, link: NotebookLink) -> list:
        host = urllib.parse.urlsplit(self.server_url(link)).hostname
        return [c for c in self.http.cookies if c.domain.lstrip(".") == host
                and (link.prefix.startswith(c.path.rstrip("/") + "/") or c.path == "/")]

    def _xsrf(self, link: NotebookLink) -> dict:
        found = [c for c in self._server_cookies(link) if c.name == "_xsrf"]
        return {"X-XSRFToken": max(found, key=lambda c: len(c.path)).value if found else ""}

    def save(self, link: NotebookLink, notebook: dict) -> requests.Response:
        body = {"type": "notebook", "format": "json", "content": notebook}
        return self.http.put(self.url(f"{link.prefix}api/contents/{urllib.parse.quote(link.path)}"),
                             json=body, headers=self._xsrf(link), timeout=30)

    def run_code(self, link: NotebookLink, code: str, timeout: float = 60.0) -> str:
        """Start a kernel, execute ``code`` through the websocket, return what it printed.

        Raises :class:`KernelDied` when the kernel dies meanwhile."""
        with self.kernel(link) as kernel:
            return kernel.execute(code, timeout).printed

    def restart_kernel(self, link: NotebookLink, kernel_id: str, timeout: float = 60.0):
        """The page's "restart the kernel" button: the server's answer."""
        return self.http.post(self.url(f"{link.prefix}api/kernels/{kernel_id}/restart"), headers=self._xsrf(link),
                              timeout=timeout)

    def kernel(self, link: NotebookLink, name: str = "python3", notebook_path: str | None = None,
               timeout: float = 60.0) -> "Kernel":
        """A kernel of the student's server, reached as Notebook 7 does: a session for the notebook
        (``notebook_path``) when one is named, else a bare kernel; then its websocket."""
        if notebook_path is None:
            answer = self.http.post(self.url(f"{link.prefix}api/kernels"), json={"name": name},
                                    headers=self._xsrf(link), timeout=timeout)
        else:
            answer = self.http.post(self.url(f"{link.prefix}api/sessions"), headers=self._xsrf(link), timeout=timeout,
                                    json={"path": notebook_path, "type": "notebook", "name": "",
                                          "kernel": {"name": name}})
        assert answer.status_code == 201, f"{answer.status_code}: {answer.text[:300]}"
        kernel_id = answer.json()["id"] if notebook_path is None else answer.json()["kernel"]["id"]
        ws_url = self.url(f"{link.prefix}api/kernels/{kernel_id}/channels").replace("http://", "ws://", 1)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self._server_cookies(link))
        conn = websocket.create_connection(ws_url, header=[f"Cookie: {cookie}"], origin=self.server_url(link),
                                           timeout=timeout)
        # the page's ■ button; and closing the notebook's kernel, as its page does (a test leaves none behind)
        interrupt = functools.partial(self.http.post, self.url(f"{link.prefix}api/kernels/{kernel_id}/interrupt"),
                                      headers=self._xsrf(link), timeout=timeout)
        owner = f"api/kernels/{kernel_id}" if notebook_path is None else f"api/sessions/{answer.json()['id']}"
        forget = functools.partial(self.http.delete, self.url(link.prefix + owner), headers=self._xsrf(link),
                                   timeout=timeout)
        return Kernel(conn, kernel_id, self.name, interrupt, forget)


@dataclass
class Executed:
    """What one cell gave: what it printed or showed (text), its outputs as Jupyter sends them, its error."""

    printed: str
    outputs: list
    error: dict | None  # {"ename", "evalue", "traceback"} of an error reply


class Kernel:
    """One kernel's websocket: execute cells one after the other, as the notebook page does."""

    def __init__(self, conn, kernel_id: str, username: str, interrupt, forget=None):
        self.conn, self.id, self.username = conn, kernel_id, username
        self.interrupt, self.forget = interrupt, forget
        self.session = uuid.uuid4().hex

    def __enter__(self) -> "Kernel":
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()
        if self.forget is not None:
            self.forget()  # the kernel stops: a test leaves no busy kernel behind

    def until_answering(self, timeout: float = 60.0) -> None:
        """Ask the kernel for its info every half second until it answers, as the page does once a kernel it
        was told restarts is back (a request sent while Jupyter restarts it can be lost)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = uuid.uuid4().hex
            self.conn.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "kernel_info_request", "username": self.username,
                           "session": self.session, "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "content": {},
            }))
            asked = time.monotonic()
            while time.monotonic() < min(deadline, asked + 0.5):
                self.conn.settimeout(max(0.01, min(deadline, asked + 0.5) - time.monotonic()))
                try:
                    opcode, data = self.conn.recv_data(control_frame=True)
                except websocket.WebSocketTimeoutException:
                    continue
                if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    message = json.loads(data)
                    if (message["header"]["msg_type"] == "kernel_info_reply"
                            and message.get("parent_header", {}).get("msg_id") == msg_id):
                        return
        raise TimeoutError(f"the kernel did not answer in {timeout} s")

    def execute(self, code: str, timeout: float = 60.0, interrupt_after: float | None = None) -> Executed:
        """Run ``code``; raises :class:`KernelDied` when the kernel dies meanwhile, TimeoutError
        when it has not answered in ``timeout`` seconds.  With ``interrupt_after``, the kernel is
        interrupted once that many seconds have gone (the page's ■ button)."""
        msg_id = uuid.uuid4().hex
        self.conn.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.username,
                       "session": self.session, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": False},
        }))
        printed, outputs, error = [], [], None
        began = time.monotonic()
        deadline = began + timeout
        interrupt_at = None if interrupt_after is None else began + interrupt_after
        while time.monotonic() < deadline:
            wait = deadline if interrupt_at is None else min(deadline, interrupt_at)
            self.conn.settimeout(max(0.01, wait - time.monotonic()))
            try:  # pings come back too: read only up to the deadline, however often the server pings
                opcode, data = self.conn.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                if interrupt_at is not None and time.monotonic() >= interrupt_at:
                    self.interrupt()
                    interrupt_at = None
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionError(f"the server closed the kernel's websocket running {code[:60]!r}")
            if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                continue
            message = json.loads(data)
            kind = message["header"]["msg_type"]
            if kind == "status" and message["content"]["execution_state"] in ("restarting", "dead"):
                raise KernelDied(f"the kernel died running {code[:60]!r}")  # the server's news, no parent
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = message["content"]
            if kind == "stream":
                printed.append(content["text"])
                outputs.append({"output_type": "stream", **content})
            elif kind in ("execute_result", "display_data"):
                printed.append(content["data"].get("text/plain", ""))
                outputs.append({"output_type": kind, **content})
            elif kind == "error":
                printed.append("\n".join(content["traceback"]))
                error = {"ename": content["ename"], "evalue": content["evalue"], "traceback": content["traceback"]}
            elif kind == "execute_reply" and content.get("status") == "error" and error is None:
                error = {"ename": content.get("ename", ""), "evalue": content.get("evalue", ""),
                         "traceback": content.get("traceback", [])}
            elif kind == "status" and content["execution_state"] == "idle":
                return Executed("".join(printed), outputs, error)
        raise TimeoutError(f"no result for {code[:80]!r} in {timeout} s")
