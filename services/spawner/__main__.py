"""``python -m services.spawner``: run the agent of node ``CAPYTALE_NODE`` until SIGTERM or SIGINT.

The agent's shutdown is bounded: past :data:`SHUTDOWN_LIMIT` seconds after the signal, the stacks of its
threads are added to ``shutdown-stacks.txt`` in the node's run folder and the process exits.  Its zygote sees
its control channel close and ends, and with it the servers a ``make run`` started (they die with it).
"""
from __future__ import annotations

import faulthandler
import signal
import sys

from capytale import logs, settings as settings_module
from services.spawner.agent import Agent

SHUTDOWN_LIMIT = 12.0  # seconds; less than what make run's and compose's stops wait for


def main() -> None:
    try:
        settings = settings_module.load("spawner")
    except settings_module.SettingsError as exc:
        sys.exit(f"spawner: {exc}")
    logs.configure("spawner", settings["LOG_LEVEL"])
    agent = Agent(settings)
    stacks = (agent.node_dir.path / "shutdown-stacks.txt").open("a")  # kept: the agent that restarts after one stuck

    def stop(_signum, _frame) -> None:
        if not agent.stopping.is_set():
            faulthandler.dump_traceback_later(SHUTDOWN_LIMIT, exit=True, file=stacks)
        agent.stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    agent.run()
    faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    main()
