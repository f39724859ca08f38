"""A real CAS server for the tests: django-cas-server from PyPI, on loopback.

It runs in its own virtual environment (``.cache/cas-venv``, made on first use),
with a Django project written at test time in a temporary folder: an authentication
class whose people carry ENT attributes (SDET profiles, UAI, classes), one service
pattern for Capytale's callback with single logout on, every attribute released.
Started with ``runserver 127.0.0.1:<port> --noreload``, stopped by its pid.
"""
from __future__ import annotations

import html.parser
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "cas-venv"
PACKAGE = "django-cas-server==3.1.0"

PEOPLE = {
    "prof.martin": {"password": "craie", "attributes": {
        "ENTPersonProfils": ["National_ENS"], "displayName": "Claire Martin",
        "ENTPersonStructRattachUAI": "0750001A", "ENTAuxEnsClasses": ["0750001A$2NDE3", "0750001A$TG1"]}},
    "eleve.dupont": {"password": "cahier", "attributes": {
        "ENTPersonProfils": "National_ELV", "givenName": "Jules", "sn": "Dupont",
        "ENTPersonStructRattachUAI": "0750001A", "ENTEleveClasses": ["0750001A$2NDE3"]}},
    "eleve.nguyễn": {"password": "stylo", "attributes": {
        "ENTPersonProfils": ["National_ELV"], "displayName": "Minh Nguyễn",
        "ENTPersonStructRattachUAI": "0750001A", "ENTEleveClasses": ["0750001A$2NDE3", "0750001A$G2-NSI"]}},
    "parent.dupont": {"password": "gomme", "attributes": {
        "ENTPersonProfils": ["National_TUT"], "displayName": "Anne Dupont"}},
}

SETTINGS = """
import json, pathlib
HERE = pathlib.Path(__file__).parent
SECRET_KEY = "capytale-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages", "django.contrib.staticfiles", "cas_server"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware", "django.middleware.locale.LocaleMiddleware"]
ROOT_URLCONF = "cas_urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
                           "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(HERE / "cas.sqlite3")}}
STATIC_URL = "/static/"
USE_TZ = True
LANGUAGE_CODE = "fr"
CAS_AUTH_CLASS = "ent_auth.EntAuthUser"
CAS_NEW_VERSION_HTML_WARNING = False
CAS_NEW_VERSION_EMAIL_WARNING = False
CAS_SLO_TIMEOUT = 5
LOGGING = {"version": 1, "disable_existing_loggers": False}
"""

URLS = """
from django.urls import include, path
urlpatterns = [path("cas/", include("cas_server.urls", namespace="cas_server"))]
"""

AUTH = """
import json, pathlib
from cas_server.auth import AuthUser
PEOPLE = json.loads((pathlib.Path(__file__).parent / "people.json").read_text(encoding="utf-8"))

class EntAuthUser(AuthUser):
    \"\"\"People of an ENT, with their SDET attributes.\"\"\"
    def test_password(self, password):
        return self.username in PEOPLE and PEOPLE[self.username]["password"] == password
    def attributs(self):
        return dict(PEOPLE[self.username]["attributes"]) if self.username in PEOPLE else {}
"""

SETUP = """
from cas_server.models import ReplaceAttributName, ServicePattern
pattern = ServicePattern.objects.create(pos=1, name="capytale", pattern=r"^http://127\\.0\\.0\\.1:[0-9]+/auth/callback",
                                        single_log_out=True)
ReplaceAttributName.objects.create(name="*", service_pattern=pattern)
"""


def ensure_venv() -> Path:
    """The CAS server's own virtual environment, made on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PACKAGE], check=True, timeout=600)
    return python


@dataclass
class CasServer:
    url: str  # base URL, ending in /cas
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start(folder: Path, port: int, ready_timeout: float = 60.0) -> CasServer:
    python = ensure_venv()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cas_settings.py").write_text(SETTINGS)
    (folder / "cas_urls.py").write_text(URLS)
    (folder / "ent_auth.py").write_text(AUTH)
    (folder / "people.json").write_text(json.dumps(PEOPLE, ensure_ascii=False), encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CAPYTALE_", "PYTHON"))},
           "DJANGO_SETTINGS_MODULE": "cas_settings", "PYTHONPATH": str(folder)}
    django = [str(python), "-m", "django"]
    subprocess.run([*django, "migrate", "-v", "0"], cwd=folder, env=env, check=True, timeout=120,
                   capture_output=True)
    subprocess.run([*django, "shell", "-c", SETUP], cwd=folder, env=env, check=True, timeout=60, capture_output=True)
    log = folder / "cas.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*django, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=folder, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = CasServer(f"http://127.0.0.1:{port}/cas", process, log)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"CAS server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(server.url + "/login", timeout=1).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"CAS server not ready in {ready_timeout}s: {log.read_text(errors='replace')[-2000:]}")


class _Form(html.parser.HTMLParser):
    """The fields and action of the first form of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._done = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None and not self._done:
            self.action = attrs.get("action") or ""
        elif tag == "input" and self.action is not None and not self._done and attrs.get("name"):
            if attrs.get("type") not in ("checkbox", "submit"):
                self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self.action is not None:
            self._done = True


def submit_login(browser: requests.Session, login_page: requests.Response, username: str,
                 password: str) -> requests.Response:
    """Fill the CAS form (CSRF token and ``lt`` included) and post it, following no redirect."""
    form = _Form()
    form.feed(login_page.text)
    assert "lt" in form.fields and "csrfmiddlewaretoken" in form.fields, login_page.text[:2000]
    fields = {**form.fields, "username": username, "password": password}
    action = requests.compat.urljoin(login_page.url, form.action or login_page.url)
    return browser.post(action, data=fields, allow_redirects=False, timeout=10,
                        headers={"Referer": login_page.url})
