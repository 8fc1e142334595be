"""Telegram polling through the shared receive loop: health on /healthz and admin alerts when it fails."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.telegram.adapter import TelegramChannel
from tests.telegram.conftest import inbox, inbox_context, telegram_settings, wait_until
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, text_update


@pytest.fixture
async def alerted_channel(fake: FakeBotApi, redis: Redis, prefix: str
                          ) -> AsyncIterator[Callable[..., Any]]:
    """Builds a polling channel whose admin alerts are recorded in the list it is given."""
    made: list[TelegramChannel] = []

    async def make(alerts: list[str], **extra: Any) -> TelegramChannel:
        async def alert(text: str) -> None:
            alerts.append(text)

        context = dataclasses.replace(inbox_context(redis, prefix), alert=alert)
        channel = TelegramChannel(telegram_settings(fake, **extra), context)
        made.append(channel)
        await channel.start()
        return channel

    yield make
    for channel in made:
        await channel.stop()


async def ready(value: Any) -> Any:
    return value


async def test_failing_polls_make_telegram_unreachable_and_alert_the_admins(
        fake: FakeBotApi, alerted_channel, redis: Redis, prefix: str) -> None:
    fake.fail_next("getUpdates", 502, "Bad Gateway", times=1000)
    alerts: list[str] = []
    channel = await alerted_channel(alerts, unreachable_after_seconds=0.5)
    await wait_until(lambda: ready(channel.health()["status"] == "unreachable"))
    await wait_until(lambda: ready(alerts))
    assert len(alerts) == 1 and "Telegram Bot API" in alerts[0] and "unreachable" in alerts[0]
    assert TOKEN not in alerts[0] and TOKEN not in channel.health()["last_error"]
    assert "502" in channel.health()["last_error"]
    events = [fields["type"] for _, fields in await redis.xrange(f"{prefix}events")]
    assert events == ["channel_unreachable"]

    fake._failures.clear()  # Telegram answers again
    await fake.push(text_update(61, "are you back?"))
    assert await wait_until(lambda: inbox(redis, prefix), timeout=15)
    assert channel.health()["status"] == "ok"
    await wait_until(lambda: ready(len(alerts) == 2))
    assert "reachable again" in alerts[1]
    assert [fields["type"] for _, fields in await redis.xrange(f"{prefix}events")] == \
        ["channel_unreachable", "channel_recovered"]


async def test_a_webhook_left_set_is_named_with_its_fix(fake: FakeBotApi, alerted_channel) -> None:
    fake.webhook = {"url": "https://example.test/telegram/webhook"}
    channel = await alerted_channel([])
    await wait_until(lambda: ready(channel.health()["failures"] >= 1))
    health = channel.health()
    assert health["status"] == "connecting" and "helpline telegram delete-webhook" in health["last_error"]


async def test_a_healthy_poll_reports_ok(fake: FakeBotApi, alerted_channel, redis: Redis, prefix: str) -> None:
    alerts: list[str] = []
    channel = await alerted_channel(alerts)
    await fake.push(text_update(62, "hello"))
    await wait_until(lambda: inbox(redis, prefix))
    health = channel.health()
    assert health["status"] == "ok" and health["mode"] == "polling" and health["received"] == 1
    assert alerts == []


class RecordingDesk:
    """Stands in for the Slack desk: records the admin alerts the service hands it."""

    name = "slack"

    def __init__(self) -> None:
        self.alerts: list[str] = []

    async def alert(self, text: str) -> None:
        self.alerts.append(text)


async def test_a_failing_poll_shows_on_healthz_and_reaches_the_desk(fake: FakeBotApi, settings) -> None:
    """Through the service's own wiring: its channel context, /healthz and its admin alerts."""
    import aiohttp

    from bot.app import Helpline
    from bot.http import start_http_server

    fake.fail_next("getUpdates", 500, "Internal Server Error", times=1000)
    helpline = Helpline(settings)
    desk = RecordingDesk()
    channel = TelegramChannel(telegram_settings(fake, unreachable_after_seconds=0.3), helpline.channel_context())
    helpline.channels.update(telegram=channel, slack=desk)  # type: ignore[arg-type]
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    await channel.start()
    try:
        await wait_until(lambda: ready(desk.alerts))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{runner.addresses[0][1]}/healthz") as response:
                body = await response.json()
        assert response.status == 503 and body["status"] == "degraded"
        assert body["unreachable_channels"] == ["telegram"]
        assert "500" in body["channels"]["telegram"]["last_error"]
        assert "Telegram Bot API" in desk.alerts[0] and TOKEN not in desk.alerts[0]
    finally:
        await channel.stop()
        await runner.cleanup()
        await helpline.close()
