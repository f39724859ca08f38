"""One object per process for each broker URL and namespace, made on first use.

What holds a RabbitMQ connection (a publisher, a subscription) is made once per
process, after gunicorn has forked, and shared by every app of that process that
speaks to the same broker and namespace (tests make many apps in one process).
"""
from __future__ import annotations

import functools
import threading
from typing import Callable, TypeVar

from capytale.messaging.envelope import Topology

T = TypeVar("T")


def one_per_broker(factory: Callable[[str, Topology], T]) -> Callable[[str, Topology], T]:
    """Wrap ``factory(amqp_url, topology)`` so that it runs once per pair in this process."""
    made: dict[tuple[str, Topology], T] = {}
    lock = threading.Lock()

    @functools.wraps(factory)
    def get(amqp_url: str, topology: Topology) -> T:
        with lock:
            if (amqp_url, topology) not in made:
                made[amqp_url, topology] = factory(amqp_url, topology)
            return made[amqp_url, topology]

    return get
