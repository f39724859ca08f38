"""The activities service's pages, one blueprint per concern, all rendered on the server.

- :mod:`.teacher`: my activities, a new activity, one activity, its options and versions;
- :mod:`.copies`: the students' copies as their teacher sees them;
- :mod:`.downloads`: what a teacher takes away (ZIP, CSV).

Every page works without JavaScript; the small script of ``static/activities.js``
only adds comforts (drag and drop, the copy button, confirmations).  Forms post
back to the page they belong to; a refusal is shown on that page, in the
person's language, with nothing stored.  What they share is here: the time
filter (Paris time), who is asking, how a refusal is shown.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from flask_babel import gettext as _

from capytale.errors import PlatformError
from capytale.web import current_identity
from services.activities.models import as_utc

log = logging.getLogger("capytale.activities")

try:
    TEACHERS_TIME = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # a system without time zone data: say the times are UTC
    TEACHERS_TIME = timezone.utc


def init_app(app: Flask) -> None:
    """Register the pages' blueprints and what their templates share."""
    from services.activities.pages import copies, downloads, teacher

    app.add_template_filter(when, "when")
    app.context_processor(lambda: {"identity": current_identity()})
    for blueprint in (teacher.bp, copies.bp, downloads.bp):
        app.register_blueprint(blueprint, url_prefix=app.config["URL_PREFIX"])


def when(moment: datetime | None) -> str:
    """A date and time in the teachers' time zone (``12/03/2025 à 14:05``, ``12/03/2025 at 14:05``)."""
    if moment is None:
        return "—"
    local = as_utc(moment).astimezone(TEACHERS_TIME)
    text = _("%(day)s à %(time)s", day=local.strftime("%d/%m/%Y"), time=local.strftime("%H:%M"))
    return text + (" UTC" if TEACHERS_TIME is timezone.utc else "")


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
