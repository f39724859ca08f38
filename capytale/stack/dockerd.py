"""A Docker engine for the docker backend on this machine: the one that answers, or one we start.

:func:`engine` yields the URL of an engine: ``DOCKER_HOST`` (or the default
socket) when it answers, else a ``dockerd`` started here and stopped afterwards,
by its pid.  That daemon keeps its images under ``dockerd/`` of the machine's
cache (``capytale.stack.machine_cache``), so the notebook image survives
between runs and between checkouts, and its sockets and runtime state in a
short folder of ``/tmp`` (a Unix socket path holds at most 107 bytes).  Only
one such daemon may use that data root: a second session finds the first one's
URL in ``dockerd/engine.url`` and uses it (without stopping it).  It has
no bridge and touches no firewall rule: students' containers have no network,
and no traffic may leave this machine's loopback anyway.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from capytale.containers import DEFAULT_URL, answers, name, remove
from capytale.stack import machine_cache

START_TIMEOUT = 60.0


class NoEngine(RuntimeError):
    """No Docker engine answers and none could be started; the message says why."""


def dockerd_binary() -> str | None:
    return shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None)


@contextlib.contextmanager
def engine(log_path: Path | None = None) -> Iterator[str]:
    """The URL of an engine that answers, for the duration of the block."""
    url = os.environ.get("DOCKER_HOST") or DEFAULT_URL
    if answers(url):
        yield url
        return
    data_root = machine_cache.folder("dockerd")
    running_file = data_root / "engine.url"  # the URL of the project's dockerd while one runs (one per data root)
    with contextlib.suppress(OSError):  # the project's dockerd, started by another session still running
        running = running_file.read_text().strip()
        if answers(running):
            yield running
            return
    dockerd = dockerd_binary()
    if dockerd is None:
        raise NoEngine(f"no Docker engine answers at {url} and dockerd is not installed (make deps installs docker.io)")
    if os.geteuid() != 0:
        raise NoEngine(f"no Docker engine answers at {url}, and starting dockerd needs root")
    folder = Path(tempfile.mkdtemp(prefix="cd-", dir="/tmp"))
    url = f"unix://{folder}/docker.sock"
    log_path = log_path or folder / "dockerd.log"
    argv = [dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--data-root", str(data_root / "data"), "--exec-root", str(folder / "exec"),
            "--pidfile", str(folder / "dockerd.pid"), "-H", url, "--log-level", "warn"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise NoEngine(f"dockerd did not start (code {process.poll()}):\n{tail}")
            time.sleep(0.2)
        running_file.write_text(url)
        yield url
    finally:
        with contextlib.suppress(OSError):
            if running_file.read_text() == url:
                running_file.unlink()
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    """TERM (dockerd stops its containers and its containerd), then KILL, this one dockerd only."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: dockerd and the containerd it started
        process.wait()


def remove_containers(url: str, namespace: str) -> list[str]:
    """Remove (forcefully) every container of the platform ``namespace`` on the engine at ``url``; their names.

    All at once: each removal waits on its container's end (a second or so), not on the others'. Listed
    without inspecting each (``sparse``): with seventy containers ending at once, one inspection among
    seventy had waited on the engine for more than a minute."""
    import docker

    client = docker.DockerClient(base_url=url or os.environ.get("DOCKER_HOST") or DEFAULT_URL, timeout=60)
    try:
        found = client.containers.list(all=True, sparse=True, filters={"label": f"capytale.namespace={namespace}"})
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(remove, found))
        return [name(container) for container in found]
    finally:
        client.close()
