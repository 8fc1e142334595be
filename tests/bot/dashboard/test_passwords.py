"""Password hashes of dashboard.users: scrypt and PBKDF2 verify; unreadable hashes never match."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dashboard.passwords import MAX_PASSWORD_CHARS, hash_password, is_password_hash, verify_password


def test_a_scrypt_hash_verifies_its_password_only() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("scrypt$") and is_password_hash(hashed)
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct horse ", hashed)
    assert hash_password("correct horse") != hashed  # salted


def test_a_pbkdf2_hash_from_elsewhere_verifies() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", "pässword".encode(), salt, 200_000)
    hashed = f"pbkdf2_sha256$200000${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert is_password_hash(hashed)
    assert verify_password("pässword", hashed) and not verify_password("password", hashed)


def test_unreadable_or_greedy_hashes_are_refused() -> None:
    for hashed in ["", "plain", "scrypt$16384$8$1$c2FsdA", "scrypt$16383$8$1$c2FsdA$" + "A" * 43,
                   "scrypt$2097152$8$1$c2FsdA$" + "A" * 43,  # more memory than allowed
                   "pbkdf2_sha256$10$c2FsdA$" + "A" * 43, "pbkdf2_sha256$x$c2FsdA$AAAA", "md5$abc",
                   "scrypt$16384$8$1$$" + "A" * 43, "scrypt$16384$8$1$c2FsdA$AAAA", "scrypt$16384$8$1$ü$" + "A" * 43]:
        assert not is_password_hash(hashed), hashed
        assert not verify_password("x", hashed)


def test_an_overlong_password_is_refused_without_hashing() -> None:
    hashed = hash_password("a" * MAX_PASSWORD_CHARS)
    assert verify_password("a" * MAX_PASSWORD_CHARS, hashed)
    assert not verify_password("a" * (MAX_PASSWORD_CHARS + 1), hashed)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_any_text_is_parsed_without_error(text: str) -> None:
    assert is_password_hash(text) in (True, False)
    if not is_password_hash(text):
        assert not verify_password("x", text)
