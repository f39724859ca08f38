"""``make run`` as a school tries it: its own ``CAPYTALE_*`` settings reach the services (here the ENT's
CAS address), the process backend's risk is said where people read it, and Ctrl-C stops everything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from capytale.stack.processes import free_port

pytestmark = pytest.mark.e2e

CAS = "http://127.0.0.1:9/cas"  # never reached: only the redirect to it is read


def test_make_run_honours_the_schools_settings_and_warns_about_the_process_backend(tmp_path):
    port = free_port()
    env = {**os.environ, "CAPYTALE_CAS_SERVER_URL": CAS, "CAPYTALE_AMQP_NAMESPACE": f"capytale-run-{port}"}
    with (tmp_path / "run.log").open("w") as log:
        run = subprocess.Popen([sys.executable, "-m", "capytale.stack", "run", "--port", str(port), "--nodes", "1",
                                "--var-dir", str(tmp_path / "var")], env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while "Capytale tourne sur" not in (tmp_path / "run.log").read_text():
            assert run.poll() is None and time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-2000:]
            time.sleep(0.5)
        login = requests.get(f"http://127.0.0.1:{port}/auth/login?next=/activities/", allow_redirects=False,
                             timeout=10)
        assert login.status_code in (302, 303) and login.headers["Location"].startswith(CAS + "/login?")
        printed = (tmp_path / "run.log").read_text()
        assert "backend « process »" in printed and "jamais pour une classe" in printed
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            run.wait(60)
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode == 0, (tmp_path / "run.log").read_text()[-2000:]
