"""Who may see the dashboard: `dashboard.token` as a Bearer token or as the login form's password,
or a user of `dashboard.users` with their password; a signed session cookie after a form login."""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.dashboard.limiter import SharedFailedLogins
from bot.dashboard.passwords import MAX_PASSWORD_CHARS, dummy_hash, verify_password
from bot.dashboard.sessions import COOKIE_NAME, TOKEN_USER, Session, read_session, sign_session, signing_key
from bot.settings import DashboardSettings
from router.keys import Keys

COOKIE_PATH = "/dashboard"


@dataclass(frozen=True, slots=True)
class LoginResult:
    session: Session | None
    retry_after: float = 0.0  # > 0: too many failed logins lately; nothing was checked


class Gate:
    """Checks requests and logins against the dashboard's settings."""

    def __init__(self, settings: DashboardSettings, redis: Any = None, keys: Keys | None = None) -> None:
        """`redis`: where failed logins are counted for every process (None: in this process only)."""
        self.settings = settings
        self._token = settings.token.get_secret_value().encode() if settings.token else b""
        self._users = {name: hashed.get_secret_value() for name, hashed in settings.users.items()}
        secret = settings.session_secret.get_secret_value() if settings.session_secret else None
        self._key = signing_key(secret, settings.token.get_secret_value() if settings.token else None, self._users)
        self.failures = SharedFailedLogins(redis, keys or Keys(), settings.max_failed_logins,
                                           settings.login_window_seconds)

    def session_of(self, request: web.Request, now: float | None = None) -> Session | None:
        """The request's session: a valid Bearer token, else a valid cookie, else None."""
        now = time.time() if now is None else now
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, given = header.partition(" ")
            if scheme.lower() == "bearer" and self._token and hmac.compare_digest(given.strip().encode(), self._token):
                return Session(TOKEN_USER, int(now) + 60)
            return None  # a wrong token is refused, not saved by a cookie that happens to be there
        cookie = request.cookies.get(COOKIE_NAME)
        return read_session(cookie, self._key, now) if cookie else None

    async def login(self, user: str, password: str, remote: str, now: float | None = None) -> LoginResult:
        """Check a form login (an empty user name means the token); counts failures per address and name."""
        now = time.time() if now is None else now
        keys = [f"address:{remote}"] + ([f"user:{user}"] if user else [])
        wait = await self.failures.retry_after(keys, now)
        if wait > 0:
            return LoginResult(None, wait)
        if await self._check(user, password):
            await self.failures.succeeded(keys)
            return LoginResult(Session(user or TOKEN_USER, int(now + self.settings.session_hours * 3600)))
        await self.failures.failed(keys, now)
        return LoginResult(None)

    async def _check(self, user: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD_CHARS or len(user) > 200:
            return False
        if not user:
            return bool(self._token) and hmac.compare_digest(password.encode(), self._token)
        # An unknown name is checked against a dummy hash: it takes as long as a wrong password.
        hashed = self._users.get(user)
        matches = await asyncio.to_thread(verify_password, password, hashed or dummy_hash())
        return matches and hashed is not None

    def cookie_value(self, session: Session) -> str:
        return sign_session(session, self._key)

    def set_cookie(self, response: web.StreamResponse, session: Session, now: float | None = None) -> None:
        now = time.time() if now is None else now
        response.set_cookie(COOKIE_NAME, self.cookie_value(session), max_age=max(int(session.expires_at - now), 0),
                            path=COOKIE_PATH, httponly=True, samesite="Strict", secure=self.settings.secure_cookie)

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="Strict",
                            secure=self.settings.secure_cookie)
