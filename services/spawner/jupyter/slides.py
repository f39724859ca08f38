"""RISE's slide show, the page ``rise/<path>`` that Notebook 7's « diaporama » button opens, as a
student's server serves it (``CAPYTALE_JUPYTER_EXTENSIONS`` names it ``jupyterlab_rise``).

jupyterlab-rise's own server extension is a whole JupyterLab server app: beside its page it serves
JupyterLab's settings, translations and workspaces, from folders it reads once, when it is imported,
and its handlers answer before the notebook app's.  In the zygote that import happens for nobody:
Notebook 7 fell back to English (the platform's French defaults were not read) and a setting a
student changed was written to a folder every server of the node shares.  Here the extension serves
its page only; settings and translations stay the notebook app's, from the student's own folders.
"""
from __future__ import annotations

from jupyter_server.base.handlers import path_regex
from jupyterlab_rise.app import RiseApp, RiseHandler


class Slides(RiseApp):
    """RISE's app, with its page and static files, and none of JupyterLab's handlers."""

    def initialize_handlers(self) -> None:
        self.handlers.append((f"/rise{path_regex}", RiseHandler))


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": __name__, "app": Slides}]
