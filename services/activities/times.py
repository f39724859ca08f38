"""Times as people read and type them: shown in Paris time, stored and answered in UTC.

Pages show every moment in ``Europe/Paris`` (:func:`when`); what a teacher types in a
form (``2026-03-12T14:00``, no offset) is Paris time too, and so is an ISO 8601 moment
without an offset sent to the JSON interface; one with an offset (``Z``, ``+01:00``)
is taken as it says.  The database and the JSON answers are UTC.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _

from capytale.errors import PlatformError
from services.activities.models import as_utc

try:
    PARIS = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # a system without time zone data: say the times are UTC
    PARIS = timezone.utc


def when(moment: datetime | None) -> str:
    """A date and time in Paris time (``12/03/2025 à 14:05``, ``12/03/2025 at 14:05``)."""
    if moment is None:
        return "—"
    local = as_utc(moment).astimezone(PARIS)
    text = _("%(day)s à %(time)s", day=local.strftime("%d/%m/%Y"), time=local.strftime("%H:%M"))
    return text + (" UTC" if PARIS is timezone.utc else "")


def local_input(moment: datetime | None) -> str:
    """``moment`` as an ``<input type="datetime-local">`` value, in Paris time (empty for none)."""
    return "" if moment is None else as_utc(moment).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def parse_moment(value: object, field: str) -> datetime | None:
    """An ISO 8601 moment (Paris time when it names no offset) in UTC; None for null or empty; 400 otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PlatformError(
            _("« %(field)s » doit être une date et une heure, par exemple 2026-03-12T14:00 (heure de Paris) ou "
              "2026-03-12T13:00:00Z.", field=field),
            log_message=f"{field}: not an ISO 8601 moment: {value!r}", reason="bad_moment", status=400) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.astimezone(timezone.utc)
