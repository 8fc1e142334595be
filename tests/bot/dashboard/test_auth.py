"""The gate: which logins and requests pass, for any user name and password typed."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dashboard.auth import Gate
from bot.dashboard.passwords import hash_password
from bot.dashboard.sessions import TOKEN_USER
from bot.settings import DashboardSettings

TOKEN = "the-token-0123"
GATE_SETTINGS = DashboardSettings.model_validate({"token": TOKEN, "users": {"maria": hash_password("maria-pass")},
                                                  "max_failed_logins": 10**6})


def test_right_logins_pass() -> None:
    gate = Gate(GATE_SETTINGS)
    token_login = asyncio.run(gate.login("", TOKEN, "10.0.0.1", now=1000.0))
    assert token_login.session is not None and token_login.session.user == TOKEN_USER
    assert token_login.session.expires_at == 1000 + 12 * 3600
    user_login = asyncio.run(gate.login("maria", "maria-pass", "10.0.0.1"))
    assert user_login.session is not None and user_login.session.user == "maria"


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_anything_else_is_refused_without_error(user: str, password: str) -> None:
    gate = Gate(GATE_SETTINGS)
    result = asyncio.run(gate.login(user, password, "10.0.0.2"))
    correct = (user == "" and password == TOKEN) or (user == "maria" and password == "maria-pass")
    assert (result.session is not None) == correct
