"""Share codes: what follows ``/s/`` in the URL a teacher gives to the class.

Eight characters drawn with :mod:`secrets` from an alphabet without look-alikes
(no 0/O, 1/I/L, 5/S, 2/Z…), so that a code read aloud or copied from a board
is typed right: 27⁸ ≈ 3 × 10¹¹ codes, too many to guess.
"""
from __future__ import annotations

import secrets

ALPHABET = "346789abcdefghjkmnpqrtuvwxy"
LENGTH = 8


def new_code() -> str:
    """A fresh random share code."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
