"""An activity's time window: when students may come in, and what its closing does.

``opens_at`` and ``closes_at`` (UTC; either may be unset) and ``after_close``:

- before ``opens_at``, a student following the link is told when it opens (403,
  ``not_open_yet``), copy or not;
- at ``closes_at`` every copy still ``en_cours`` is handed in by the closing (a
  snapshot, the file read-only), in both modes.  With ``read_only`` a student opens
  their copy as it was handed in, read-only; one without a copy gets none
  (``activity_ended``).  With ``hidden`` the link tells every student that the
  activity is closed and reopens when the teacher decides (``activity_hidden``), and
  "Mes activités" lists it without a way in;
- reopening (a later ``closes_at``, or none) gives back the copies the closing had
  handed in and nobody corrected since; those the students handed in themselves stay
  handed in.

The activity's teacher is never kept out: they try their own activity whatever its
window.  A closing is applied when anyone reaches the activity after ``closes_at``, and
by a sweep every ``CLOSING_INTERVAL`` seconds in each activities process (so that a
student's open notebook becomes read-only on time even if nobody asks); both are
idempotent, and a copy handed in by a student at the same moment is handed in once.
``closing_done_for`` remembers which ``closes_at`` was applied: a copy the teacher gives
back after the closing stays given back.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from datetime import datetime
from typing import Mapping

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from capytale import db
from capytale.errors import PlatformError
from capytale.tokens import Identity
from services.activities import autograding, clock, feedback, storage as storage_module
from services.activities.evaluation import BY_CLOSING, EN_COURS, RENDUE, give_back, hand_in
from services.activities.models import Activity, Copy, as_utc
from services.activities.storage import Storage
from services.activities.times import parse_moment, when

log = logging.getLogger("capytale.activities")

READ_ONLY, HIDDEN = "read_only", "hidden"
WINDOW_FIELDS = frozenset({"opens_at", "closes_at", "after_close", "grading"})


def _refuse(message: str, reason: str, detail: str, status: int = 400) -> PlatformError:
    return PlatformError(message, log_message=detail, reason=reason, status=status)


def is_closed(activity: Activity, moment: datetime) -> bool:
    return activity.closes_at is not None and moment >= as_utc(activity.closes_at)


def not_open_yet(activity: Activity, moment: datetime) -> bool:
    return activity.opens_at is not None and moment < as_utc(activity.opens_at)


def is_hidden(activity: Activity, moment: datetime) -> bool:
    return is_closed(activity, moment) and activity.after_close == HIDDEN


# --- what the teacher sets -------------------------------------------------------------------


def set_window(session: Session, storage: Storage, activity: Activity, body: object, moment: datetime) -> None:
    """Apply the teacher's ``{"opens_at", "closes_at", "after_close", "grading"}`` (each optional): all checked
    first, nothing changed on a refusal; reopening gives back what the closing had handed in."""
    if not isinstance(body, Mapping):
        raise _refuse(_("La demande doit être un objet JSON."), "bad_json", f"window body {body!r:.80}")
    unknown = sorted(set(body) - WINDOW_FIELDS)
    if unknown:
        raise _refuse(_("Champ inconnu : « %(field)s » (les champs sont opens_at, closes_at, after_close et "
                        "grading).", field=unknown[0]), "unknown_field", f"window fields {unknown}")
    opens_at = parse_moment(body["opens_at"], "opens_at") if "opens_at" in body else activity.opens_at
    closes_at = parse_moment(body["closes_at"], "closes_at") if "closes_at" in body else activity.closes_at
    after_close = body.get("after_close", activity.after_close)
    if after_close not in (READ_ONLY, HIDDEN):
        raise _refuse(_("« after_close » doit être « read_only » (copies rendues et en lecture seule) ou « hidden » "
                        "(activité masquée aux élèves)."), "bad_after_close", f"after_close {after_close!r}")
    if opens_at is not None and closes_at is not None and as_utc(closes_at) <= as_utc(opens_at):
        raise _refuse(_("La fermeture doit venir après l'ouverture."), "bad_window",
                      f"closes_at {closes_at} before opens_at {opens_at}")
    scheme, top = (activity.grading, activity.grade_max)
    if "grading" in body:
        scheme, top = feedback.read_scale(body["grading"])
        _check_grades_fit(session, activity, scheme, top or activity.grade_max)
    was_done = activity.closing_done_for is not None
    activity.opens_at, activity.closes_at, activity.after_close = opens_at, closes_at, after_close
    activity.grading, activity.grade_max = scheme, top or activity.grade_max
    reopened = was_done and not is_closed(activity, moment)
    if reopened:
        activity.closing_done_for = None
    session.commit()
    if reopened:
        _give_back_the_closings(session, storage, activity, moment)
    close_if_due(session, storage, activity, moment)


def _check_grades_fit(session: Session, activity: Activity, scheme: str, top: int) -> None:
    """A new scale must keep every grade already given on it (409 otherwise)."""
    trial = Activity(grading=scheme, grade_max=top)
    grades = session.scalars(select(Copy.grade).where(Copy.activity_id == activity.id, Copy.grade.is_not(None)))
    if any(not feedback.fits(trial, grade) for grade in grades):
        raise _refuse(_("Des copies ont déjà une note qui ne tient pas dans ce barème : change ou efface ces notes "
                        "d'abord."), "grades_off_scale", f"activity {activity.id}: grades off {scheme}/{top}", 409)


def _give_back_the_closings(session: Session, storage: Storage, activity: Activity, moment: datetime) -> None:
    copies = session.scalars(select(Copy).where(Copy.activity_id == activity.id, Copy.state == RENDUE,
                                                Copy.handed_in_by == BY_CLOSING))
    for copy in list(copies):
        give_back(session, storage, activity, copy, moment)
    log.info("activity %s reopened: copies handed in by its closing given back", activity.id)


# --- the closing --------------------------------------------------------------------------------


def close_if_due(session: Session, storage: Storage, activity: Activity, moment: datetime) -> int:
    """Hand in every ``en_cours`` copy when ``activity`` has closed and this closing was not applied yet;
    how many this call handed in."""
    if not is_closed(activity, moment) or activity.deleted_at is not None:
        return 0
    if activity.closing_done_for is not None and as_utc(activity.closing_done_for) == as_utc(activity.closes_at):
        return 0
    handed = 0
    for copy in list(session.scalars(select(Copy).where(Copy.activity_id == activity.id, Copy.state == EN_COURS))):
        try:
            handed += hand_in(session, storage, copy, BY_CLOSING, moment)
        except PlatformError as refusal:  # a spoiled copy stays as it is; the others are handed in
            log.warning("closing of activity %s: copy %s not handed in: %s", activity.id, copy.id,
                        refusal.log_message)
    activity.closing_done_for = activity.closes_at
    session.commit()
    log.info("activity %s closed at %s: %d copies handed in", activity.id, activity.closes_at, handed)
    return handed


def close_due(session: Session, storage: Storage, moment: datetime) -> int:
    """Apply every closing that is due; how many copies were handed in."""
    due = session.scalars(select(Activity).where(
        Activity.closes_at.is_not(None), Activity.closes_at <= moment, Activity.deleted_at.is_(None),
        or_(Activity.closing_done_for.is_(None), Activity.closing_done_for != Activity.closes_at)))
    return sum(close_if_due(session, storage, activity, moment) for activity in list(due))


# --- the student's way in -------------------------------------------------------------------------


def admit(activity: Activity, person: Identity, has_copy: bool, moment: datetime) -> None:
    """Let ``person`` reach ``activity`` now (open their copy, hand it in), or say plainly why not (403)."""
    if person.uid == activity.owner_uid:
        return
    if not_open_yet(activity, moment):
        raise PlatformError(
            _("Cette activité ouvre le %(when)s (heure de Paris). Reviens à ce moment-là : ton lien marchera.",
              when=when(activity.opens_at)), heading=_("Pas encore ouverte"),
            log_message=f"activity {activity.id} opens at {activity.opens_at}: {person.uid} too early",
            reason="not_open_yet", status=403)
    if is_hidden(activity, moment):
        raise PlatformError(
            _("Cette activité est fermée depuis le %(when)s (heure de Paris) : ton enseignant·e l'a masquée. Elle "
              "rouvrira quand il ou elle le décidera ; ta copie est gardée.", when=when(activity.closes_at)),
            heading=_("Activité fermée"),
            log_message=f"activity {activity.id} hidden since {activity.closes_at}: {person.uid} refused",
            reason="activity_hidden", status=403)
    if is_closed(activity, moment) and not has_copy:
        raise PlatformError(
            _("Cette activité est fermée depuis le %(when)s (heure de Paris) : il n'est plus possible d'en recevoir "
              "une copie.", when=when(activity.closes_at)), heading=_("Activité fermée"),
            log_message=f"activity {activity.id} closed at {activity.closes_at}: no copy for {person.uid}",
            reason="activity_ended", status=403)


# --- the sweep ------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Sweep the due closings, and the due gradings (:func:`autograding.sweep`), every ``CLOSING_INTERVAL``
    seconds (0: never, for unit tests), from a thread started with this process's first request (after
    gunicorn has forked)."""
    interval = app.config["CAPYTALE"].get("CLOSING_INTERVAL", 0)
    if not interval:
        return
    started = threading.Event()
    reference = weakref.ref(app)

    def start() -> None:
        if not started.is_set():
            started.set()
            threading.Thread(target=_sweep, args=(reference, interval), name="closings", daemon=True).start()

    app.before_request(start)


def _sweep(reference: weakref.ref, interval: float) -> None:
    while True:
        time.sleep(interval)
        app = reference()
        if app is None:
            return
        try:
            with app.app_context():
                close_due(db.session(), storage_module.current(), clock.now())
        except Exception:  # noqa: BLE001 - the next pass tries again
            log.exception("sweep of the due closings failed")
        try:
            with app.app_context():
                autograding.sweep(app)  # the gradings due: retries, runs a dead process left, older hand-ins
        except Exception:  # noqa: BLE001 - the next pass tries again
            log.exception("sweep of the due gradings failed")
        del app


def window_json(activity: Activity) -> dict:
    """The activity's window and scale, as the JSON interface gives them (UTC)."""
    def moment(value: datetime | None) -> str | None:
        return as_utc(value).isoformat(timespec="seconds") if value is not None else None

    return {"opens_at": moment(activity.opens_at), "closes_at": moment(activity.closes_at),
            "after_close": activity.after_close, "grading": feedback.scale_json(activity)}
