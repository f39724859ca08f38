"""``python -m services.spawner``: run the agent of node ``CAPYTALE_NODE`` until SIGTERM or SIGINT."""
from __future__ import annotations

import signal
import sys

from capytale import logs, settings as settings_module
from services.spawner.agent import Agent


def main() -> None:
    try:
        settings = settings_module.load("spawner")
    except settings_module.SettingsError as exc:
        sys.exit(f"spawner: {exc}")
    logs.configure("spawner", settings["LOG_LEVEL"])
    agent = Agent(settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: agent.stopping.set())
    agent.run()


if __name__ == "__main__":
    main()
