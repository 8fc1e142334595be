"""The signed tokens of the e-mail rating links (`GET /feedback/<token>`): pure, no Redis, no clock.

A token names a case, the round of it (how many times it was reopened) and a CSAT score, and
carries an HMAC-SHA256 of the three under `feedback.secret`, so nobody can rate a case, a round or
a score they were not sent a link for. It is `<case>.<round>.<score>.<signature>`, URL-safe as it
stands; the signature is 22 base64url characters (132 bits), compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

MAX_TOKEN_CHARS = 64  # anything longer is refused before it is parsed
_SIGNATURE_CHARS = 22
_TOKEN = re.compile(r"([1-9][0-9]{0,11})\.(0|[1-9][0-9]{0,5})\.([1-5])\.([A-Za-z0-9_-]{22})")
_PURPOSE = b"helpline-csat-link"  # a signature made for anything else under the same secret never matches


@dataclass(frozen=True, slots=True)
class RatingLink:
    case: int
    round: int
    score: int


def _signature(secret: bytes, case: int, round_: int, score: int) -> str:
    message = b"%s|%d|%d|%d" % (_PURPOSE, case, round_, score)
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_SIGNATURE_CHARS]


def make_token(secret: bytes, case: int, round_: int, score: int) -> str:
    """The token of the link that rates `case` in `round_` with `score` (1-5)."""
    if not secret:
        raise ValueError("a rating link needs feedback.secret")
    if not (case >= 1 and round_ >= 0 and 1 <= score <= 5):
        raise ValueError(f"no rating link for case {case}, round {round_}, score {score}")
    return f"{case}.{round_}.{score}.{_signature(secret, case, round_, score)}"


def read_token(secret: bytes, token: str) -> RatingLink | None:
    """What a token rates, or None when it is malformed or not signed with `secret`."""
    if not secret or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    case, round_, score = int(match.group(1)), int(match.group(2)), int(match.group(3))
    expected = _signature(secret, case, round_, score)
    if not hmac.compare_digest(expected.encode("ascii"), match.group(4).encode("ascii")):
        return None
    return RatingLink(case, round_, score)
