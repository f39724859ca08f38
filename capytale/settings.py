"""Settings of every service, declared once, typed, read from ``CAPYTALE_*``.

Each setting has a name, a type, an embedded default and one line of help.
A service reads the settings it needs with :func:`load`; any ``CAPYTALE_*``
variable in the environment that no service declares, or a value that does not
parse, stops the service at start with a message naming it.  ``python -m
capytale.settings`` prints the whole catalogue.
"""
from __future__ import annotations

import difflib
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from capytale.kernels import DEFAULT_FILE as DEFAULT_KERNELS_FILE

PREFIX = "CAPYTALE_"


class SettingsError(Exception):
    """A setting is unknown, malformed or refused; the message names it."""


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_path(raw: str) -> Path:
    return Path(raw).expanduser()


PARSERS: dict[type, Callable[[str], Any]] = {
    bool: _parse_bool,
    int: int,
    float: float,
    str: str,
    Path: _parse_path,
}


@dataclass(frozen=True)
class Setting:
    """One declared setting. ``default`` may be a callable of the settings read so far."""

    name: str
    type: type
    default: Any
    help: str
    services: tuple[str, ...]
    secret: bool = False

    @property
    def env(self) -> str:
        return PREFIX + self.name


ALL = ("auth", "activities", "router", "spawner")
WEB = ("auth", "activities", "router")

CATALOGUE: tuple[Setting, ...] = (
    # --- every service -------------------------------------------------------
    Setting("PRODUCTION", bool, False, "Production switch: refuses development defaults (keys, development login).", ALL),
    Setting("VAR_DIR", Path, Path("var"), "Folder for the embedded defaults: SQLite files, development keys, data and sockets.", ALL),
    Setting("DATA_ROOT", Path, lambda s: s["VAR_DIR"] / "data", "Workspace storage: masters/ and users/ (shared by activities and the nodes).", ALL),
    Setting("RUN_ROOT", Path, lambda s: s["VAR_DIR"] / "run", "Local folder for the nodes' Unix sockets and server state.", ALL),
    Setting("PUBLIC_URL", str, "http://127.0.0.1:8080", "The platform's public base URL, as browsers see it (share URLs, Origin checks).", ALL),
    Setting("NOTEBOOK_URL", str, lambda s: s["PUBLIC_URL"], "Base URL of the students' servers (/n/...), on origins apart from the platform's; {key} in its host gives each student an origin of their own (https://{key}.nb.capytale.example: a wildcard DNS name and certificate), so that what a student's code serves reaches nobody else's pages. Production refuses the platform's origin and an URL without {key}.", ALL),
    Setting("AMQP_URL", str, "amqp://guest:guest@127.0.0.1:5672/%2F", "RabbitMQ connection URL.", ALL),
    Setting("AMQP_NAMESPACE", str, "capytale", "Prefix of this platform's RabbitMQ exchange and queues (two platforms may share a broker).", ALL),
    Setting("LOG_LEVEL", str, "INFO", "Logging level (DEBUG, INFO, WARNING, ERROR).", ALL),
    Setting("SESSION_PUBLIC_KEY", Path, lambda s: s["VAR_DIR"] / "keys" / "session.pub", "PEM public key that verifies session cookies (auth holds the private one).", ALL),
    Setting("SESSION_COOKIE", str, "capytale_session", "Name of the session cookie.", WEB),
    # --- auth --------------------------------------------------------------------
    Setting("AUTH_DATABASE_URL", str, lambda s: f"sqlite:///{(s['VAR_DIR'] / 'auth.sqlite').resolve()}", "Database of the auth service (users).", ("auth",), secret=True),
    Setting("SESSION_PRIVATE_KEY", Path, lambda s: s["VAR_DIR"] / "keys" / "session.key", "PEM Ed25519 private key that signs session cookies; only auth reads it.", ("auth",)),
    Setting("USER_KEY_SECRET_FILE", Path, lambda s: s["VAR_DIR"] / "keys" / "user-key.secret", "File holding the secret that derives opaque user keys from CAS uids.", ("auth",)),
    Setting("SESSION_LIFETIME", int, 12 * 3600, "Seconds a session cookie stays valid.", ("auth",)),
    Setting("DEV_LOGIN", bool, False, "Development login (pick a name and a role); never in production.", ("auth",)),
    Setting("CAS_SERVER_URL", str, "", "The ENT's CAS server base URL; empty: no CAS.", ("auth",)),
    Setting("CAS_VERSION", str, "3", "CAS protocol version spoken to the ENT (2 or 3).", ("auth",)),
    Setting("CAS_TIMEOUT", float, 4.0, "Seconds auth waits for the CAS server to validate a ticket before saying it is unreachable.", ("auth",)),
    Setting("CAS_TEACHER_PROFILES", str, "National_ENS,National_DOC,National_DIR,National_ETA,National_EVS", "Comma-separated ENT profiles that make a teacher (SDET national profiles by default).", ("auth",)),
    Setting("CAS_STUDENT_PROFILES", str, "National_ELV", "Comma-separated ENT profiles that make a student; any other profile is refused.", ("auth",)),
    Setting("CAS_PROFILE_ATTRIBUTES", str, "ENTPersonProfils,ENTPersonProfil", "Comma-separated CAS attributes that carry the profiles, first present wins.", ("auth",)),
    # --- activities --------------------------------------------------------------
    Setting("ACTIVITIES_DATABASE_URL", str, lambda s: f"sqlite:///{(s['VAR_DIR'] / 'activities.sqlite').resolve()}", "Database of the activities service.", ("activities",), secret=True),
    Setting("MAX_NOTEBOOK_MB", int, 20, "Largest notebook a teacher may upload, in MiB.", ("activities",)),
    Setting("MAX_UPLOAD_MB", int, 100, "Largest upload (notebook and annex files together), in MiB.", ("activities",)),
    Setting("KERNELS_FILE", Path, DEFAULT_KERNELS_FILE, "TOML table of the students' kernels and the kernelspec names notebooks carry for each (copies open on them).", ("activities",)),
    Setting("SEED_SECRET_FILE", Path, lambda s: s["VAR_DIR"] / "keys" / "seed.secret", "File holding the secret that derives each student's random values in an activity (CAPYTALE_SEED, capytale_alea); a new secret gives every student new values.", ("activities",)),
    Setting("GRADING_CELL_TIMEOUT", float, 30.0, "Seconds one cell may run when a student's notebook is re-run for grading or Vérifier; then it is interrupted and its check fails.", ("activities",)),
    Setting("GRADING_TIMEOUT", float, 180.0, "Seconds a whole grading or Vérifier run may take, kernel start included; then the kernel is stopped and the checks not reached fail.", ("activities",)),
    Setting("GRADING_RUNNER", str, lambda s: "docker" if s["PRODUCTION"] else "process", "Where hand-in re-runs and Vérifier run their kernel: docker (a new container of DOCKER_IMAGE each run, no network, the DOCKER_* limits, on the engine of DOCKER_URL; production) or process (a local process of STUDENTS_ENV: this machine and tests; refused in production).", ("activities",)),
    Setting("GRADING_RUN_DIR", str, "", "Folder where each grading run gets its private temporary folder (empty: the system's). With GRADING_RUNNER=docker and the activities service in a container: a folder of the engine's host, mounted at the same path (the engine mounts each run's folder from its host).", ("activities",)),
    Setting("GRADING_WORKERS", int, 1, "How many hand-in re-runs (one kernel each) each activities process runs at once; the others wait their turn in the database.", ("activities",)),
    Setting("GRADING_RETRY_DELAY", float, 30.0, "Seconds before the one retry of a hand-in re-run whose kernel could not start.", ("activities",)),
    Setting("CHECK_CONCURRENCY", int, 2, "How many Vérifier runs (one kernel each) each activities process runs at once; a student who waits more than 20 s for a turn is told to try again.", ("activities",)),
    Setting("CHECK_TIMEOUT", float, 60.0, "Seconds a Vérifier run may take, kernel start included (the student waits for it: under HAProxy's 120 s); GRADING_TIMEOUT if shorter.", ("activities",)),
    Setting("CLOSING_INTERVAL", float, 15.0, "Seconds between two sweeps for activities whose closing time has passed (their copies handed in and made read-only); 0: only when someone reaches the activity.", ("activities",)),
    Setting("CLOCK_FILE", str, "", "Tests only, refused in production: a file whose ISO 8601 moment is activities' 'now' for opening and closing times (empty or missing file: the real clock).", ("activities",)),
    # --- router ------------------------------------------------------------------
    Setting("ROUTER_DATABASE_URL", str, lambda s: f"sqlite:///{(s['VAR_DIR'] / 'router.sqlite').resolve()}", "Database of the router (placements).", ("router",), secret=True),
    Setting("ACTIVITIES_URL", str, "http://127.0.0.1:8102", "Internal URL of the activities service.", ("router",)),
    Setting("GRANT_PRIVATE_KEY", Path, lambda s: s["VAR_DIR"] / "keys" / "grant.key", "PEM Ed25519 private key that signs grants to open a notebook server.", ("router",)),
    Setting("GRANT_LIFETIME", int, 60, "Seconds a grant stays usable (it is single-use anyway).", ("router",)),
    Setting("SPAWN_WAIT", float, 4.0, "Seconds /s/<code> waits for a server before showing the waiting page (which asks again every 2 s, showing the student's place in the node's queue).", ("router",)),
    Setting("NODES", int, 4, "Number of notebook nodes.", ("router",)),
    Setting("NODE_SILENCE", float, 12.0, "Seconds without heartbeat after which a node gets no new students.", ("router",)),
    # --- spawner -----------------------------------------------------------------
    Setting("NODE", int, 1, "Number of the node this spawner serves (1...NODES).", ("spawner",)),
    Setting("SPAWNER_BACKEND", str, "process", "How students' servers run: process (embedded) or docker.", ("spawner",)),
    Setting("GRANT_PUBLIC_KEY", Path, lambda s: s["VAR_DIR"] / "keys" / "grant.pub", "PEM public key that verifies grants (given to every notebook server).", ("spawner",)),
    Setting("CHP_API_URL", str, "http://127.0.0.1:8121", "API URL of this node's configurable-http-proxy.", ("spawner",)),
    Setting("CHP_AUTH_TOKEN", str, "", "Token of this node's configurable-http-proxy API.", ("spawner",), secret=True),
    Setting("SPAWN_CONCURRENCY", int, 8, "How many commands a node works on at once (RabbitMQ prefetch); a start waiting its turn holds none.", ("spawner",)),
    Setting("SPAWN_PARALLEL", int, 0, "How many servers a node starts at once; the others wait their turn, in arrival order (0: as many as the node has CPUs).", ("spawner",)),
    Setting("SPAWN_TIMEOUT", float, 60.0, "Seconds a starting server may go without answering and without using CPU before its start is called failed (tried once more, then the student is told); 5 times that at most.", ("spawner",)),
    Setting("CULL_IDLE", int, 1800, "Seconds without traffic after which a student's server is stopped (saved work stays).", ("spawner",)),
    Setting("CULL_INTERVAL", int, 60, "Seconds between two passes of the idle culler.", ("spawner",)),
    Setting("HEARTBEAT_INTERVAL", float, 3.0, "Seconds between two node heartbeats.", ("spawner",)),
    Setting("STOP_SERVERS_ON_EXIT", bool, False, "Stop every student server when the spawner exits (else a new spawner adopts them).", ("spawner",)),
    Setting("STUDENTS_ENV", str, "", "Prefix of the students' environment whose kernels students' servers run (process backend; python -m capytale.stack.students_env makes it), and activities' local grading kernels. Containers have their own, in the image.", ("spawner", "activities")),
    Setting("AUTOSAVE_INTERVAL", int, 10, "Seconds between two autosaves of an open notebook (Notebook 7's own is 120): at most that much typing is lost when a server goes away.", ("spawner",)),
    Setting("WARM_KERNEL", bool, True, "Each student's server starts one kernel as it starts, which the first notebook opened takes: its first cell does not wait for a kernel to start. Costs one idle kernel's memory per server until then.", ("spawner",)),
    Setting("KERNEL_ZYGOTE", bool, True, "Process backend: kernels are forked from one Python per node that has already imported ipykernel (a few hundredths of a CPU-second each, instead of about 0.4 for a cold start, and their pages shared). Off: every kernel is a Python started cold.", ("spawner",)),
    Setting("JUPYTER_EXTENSIONS", str, "notebook,jupyterlab_rise", "Comma-separated server extensions a student's server loads.", ("spawner",)),
    # --- spawner, docker backend ---------------------------------------------------
    Setting("DOCKER_URL", str, "", "Docker engine of the docker backend and of grading runs (empty: DOCKER_HOST, else the local socket).", ("spawner", "activities")),
    Setting("DOCKER_IMAGE", str, "capytale-notebook:latest", "Notebook image of students' containers and grading runs (compose/notebook-image/).", ("spawner", "activities")),
    Setting("DOCKER_MEMORY_MB", int, 1024, "Memory limit of a student's container (and of a grading run's), MiB (no swap beyond it; /tmp counts in it).", ("spawner", "activities")),
    Setting("DOCKER_CPUS", float, 1.0, "CPUs a student's container may use (1.5: one and a half cores).", ("spawner", "activities")),
    Setting("DOCKER_PIDS", int, 256, "Most processes and threads a student's container may hold (stops fork bombs).", ("spawner", "activities")),
    Setting("DOCKER_TMP_MB", int, 64, "Size of the writable /tmp of a student's container, MiB.", ("spawner", "activities")),
    Setting("DOCKER_NETWORK", str, "none", "Docker network of students' containers: none (no network at all) or a network name that lets them out.", ("spawner",)),
    Setting("DOCKER_POOL", int, 10, "Warm containers each node keeps started ahead, an imported Jupyter server waiting in each for its student (0: every student's container starts cold, 2–3 s). Each holds about 70 MiB while it waits and warms up at a low CPU weight; the pool is refilled one at a time while the node starts no server. Needs CAP_SYS_ADMIN for the agent (docs/deploy.md).", ("spawner",)),
    Setting("DOCKER_USER", str, "1000:1000", "uid:gid students' servers (and grading kernels) run as; their workspace and socket folder are given to it.", ("spawner", "activities")),
)

_BY_NAME = {s.name: s for s in CATALOGUE}


class Settings(Mapping[str, Any]):
    """The settings of one service, read-only, by short name (``settings["NODE"]``)."""

    def __init__(self, service: str, values: dict[str, Any], explicit: set[str]):
        self.service = service
        self._values = values
        self.explicit = frozenset(explicit)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def is_default(self, name: str) -> bool:
        return name not in self.explicit


def load(service: str, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the settings of ``service`` from ``environ`` (default ``os.environ``).

    ``overrides`` (a test's mapping, by short name) wins over the environment.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    for key in environ:
        if key.startswith(PREFIX) and key[len(PREFIX):] not in _BY_NAME:
            raise SettingsError(_unknown(key))
    for name in overrides:
        if name not in _BY_NAME:
            raise SettingsError(_unknown(PREFIX + name))

    values: dict[str, Any] = {}
    explicit: set[str] = set()
    for setting in CATALOGUE:
        if service not in setting.services:
            continue
        if setting.name in overrides:
            value = overrides[setting.name]
            if not isinstance(value, setting.type):
                value = _parse(setting, str(value))
            explicit.add(setting.name)
        elif setting.env in environ:
            value = _parse(setting, environ[setting.env])
            explicit.add(setting.name)
        else:
            value = setting.default(values) if callable(setting.default) else setting.default
        values[setting.name] = value
    settings = Settings(service, values, explicit)
    _refuse_insecure_defaults(settings)
    return settings


def _parse(setting: Setting, raw: str) -> Any:
    try:
        return PARSERS[setting.type](raw)
    except ValueError as exc:
        raise SettingsError(f"{setting.env}: {exc} ({setting.help})") from None


def _unknown(env: str) -> str:
    close = difflib.get_close_matches(env, [s.env for s in CATALOGUE], n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{env} is not a Capytale setting{hint} (python -m capytale.settings lists them)"


_DEVELOPMENT_ONLY = ("SESSION_PRIVATE_KEY", "SESSION_PUBLIC_KEY", "USER_KEY_SECRET_FILE", "GRANT_PRIVATE_KEY", "GRANT_PUBLIC_KEY",
                     "SEED_SECRET_FILE")


def _refuse_insecure_defaults(settings: Settings) -> None:
    if not settings.get("PRODUCTION"):
        return
    for name in _DEVELOPMENT_ONLY:
        if name in settings and settings.is_default(name):
            raise SettingsError(f"{PREFIX}{name} must be set in production (the default is a development key)")
    if settings.get("DEV_LOGIN"):
        raise SettingsError(f"{PREFIX}DEV_LOGIN is refused in production")
    if settings.get("CLOCK_FILE"):
        raise SettingsError(f"{PREFIX}CLOCK_FILE is for tests only: refused in production (the clock must be the real one)")
    if "NOTEBOOK_URL" in settings and (KEY not in settings["NOTEBOOK_URL"] or
                                       origin(settings["NOTEBOOK_URL"]) == origin(settings["PUBLIC_URL"])):
        raise SettingsError(f"{PREFIX}NOTEBOOK_URL must give each student an origin apart from {PREFIX}PUBLIC_URL "
                            "in production (e.g. https://{key}.nb.capytale.example): students' servers serve pages "
                            "their code controls")
    if settings.get("GRADING_RUNNER") == "process":
        raise SettingsError(f"{PREFIX}GRADING_RUNNER=process is refused in production (its kernels have the "
                            "platform's rights and network): use docker")
    if settings.get("SPAWNER_BACKEND") == "process":
        raise SettingsError(f"{PREFIX}SPAWNER_BACKEND=process is refused in production (it isolates nothing): use docker")


KEY = "{key}"  # in NOTEBOOK_URL: the student's user key


def usable_cpus() -> int:
    """CPUs this process may use (its affinity: a container's or a taskset's limit counts), at least one;
    what ``SPAWN_PARALLEL`` 0 means."""
    return max(1, len(os.sched_getaffinity(0)))


def notebook_url(template: str, user_key: str) -> str:
    """The base URL of ``user_key``'s server (``NOTEBOOK_URL`` with its key), no trailing slash."""
    return template.replace(KEY, user_key).rstrip("/")


def notebook_origins(template: str, public_url: str) -> re.Pattern | None:
    """The students' servers' origins, as a pattern an ``Origin`` header matches in full;
    None when they are the platform's own (the development default)."""
    if origin(template) == origin(public_url):
        return None
    if KEY not in template:
        return re.compile(re.escape(origin(template)))
    return re.compile(re.escape(origin(template.replace(KEY, "key0"))).replace("key0", "[a-z0-9]+"))


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as browsers compare origins (default ports left out)."""
    parts = urllib.parse.urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def catalogue_text() -> str:
    lines = []
    for s in CATALOGUE:
        default = "(derived)" if callable(s.default) else repr(s.default)
        lines.append(f"{s.env:34} {s.type.__name__:5} {default:28} [{', '.join(s.services)}]\n    {s.help}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(catalogue_text())
