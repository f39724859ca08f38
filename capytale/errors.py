"""One error type that knows its audiences.

A :class:`PlatformError` carries the message shown to the person (French,
plain, with a way forward), the message logged (technical), a reason label
(stable, for metrics and tests) and the HTTP status.  Pages never show a
traceback; logs always have one.
"""
from __future__ import annotations


class PlatformError(Exception):
    def __init__(self, user_message: str, *, log_message: str | None = None,
                 reason: str = "error", status: int = 500):
        super().__init__(log_message or user_message)
        self.user_message = user_message
        self.log_message = log_message or user_message
        self.reason = reason
        self.status = status

    def as_json(self) -> dict:
        return {"error": self.user_message, "reason": self.reason}
