"""Names under ``localhost`` are the loopback, in this process too.

The local platform serves each student's server at ``<user key>.nb.localhost``.
Browsers resolve every name under ``localhost`` to the loopback themselves (RFC 6761
lets them); this machine's resolver may not, and would ask a DNS server elsewhere.
:func:`install` makes Python's resolver, which requests and websocket-client use,
answer such names with 127.0.0.1 without asking anyone: the tests and the
benchmark call it before talking to the platform.
"""
from __future__ import annotations

import socket

_system_getaddrinfo = socket.getaddrinfo


def is_local_name(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and (host.lower().rstrip(".") + ".").endswith(".localhost.")


def _getaddrinfo(host, *args, **kwargs):
    return _system_getaddrinfo("127.0.0.1" if is_local_name(host) else host, *args, **kwargs)


def install() -> None:
    socket.getaddrinfo = _getaddrinfo
