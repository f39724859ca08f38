"""HAProxy's own answers, as the platform's French pages.

HAProxy answers by itself when no server of a backend is up (503), when one fails or takes too
long (502, 504), when a request is malformed or too long (400), too slow to arrive (408), or
refused by a rule (the 404 for ``/n/…`` on the wrong host). Left alone it answers in English, in
its own look. :func:`write` puts one complete HTTP response a status (``<status>.http``: status
line, headers, body) into a folder that :func:`capytale.stack.haproxy.render` names in ``errorfile``
lines: ``var/haproxy-errors/`` for the local stack, ``compose/haproxy-errors/`` (mounted at
:data:`COMPOSE_FOLDER`) for production.

The pages carry the Content-Security-Policy of every other page (:mod:`capytale.web`; with no
form on them, ``form-action`` need not admit the students' hosts, which a static file could not
name for every platform), are never
cached (a 503 must not outlive the outage), and look like ``capytale/error.html``: the common
stylesheet, linked from two services so that one down still leaves the look (on a student's host it
is the platform's and is refused by the policy: the page is then plain, and still reads), and a way
forward, "Réessayer" (the same address again) or the home page.
"""
from __future__ import annotations

import http
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2

from capytale.web import CONTENT_SECURITY_POLICY

COMPOSE_FOLDER = "/usr/local/etc/haproxy/errors"  # where compose/docker-compose.yml mounts compose/haproxy-errors
STYLESHEETS = ("/activities/_common/static/capytale.css", "/auth/_common/static/capytale.css")
RETRY = ("", "Réessayer")  # an empty href is this very address
HOME = ("/", "Revenir à l'accueil")
POLICY = CONTENT_SECURITY_POLICY.format(notebooks="")  # form-action 'self' only: these pages have no form


@dataclass(frozen=True)
class Page:
    message: str
    link: tuple[str, str] = HOME  # (href, label) of the button
    retry: bool = False  # the button says "Réessayer", the home page is a second link


# Every status HAProxy can answer by itself (errorfile's list but 200, which only monitor-uri sends).
PAGES: dict[int, Page] = {
    400: Page("La demande n'a pas pu être comprise : elle est peut-être trop longue. Si cela se reproduit, "
              "efface les cookies de ce site, puis réessaie."),
    401: Page("Il faut te connecter pour continuer."),
    403: Page("Tu n'as pas accès à cette page."),
    404: Page("Cette page n'existe pas (ou plus)."),
    405: Page("Cette action n'est pas possible ici."),
    407: Page("Il faut te connecter pour continuer."),
    408: Page("La demande a mis trop de temps à arriver. Réessaie.", retry=True),
    410: Page("Cette page n'existe plus."),
    413: Page("Le fichier envoyé est trop gros."),
    425: Page("La demande est arrivée trop tôt. Réessaie dans un instant.", retry=True),
    429: Page("Trop de demandes en peu de temps. Attends un instant, puis réessaie.", retry=True),
    500: Page("Une erreur inattendue s'est produite. Réessaie dans un instant.", retry=True),
    501: Page("Cette demande n'est pas prise en charge par la plateforme."),
    502: Page("Un service de la plateforme ne répond pas. Réessaie dans un instant.", retry=True),
    503: Page("La plateforme est momentanément indisponible. Réessaie dans un instant.", retry=True),
    504: Page("Un service de la plateforme a mis trop de temps à répondre. Réessaie dans un instant.", retry=True),
}

# What an open notebook page's calls (…/api/…) get when its node's proxy is away, as the router's
# /s/_proxy-error/ answers them when the student's server is: Jupyter shows "message" and keeps the edits.
SERVER_GONE = {"message": "Ton serveur Jupyter ne répond pas pour l'instant : tes modifications restent dans la page "
                          "et seront enregistrées quand il sera revenu.",
               "reason": "server_gone"}

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

TEMPLATE = jinja2.Environment(autoescape=True, keep_trailing_newline=True).from_string("""\
<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Capytale — {{ status }}</title>
{%- for href in stylesheets %}
  <link rel="stylesheet" href="{{ href }}">
{%- endfor %}
</head>
<body>
  <header class="topbar">
    <a class="brand" href="/">Capytale</a>
  </header>
  <main>
    <section class="card notice" role="alert">
      <h1>Oups…</h1>
      <p class="message">{{ page.message }}</p>
      <p>
        <a class="button" href="{{ link[0] }}">{{ link[1] }}</a>
{%- if page.retry %}
        <a class="button secondary" href="{{ home[0] }}">{{ home[1] }}</a>
{%- endif %}
      </p>
    </section>
  </main>
</body>
</html>
""")


def body(status: int) -> str:
    page = PAGES[status]
    return TEMPLATE.render(status=status, page=page, link=RETRY if page.retry else page.link, home=HOME,
                           stylesheets=STYLESHEETS)


def response(status: int) -> bytes:
    """The complete HTTP response HAProxy sends for ``status``."""
    payload = body(status).encode()
    head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
            *(f"{name}: {value}" for name, value in HEADERS.items()), f"Content-Length: {len(payload)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def write(folder: Path) -> Path:
    """Every status's response into ``folder`` (made if missing); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for status in PAGES:
        (folder / f"{status}.http").write_bytes(response(status))
    return folder


def server_gone_json() -> str:
    """:data:`SERVER_GONE` as HAProxy's ``http-request return`` sends it (UTF-8 JSON)."""
    return json.dumps(SERVER_GONE, ensure_ascii=False)


def errorfile_lines(folder: str) -> list[str]:
    """HAProxy's ``errorfile`` directives for the files :func:`write` puts in ``folder``."""
    return [f"    errorfile {status} {folder.rstrip('/')}/{status}.http" for status in PAGES]
