"""The JSON envelope of every message, and the names of exchanges and queues."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VERSION = 1


@dataclass(frozen=True)
class Topology:
    """The names of one platform's exchange and queues.

    Everything a platform declares starts with its namespace (``AMQP_NAMESPACE``),
    so that two platforms sharing a broker (tests beside ``make run``, staging beside
    production) never take each other's messages.
    """

    namespace: str = "capytale"

    @property
    def events(self) -> str:
        """The topic exchange: server.started, node.heartbeat, copy.created…"""
        return f"{self.namespace}.events"

    def node_queue(self, node: int) -> str:
        """The durable queue of commands for notebook node ``node``."""
        return f"{self.namespace}.node.{node}"

    @property
    def revocations_queue(self) -> str:
        """The queue auth's processes answer ``revocations.list`` on (the sessions ended, for a process that starts);
        it goes with the last of them, so that a question asked while auth is down fails at once."""
        return f"{self.namespace}.revocations.list"


class BadMessage(ValueError):
    """A message that is not a Capytale envelope of a version we speak."""


@dataclass(frozen=True)
class Envelope:
    type: str
    body: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def encode(self) -> bytes:
        return json.dumps({"v": self.version, "type": self.type, "body": self.body}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> "Envelope":
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadMessage(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("v") != VERSION or not isinstance(data.get("type"), str):
            raise BadMessage(f"not a version {VERSION} envelope: {str(data)[:200]}")
        body = data.get("body") or {}
        if not isinstance(body, dict):
            raise BadMessage("body is not an object")
        return cls(type=data["type"], body=body)
