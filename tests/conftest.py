"""Shared fixtures: a real Redis, a key prefix of the test's own, the test knowledge base."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis

from bot.settings import Settings

if TYPE_CHECKING:
    from tests.email.smtp_peer import SmtpPeer

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/0"
FIXTURE_KB = REPO / "tests" / "fixtures" / "kb"


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach beyond this machine."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and address:
            host = str(address[0])
            if not (host.startswith("127.") or host in ("::1", "localhost", "0.0.0.0")):
                raise RuntimeError(f"test tried to reach {address!r}: tests stay on this machine")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True, scope="session")
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The sentence encoder's embedding caches go to a folder of the test session, never ~/.cache; shared
    by the session's tests, so the fixture knowledge base is embedded once."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture
def prefix() -> str:
    return f"hltest:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    """A client of the shared Redis; the test's own keys (its prefix) are removed afterwards."""
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def make_settings(prefix: str, kb: Path = FIXTURE_KB, **router: object) -> Settings:
    return Settings.model_validate({
        "redis": {"url": REDIS_URL, "prefix": prefix},
        "languages": ["en", "el", "lv", "hu"],
        "faq": {"path": str(kb), "answer_at": 0.82, "suggest_at": 0.45},
        "teams": {"support": {"name": "Customer Support"}, "billing": {"name": "Billing"}},
        "router": {"default_team": "support", "messages_path": str(REPO / "config" / "messages"), **router},
        "http": {"port": 0},
    })


@pytest.fixture
def settings(prefix: str) -> Settings:
    return make_settings(prefix)


# The router drivers' fixtures (helpline, worker, customer, agent), for every test folder.
from tests.drivers import agent, customer, helpline, worker  # noqa: E402,F401


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpPeer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, recording what it is sent."""
    from tests.email.smtp_peer import SmtpPeer

    peer = SmtpPeer()
    await peer.start()
    yield peer
    await peer.stop()
