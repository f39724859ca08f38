"""Fixtures every test folder shares: keys made at test time, sessions, PostgreSQL when reachable."""
from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from capytale.stack import localhost_names
from capytale.tokens import Identity, SessionSigner, ensure_development_keys, load_private_key

localhost_names.install()  # students' servers are at <key>.nb.localhost: the loopback, never a DNS question

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "notebooks"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used a whole platform (``platform`` fixture) shows the tail of each of its logs."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "platform" in item.fixturenames:
        platform = item.funcargs.get("platform")
        log_dir = platform.config.log_dir if platform else None
        if log_dir and log_dir.exists():
            for log in sorted(log_dir.glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-40:]
                report.sections.append((f"log {log.name}", "\n".join(tail)))


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postgres_reachable() -> bool:
    return _answers(5432)


def rabbitmq_reachable() -> bool:
    return _answers(5672)


def terminal_progress(request, prefix: str):
    """A progress callback that prints on the terminal as it happens, through pytest's capture."""
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def progress(line: str) -> None:
        if terminal is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write_line(f"[{prefix}] {line}")

    return progress


@pytest.fixture(scope="session")
def students_env(request) -> Path:
    """The students' environment the process backend's kernels run on (made once per list, cached)."""
    from capytale.stack.students_env import ensure_students_env

    return ensure_students_env(terminal_progress(request, "students' environment"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real notebooks, read where it is (never copied)."""
    if not CORPUS.is_dir():
        pytest.fail(f"notebook corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    """A fresh state folder with development keys generated now."""
    ensure_development_keys(tmp_path / "keys")
    return tmp_path


def make_identity(name: str, role: str, classes: tuple[str, ...] = ()) -> Identity:
    return Identity(uid=name, name=name, role=role, key=f"k{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:19]}",
                    sid=uuid.uuid4().hex, classes=classes)


@pytest.fixture
def sign(var_dir: Path):
    """Sign a session token for an identity with this test's keys."""
    signer = SessionSigner(load_private_key(var_dir / "keys" / "session.key"), 3600)
    return signer.sign


@pytest.fixture(scope="session")
def postgres_database():
    """A fresh PostgreSQL database URL factory, dropped at the end; skips where none answers."""
    if not postgres_reachable():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    import psycopg

    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"capytale_test_{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    yield make
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
