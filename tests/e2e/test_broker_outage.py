"""Every connection to RabbitMQ comes back after the broker drops it."""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.parse

import pytest

pytestmark = pytest.mark.e2e


def platform_connections(namespace: str) -> list[str]:
    """The broker's pids of this platform's connections (named ``<namespace>/<part>``)."""
    listed = subprocess.run(["rabbitmqctl", "-q", "--no-table-headers", "list_connections", "pid",
                             "client_properties"], capture_output=True, text=True, timeout=30, check=True)
    marker = f'{{"connection_name","{namespace}/'
    return [line.split("\t", 1)[0] for line in listed.stdout.splitlines() if marker in line]


def test_services_reconnect_after_the_broker_drops_them(platform, student, activity):
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not on this machine: cannot make the broker drop connections")
    namespace = platform.config.env["CAPYTALE_AMQP_NAMESPACE"]
    share = urllib.parse.urlsplit(activity["share_url"]).path
    try:
        before = platform_connections(namespace)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"rabbitmqctl cannot manage this broker here: {exc.stderr.strip()[:200]}")
    assert len(before) >= 4 + 4 + 1, before  # each spawner's worker and bus, the router's bus

    for pid in before:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: broker outage"],
                       capture_output=True, timeout=30, check=False)
    deadline = time.monotonic() + 30
    while len(platform_connections(namespace)) < len(before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not set(platform_connections(namespace)) & set(before), "old connections are gone"

    newcomer = student("apres-panne")
    link = newcomer.open_share(share, timeout=60)
    assert newcomer.enter(link).status_code == 200
    assert newcomer.contents(link).status_code == 200
