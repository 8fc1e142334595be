"""Session cookies of the dashboard: who logged in and until when, signed with HMAC-SHA256.

    v1.<user, base64url>.<expiry, unix seconds>.<signature, base64url>

Nothing is stored on the server: a cookie is good while its signature checks and it has not expired
(and the signing key, derived from the credentials unless `dashboard.session_secret` is set, has not
changed). A cookie is parsed from outside input, so every part is bounded and checked before use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

COOKIE_NAME = "helpline_dashboard"
MAX_COOKIE_CHARS = 1024
TOKEN_USER = ""  # the session of someone who logged in with dashboard.token rather than as a named user


@dataclass(frozen=True, slots=True)
class Session:
    user: str  # TOKEN_USER for a token login
    expires_at: int


def sign_session(session: Session, key: bytes) -> str:
    body = f"v1.{_b64(session.user.encode())}.{session.expires_at}"
    return f"{body}.{_b64(_mac(key, body))}"


def read_session(cookie: str, key: bytes, now: float) -> Session | None:
    """The session a cookie carries, or None when it is malformed, forged, tampered with or expired."""
    if len(cookie) > MAX_COOKIE_CHARS or not cookie.isascii():
        return None
    parts = cookie.split(".")
    if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit() or len(parts[2]) > 12:
        return None
    body = ".".join(parts[:3])
    try:
        signature = _unb64(parts[3])
        user = _unb64(parts[1]).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(signature, _mac(key, body)):
        return None
    expires_at = int(parts[2])
    if expires_at <= now:
        return None
    return Session(user, expires_at)


def signing_key(session_secret: str | None, token: str | None, user_hashes: dict[str, str]) -> bytes:
    """The HMAC key: the configured secret, else one derived from every credential (same in every process)."""
    if session_secret:
        material = "secret\0" + session_secret
    else:
        material = "derived\0" + (token or "") + "\0" + "\0".join(f"{k}={v}" for k, v in sorted(user_hashes.items()))
    return hashlib.sha256(b"helpline dashboard session\0" + material.encode()).digest()


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
