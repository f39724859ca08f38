"""What every student's server imports before its student is known, once, in a warm process.

The zygote (:mod:`services.spawner.zygote`) imports it and forks a server per student; a pooled
container of the docker backend (:mod:`.container`, ``--pool``) imports it and waits for its
student. Either way the server that starts afterwards has only its own configuration to build.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib

# What the first requests of a server need (page, contents, kernels, settings,
# translations), imported once here instead of in every child.
WARM_MODULES = (
    "jupyter_server.serverapp",
    "jupyter_server.services.contents.largefilemanager",
    "jupyter_server.services.contents.filemanager",
    "jupyter_server.services.kernels.kernelmanager",
    "jupyter_server.services.kernels.websocket",
    "jupyter_server.services.kernels.connection.channels",
    "jupyter_server.services.sessions.sessionmanager",
    "jupyter_server.gateway.managers",
    "jupyter_client.ioloop",
    "jupyter_client.provisioning",
    "jupyterlab_server",
    "jupyterlab_server.handlers",
    "jupyterlab_server.settings_handler",
    "jupyterlab_server.translations_handler",
    "jupyterlab_server.translation_utils",
    "notebook.app",
    "nbformat",
    "nbformat.validator",
    "anyio._backends._asyncio",  # contents are read and written in anyio's worker threads
)

# The notebook format's minor versions a server validates against: a notebook is validated at the
# version it was written in, and each version's schema compiles into its own validator (~80 ms).
NOTEBOOK_MINORS = range(6)


def warm() -> None:
    """Import and prime what every server needs, so that children start with it."""
    for name in WARM_MODULES:
        importlib.import_module(name)
    import nbformat.validator
    from jupyter_client.provisioning import KernelProvisionerFactory
    from jupyter_server.base.handlers import json_sys_info

    for minor in NOTEBOOK_MINORS:  # each schema compiled once, not in every server
        nbformat.validator.get_validator(version=4, version_minor=minor)
    KernelProvisionerFactory.instance()  # scans the provisioner entry points once
    json_sys_info()  # every page carries it; computing it runs git and uname
    gc.collect()
    gc.freeze()  # the garbage collector of a child never writes to these objects: their pages stay shared
    release_free_memory()


def release_free_memory() -> None:
    """Give back to the system the heap memory that imports and set-ups used and freed (glibc keeps it
    for later): about 7 MiB of a server once built, which a container's memory counts. Elsewhere than
    glibc, nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
