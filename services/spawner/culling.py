"""Which servers have been idle long enough to be stopped: a pure decision on CHP's routes.

CHP records, per route, the last time traffic went through it (requests,
answers and websocket messages alike).  A server whose route has seen nothing
for ``idle`` is stopped; what the student saved stays in the workspace, and
the next click on the activity's link starts the server again.
"""
from __future__ import annotations

import datetime
from typing import Any, Mapping

from services.spawner.proxy import route_prefix
from services.spawner.state import USER_KEY


def parse_activity(value: Any) -> datetime.datetime | None:
    """CHP's ``last_activity`` (ISO 8601, ``Z`` for UTC) as an aware datetime; None if absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def last_activities(routes: Mapping[str, Mapping[str, Any]], node: int) -> dict[str, datetime.datetime]:
    """User key → last traffic of each of ``node``'s student routes whose activity is known."""
    prefix = route_prefix(node)
    found = {}
    for path, data in routes.items():
        if not path.startswith(prefix) or not USER_KEY.fullmatch(path[len(prefix):]):
            continue
        last_activity = parse_activity(data.get("last_activity"))
        if last_activity is not None:
            found[path[len(prefix):]] = last_activity
    return found


def idle_servers(routes: Mapping[str, Mapping[str, Any]], node: int, now: datetime.datetime,
                 idle: datetime.timedelta) -> list[str]:
    """User keys of ``node``'s routes with no traffic since ``now - idle``, sorted.

    Routes of other nodes or paths, and routes whose activity is unknown, are
    left alone: stopping a server is the one decision that must never be a guess.
    """
    return sorted(key for key, last in last_activities(routes, node).items() if now - last >= idle)


def active_servers(routes: Mapping[str, Mapping[str, Any]], node: int, now: datetime.datetime,
                   window: datetime.timedelta) -> list[str]:
    """User keys of ``node``'s routes that saw traffic within ``window``: someone has the notebook open
    (an open Jupyter page talks to its server every few seconds), sorted."""
    return sorted(key for key, last in last_activities(routes, node).items() if now - last < window)
