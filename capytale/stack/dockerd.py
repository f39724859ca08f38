"""A Docker engine for the docker backend on this machine: the one that answers, or one we start.

:func:`engine` yields the URL of an engine: ``DOCKER_HOST`` (or the default
socket) when it answers, else a ``dockerd`` started here and stopped afterwards,
by its pid.  That daemon keeps its images under ``.cache/dockerd/`` (so the
notebook image survives between runs) and its sockets and runtime state in a
short folder of ``/tmp`` (a Unix socket path holds at most 107 bytes).  It has
no bridge and touches no firewall rule: students' containers have no network,
and no traffic may leave this machine's loopback anyway.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
DATA_ROOT = REPO / ".cache" / "dockerd"
DEFAULT_URL = "unix:///var/run/docker.sock"
START_TIMEOUT = 60.0


class NoEngine(RuntimeError):
    """No Docker engine answers and none could be started; the message says why."""


def answers(url: str) -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=url, timeout=5)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means "not this one"
        return False
    finally:
        client.close()


@contextlib.contextmanager
def engine(log_path: Path | None = None) -> Iterator[str]:
    """The URL of an engine that answers, for the duration of the block."""
    url = os.environ.get("DOCKER_HOST") or DEFAULT_URL
    if answers(url):
        yield url
        return
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None)
    if dockerd is None:
        raise NoEngine(f"no Docker engine answers at {url} and dockerd is not installed (make deps installs docker.io)")
    if os.geteuid() != 0:
        raise NoEngine(f"no Docker engine answers at {url}, and starting dockerd needs root")
    folder = Path(tempfile.mkdtemp(prefix="cd-", dir="/tmp"))
    url = f"unix://{folder}/docker.sock"
    log_path = log_path or folder / "dockerd.log"
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    argv = [dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--data-root", str(DATA_ROOT / "data"), "--exec-root", str(folder / "exec"),
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
        yield url
    finally:
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
