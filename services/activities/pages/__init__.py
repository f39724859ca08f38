"""The activities service's pages, one blueprint per concern, all rendered on the server.

- :mod:`.teacher`: my activities, a new activity, one activity, its options and versions;
- :mod:`.copies`: the students' copies as their teacher sees them;
- :mod:`.downloads`: what a teacher takes away (ZIP, CSV);
- :mod:`.student`: "Mes activités", a student's copies, their hand-in and correction.

Every page works without JavaScript; the small script of ``static/activities.js``
only adds comforts (drag and drop, the copy button, confirmations).  Forms post
back to the page they belong to; a refusal is shown on that page, in the
person's language, with nothing stored.  What they share is here: the time
filter (Paris time), who is asking, how a refusal is shown.
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Flask

from capytale.errors import PlatformError
from capytale.web import current_identity
from services.activities.times import local_input, when

log = logging.getLogger("capytale.activities")


def init_app(app: Flask) -> None:
    """Register the pages' blueprints and what their templates share."""
    from services.activities.pages import copies, downloads, student, teacher

    app.add_template_filter(when, "when")
    app.add_template_filter(local_input, "local_input")
    app.context_processor(lambda: {"identity": current_identity()})
    for blueprint in (teacher.bp, copies.bp, downloads.bp, student.bp):
        app.register_blueprint(blueprint, url_prefix=app.config["URL_PREFIX"])


def refused(refusal: PlatformError) -> tuple[str, int]:
    """A refusal to show on the page it came from (errors of the platform itself still go up)."""
    if refusal.status >= 500:
        raise refusal
    log.info("form refused: %s %s", refusal.reason, refusal.log_message)
    return refusal.user_message, refusal.status


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "translate later": marks text for extraction
    return text


def attachment(name: str) -> str:
    """A Content-Disposition for ``name``, with its UTF-8 form for the accents (RFC 6266)."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
