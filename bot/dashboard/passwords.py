"""Password hashes for `dashboard.users`: scrypt (what `helpline dashboard hash-password` writes) or
PBKDF2-SHA256, both from the standard library, each with its parameters and salt in the string.

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>
    pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~50 ms and 16 MiB a check: slow for a guesser, fine for a login
MAX_PASSWORD_CHARS = 1024  # longer is refused before hashing: no multi-megabyte "passwords" to chew on
_MAX_SCRYPT_N = 2**20  # a hash in the settings asking for more memory than this is refused as not readable
_MAX_PBKDF2_ITERATIONS = 10_000_000


@dataclass(frozen=True, slots=True)
class _Parsed:
    scheme: str
    params: tuple[int, ...]
    salt: bytes
    digest: bytes


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A scrypt hash of `password` for `dashboard.users`."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def is_password_hash(text: str) -> bool:
    return _parse(text) is not None


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` matches `hashed` (compared in constant time); False for an unreadable hash."""
    parsed = _parse(hashed)
    if parsed is None or len(password) > MAX_PASSWORD_CHARS:
        return False
    if parsed.scheme == "scrypt":
        n, r, p = parsed.params
        computed = hashlib.scrypt(password.encode(), salt=parsed.salt, n=n, r=r, p=p, dklen=len(parsed.digest),
                                  maxmem=2 * 128 * n * r * p + 1024 * 1024)
    else:
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), parsed.salt, parsed.params[0], len(parsed.digest))
    return hmac.compare_digest(computed, parsed.digest)


@cache
def dummy_hash() -> str:
    """Checked against when the user name is unknown, so that an unknown name takes as long as a wrong password."""
    return hash_password("not a password", salt=b"helpline-dummy!!")


def _parse(text: str) -> _Parsed | None:
    parts = text.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            if not (2 <= n <= _MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 64 and 1 <= p <= 16):
                return None
            params: tuple[int, ...] = (n, r, p)
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
        elif parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not 1_000 <= iterations <= _MAX_PBKDF2_ITERATIONS:
                return None
            params = (iterations,)
            salt, digest = _unb64(parts[2]), _unb64(parts[3])
        else:
            return None
    except (ValueError, binascii.Error):
        return None
    if not salt or not 16 <= len(digest) <= 64:
        return None
    return _Parsed(parts[0], params, salt, digest)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
