"""What a password must be, and a password check that costs the same whether or not the
account exists.

Weak passwords are judged by zxcvbn (Dropbox's estimator, with its lists of the most common
passwords, names and words): `12345678`, `password1` or `qwertyuiop` score 0, like anything
built from the username or the display name given with them.
"""

from __future__ import annotations

import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

MIN_LENGTH = 8
# zxcvbn's 0–4; 2 is "somewhat guessable", past the lists of common passwords and their
# simple variations, which is what an online guesser (slowed by LOGIN_RATE_LIMIT) tries.
MIN_SCORE = 2
# zxcvbn refuses to judge longer passwords (its matching grows fast with the length); the first
# 72 characters of a password that long are judged instead.
JUDGED_LENGTH = 72


def weakness(password: str, *related: str) -> str | None:
    """Why the password cannot be used ("too_short" or "common"), or None if it can.
    `related` are the other things the person typed (username, name, e-mail)."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    judged = zxcvbn(password[:JUDGED_LENGTH], user_inputs=[r for r in related if r])
    return "common" if judged["score"] < MIN_SCORE else None


def check(hashed: str | None, password: str) -> bool:
    """Whether the password matches the hash; with no hash (no such account) a dummy one is
    checked, so that an unknown username takes as long to refuse as a wrong password."""
    if hashed is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(hashed, password)


@cache
def _dummy_hash() -> str:
    # Made like every real hash (werkzeug's default method and cost), of a password nobody has.
    return generate_password_hash(secrets.token_urlsafe(32))
