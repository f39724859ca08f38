"""Spawner backends: how a node runs its students' servers (see :mod:`.base` for the contract)."""
from __future__ import annotations

from capytale.settings import Settings, SettingsError
from services.spawner.backends.base import Backend
from services.spawner.jupyter.spec import parse_extensions
from services.spawner.state import NodeDir, ServerHandle

__all__ = ["Backend", "ServerHandle", "make_backend"]


def make_backend(settings: Settings, node_dir: NodeDir) -> Backend:
    """The backend ``CAPYTALE_SPAWNER_BACKEND`` names, configured from the spawner's settings."""
    name = settings["SPAWNER_BACKEND"]
    if name == "process":
        from services.spawner.backends.process import ProcessBackend

        return ProcessBackend(
            node_dir, grant_public_key=settings["GRANT_PUBLIC_KEY"],
            extensions=parse_extensions(settings["JUPYTER_EXTENSIONS"]), students_env=_students_env(settings),
            spawn_timeout=settings["SPAWN_TIMEOUT"], log_level=settings["LOG_LEVEL"],
            secure_cookies=settings["NOTEBOOK_URL"].startswith("https:"), autosave_interval=settings["AUTOSAVE_INTERVAL"],
            stop_servers_on_exit=settings["STOP_SERVERS_ON_EXIT"], warm_kernel=settings["WARM_KERNEL"],
            kernel_zygote=settings["KERNEL_ZYGOTE"],
        )
    if name == "docker":
        from capytale.containers import Limits, student_user
        from services.spawner.backends.docker import DockerBackend

        return DockerBackend(
            node_dir, node=settings["NODE"], namespace=settings["AMQP_NAMESPACE"], image=settings["DOCKER_IMAGE"],
            grant_public_key=settings["GRANT_PUBLIC_KEY"], extensions=parse_extensions(settings["JUPYTER_EXTENSIONS"]),
            limits=Limits.from_settings(settings), network=settings["DOCKER_NETWORK"],
            user=student_user(settings["DOCKER_USER"]),
            spawn_timeout=settings["SPAWN_TIMEOUT"], docker_url=settings["DOCKER_URL"],
            secure_cookies=settings["NOTEBOOK_URL"].startswith("https:"), autosave_interval=settings["AUTOSAVE_INTERVAL"],
            pool_size=settings["DOCKER_POOL"], warm_kernel=settings["WARM_KERNEL"],
        )
    raise SettingsError(f"CAPYTALE_SPAWNER_BACKEND: unknown backend {name!r} (known: process, docker)")


def _students_env(settings: Settings):
    """``CAPYTALE_STUDENTS_ENV``, which the process backend cannot do without."""
    if not str(settings["STUDENTS_ENV"]):
        raise SettingsError("CAPYTALE_STUDENTS_ENV: the process backend needs the students' environment "
                            "(python -m capytale.stack.students_env makes it and prints its path)")
    return settings["STUDENTS_ENV"]
