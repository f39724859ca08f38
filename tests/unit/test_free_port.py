"""Ports for the processes a test or make run starts: free, never twice, never an ephemeral one."""
from __future__ import annotations

import socket

from capytale.stack import processes


def test_ports_are_free_distinct_and_outside_the_ephemeral_range():
    ephemeral = processes._ephemeral_ports()
    ports = [processes.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert not [port for port in ports if port in ephemeral]
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing holds it
