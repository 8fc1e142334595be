"""Session cookies: a signed cookie reads back; forged, tampered, expired or malformed ones never do."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.dashboard.sessions import MAX_COOKIE_CHARS, Session, read_session, sign_session, signing_key

KEY = signing_key(None, "s3cret-token", {})
NOW = 1_800_000_000.0


def test_a_signed_session_reads_back_until_it_expires() -> None:
    cookie = sign_session(Session("maria", int(NOW) + 3600), KEY)
    assert read_session(cookie, KEY, NOW) == Session("maria", int(NOW) + 3600)
    assert read_session(cookie, KEY, NOW + 3600) is None  # expired


def test_every_changed_character_is_refused() -> None:
    cookie = sign_session(Session("maria", int(NOW) + 3600), KEY)
    for index, char in enumerate(cookie):
        for other in ("A", "0", "_", "."):
            if other != char:
                tampered = cookie[:index] + other + cookie[index + 1:]
                session = read_session(tampered, KEY, NOW)
                assert session is None or session == Session("maria", int(NOW) + 3600), tampered


def test_a_longer_expiry_or_another_user_breaks_the_signature() -> None:
    cookie = sign_session(Session("maria", int(NOW) + 3600), KEY)
    version, user, expiry, signature = cookie.split(".")
    assert read_session(".".join([version, user, str(int(expiry) + 10**6), signature]), KEY, NOW) is None
    other_user = sign_session(Session("boss", int(NOW) + 3600), KEY).split(".")[1]
    assert read_session(".".join([version, other_user, expiry, signature]), KEY, NOW) is None


def test_a_cookie_signed_with_another_key_is_refused() -> None:
    assert read_session(sign_session(Session("maria", int(NOW) + 60), signing_key(None, "other", {})), KEY, NOW) is None
    # The derived key changes with every credential, so changing the token or a user logs everyone out.
    assert signing_key(None, "t", {"a": "h1"}) != signing_key(None, "t", {"a": "h2"})
    assert signing_key("secret", "t", {}) == signing_key("secret", "other", {"x": "y"})


def test_ugly_cookies_are_refused() -> None:
    for cookie in ["", ".", "v1...", "v1.bWFyaWE.99999999999999999999.x", "v2.bWFyaWE.1900000000.AAAA",
                   "v1.bWFyaWE.-5.AAAA", "v1.bWFyaWE.1900000000.AA==", "v1.%%%.1900000000.AAAA",
                   "v1.bWFyaWE.1900000000.AAAA.extra", "x" * (MAX_COOKIE_CHARS + 1), "v1.ώ.1900000000.AAAA",
                   "v1.//8.1900000000.AAAA"]:
        assert read_session(cookie, KEY, NOW) is None, cookie


@given(st.text(max_size=300))
def test_any_text_is_read_without_error_and_never_accepted(cookie: str) -> None:
    assert read_session(cookie, KEY, NOW) is None


@given(st.text(min_size=0, max_size=100), st.integers(min_value=int(NOW) + 1, max_value=10**11))
def test_any_user_name_round_trips(user: str, expires_at: int) -> None:
    cookie = sign_session(Session(user, expires_at), KEY)
    assert len(cookie) <= MAX_COOKIE_CHARS
    assert read_session(cookie, KEY, NOW) == Session(user, expires_at)
