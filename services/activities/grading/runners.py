"""Which runner grades: the one ``GRADING_RUNNER`` names."""
from __future__ import annotations

from typing import Any, Mapping

from services.activities.grading.runner import KernelRunner, LocalRunner, RunnerError


def from_settings(settings: Mapping[str, Any]) -> KernelRunner:
    """``docker``: a container per run (production); ``process``: a local process (this machine, tests;
    refused in production).  Raises :class:`RunnerError` when the settings allow none."""
    chosen = settings.get("GRADING_RUNNER", "process")
    if chosen == "docker":
        from services.activities.grading.docker_runner import DockerRunner  # the docker SDK, only where used

        return DockerRunner.from_settings(settings)
    if chosen == "process":
        return LocalRunner.from_settings(settings)
    raise RunnerError(f"CAPYTALE_GRADING_RUNNER={chosen!r}: expected docker or process")
