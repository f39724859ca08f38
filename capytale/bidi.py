"""Bidirectional control characters: invisible, they change the order in which text is shown.

A file sent as ``exercice\\u202egnp.ipynb`` (U+202E, RIGHT-TO-LEFT OVERRIDE) is
shown as ``exercicebnypi.png``: a notebook that looks like an image, in a student's
file browser or a teacher's list.  The embeddings, overrides and isolates
(U+202A–U+202E, U+2066–U+2069) reorder what follows them; the marks (U+200E,
U+200F, U+061C) only move the punctuation around them, but they too make two
names that look the same differ.  No French school name needs any of them.

What a person types (a title, a file name) is refused when it holds one
(:func:`bidi_control_in`), so that they can see and fix it; what the ENT says
(a display name, a class) is cleaned (:func:`without_bidi_controls`), since the
person cannot change it.
"""
from __future__ import annotations

BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides, and their end (PDF)
    "\u2066\u2067\u2068\u2069"  # isolates, and their end (PDI)
    "\u200e\u200f\u061c"  # left-to-right, right-to-left and Arabic letter marks
)


def bidi_control_in(text: str) -> str | None:
    """The first bidirectional control character of ``text``, written ``U+202E``; None when it has none."""
    found = next((c for c in text if c in BIDI_CONTROLS), None)
    return None if found is None else f"U+{ord(found):04X}"


def without_bidi_controls(text: str) -> str:
    """``text`` without its bidirectional control characters."""
    return "".join(c for c in text if c not in BIDI_CONTROLS)


def made_visible(text: str) -> str:
    """``text`` with each bidirectional control replaced by U+FFFD (�), for a message that quotes it."""
    return "".join("\N{REPLACEMENT CHARACTER}" if c in BIDI_CONTROLS else c for c in text)
