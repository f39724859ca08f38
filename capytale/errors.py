"""One error type that knows its audiences.

A :class:`PlatformError` carries the message shown to the person (French,
plain), the way forward offered on the page (a link and its label, the home page
by default), the message logged (technical), a reason label (stable, for metrics
and tests) and the HTTP status.  Pages never show a
traceback; logs always have one.
"""
from __future__ import annotations


class PlatformError(Exception):
    def __init__(self, user_message: str, *, log_message: str | None = None,
                 reason: str = "error", status: int = 500, heading: str | None = None,
                 link: str = "/", link_label: str | None = None):
        super().__init__(log_message or user_message)
        self.user_message = user_message
        self.heading = heading
        self.link = link
        self.link_label = link_label
        self.log_message = log_message or user_message
        self.reason = reason
        self.status = status

    def as_json(self) -> dict:
        return {"error": self.user_message, "reason": self.reason}
