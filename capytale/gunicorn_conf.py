"""Gunicorn's settings shared by every service (``gunicorn --config python:capytale.gunicorn_conf``).

Gunicorn answers some requests itself, with a bare English page and no Content-Security-Policy:
a request line longer than 4094 bytes (414), a header longer than 8190 bytes or more than 100
headers (431), a request it cannot parse (400). Its limits are set here above what HAProxy, in
front of every service, lets through, so that HAProxy is the one that refuses, with the
platform's French page (:mod:`capytale.stack.haproxy`: a request line and headers over 15 kB;
nothing that does not fit its 32 kB buffer; at most 101 headers, ``tune.http.maxhdr``, to which
it adds ``X-Forwarded-For``; nothing malformed). HAProxy also replaces anything gunicorn still
answers by itself, and a worker killed for taking too long leaves HAProxy a closed connection,
which it answers with its own 502.
"""

limit_request_line = 0  # no bound of gunicorn's own: HAProxy's is the bound
limit_request_field_size = 32 * 1024  # one header as long as HAProxy's whole buffer
limit_request_fields = 200  # HAProxy's 101 headers, its X-Forwarded-For, room to spare


def on_starting(server) -> None:
    """Import the service's module (not its app) in the master, before the workers are forked.

    Each worker then starts with Flask, SQLAlchemy, pika and the service's own code already imported,
    their pages shared: a worker of activities spent 1.6 CPU-s importing them. The app itself is still
    built in each worker (``preload_app`` off): it opens database connections and starts threads, which
    must not cross a fork."""
    import importlib

    importlib.import_module(server.app.app_uri.split(":", 1)[0])
