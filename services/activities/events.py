"""The events activities publishes (``copy.created``, ``copy.handed_in``), best effort, without making a
request wait.

One :class:`EventPublisher` per process and broker URL, created on first use
(after gunicorn has forked).  Events are handed to one background thread that
publishes them through a :class:`capytale.messaging.Bus`; when RabbitMQ is
away the event is logged and dropped: a copy never fails for an event.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from capytale.messaging import Bus, Envelope, MessagingUnavailable, Topology, one_per_broker

log = logging.getLogger("capytale.activities.events")

PUBLISH_TIMEOUT = 5.0  # seconds the background thread waits for the broker's confirm


class EventPublisher:
    """Publishes events from one background thread, so that requests never wait for RabbitMQ."""

    def __init__(self, amqp_url: str, topology: Topology):
        self.bus = Bus(amqp_url, "activities", topology)  # also carries the presence subscription
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="activities-events")

    def publish(self, event_type: str, body: dict) -> Future:
        """Queue ``event_type`` for publication; the future ends once it is sent or given up."""
        return self._thread.submit(self._send, Envelope(event_type, body))

    def _send(self, message: Envelope) -> None:
        try:
            self.bus.publish(message.type, message, timeout=PUBLISH_TIMEOUT)
        except MessagingUnavailable as exc:
            log.warning("event %s %s not published (RabbitMQ unavailable: %s)", message.type, message.body, exc)
        except Exception:  # noqa: BLE001 - best effort: log with the traceback, never fail the caller
            log.exception("event %s %s not published", message.type, message.body)


publisher = one_per_broker(EventPublisher)  # this process's publisher for a broker and namespace


def copy_created(amqp_url: str, topology: Topology, activity_id: int, uid: str, user_key: str) -> Future:
    """Announce a student's first copy of an activity."""
    return publisher(amqp_url, topology).publish("copy.created",
                                       {"activity_id": activity_id, "uid": uid, "user_key": user_key})


def copy_handed_in(amqp_url: str, topology: Topology, activity_id: int, uid: str, user_key: str, by: str,
                   sha256: str) -> Future:
    """Announce a copy frozen at hand-in (by the student, the closing or the teacher): what grades it listens."""
    return publisher(amqp_url, topology).publish("copy.handed_in", {
        "activity_id": activity_id, "uid": uid, "user_key": user_key, "by": by, "sha256": sha256})
