"""Fixtures for the Telegram channel: the fake Bot API, settings pointing at it, a channel context."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.base import ChannelContext
from channels.telegram.adapter import TelegramChannel
from channels.telegram.settings import TelegramSettings
from router.messages import InboundMessage, from_json, inbox_fields
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.close()


def telegram_settings(fake: FakeBotApi, **extra: Any) -> TelegramSettings:
    values: dict[str, Any] = {"enabled": True, "token": TOKEN, "api_base_url": fake.url, "poll_timeout": 1,
                              "chat_interval": 0.0, "group_interval": 0.0, "global_rate": 1000.0,
                              "stop_grace_seconds": 2.0}
    return TelegramSettings.model_validate({**values, **extra})


def inbox_context(redis: Redis, prefix: str,
                  submit: Callable[[InboundMessage], Awaitable[None]] | None = None) -> ChannelContext:
    async def to_inbox(message: InboundMessage) -> None:
        await redis.xadd(f"{prefix}inbox", inbox_fields(message))

    return ChannelContext(submit=submit or to_inbox, redis=redis, key=lambda name: f"{prefix}{name}")


async def inbox(redis: Redis, prefix: str) -> list[InboundMessage]:
    return [from_json(InboundMessage, fields["data"]) for _, fields in await redis.xrange(f"{prefix}inbox")
            if fields.get("kind") == "message"]


async def wait_until(condition: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll an async condition until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def channel_factory(fake: FakeBotApi, redis: Redis, prefix: str) -> AsyncIterator[Callable[..., Any]]:
    """Builds and starts channels; stops them all at the end."""
    started: list[TelegramChannel] = []

    async def make(submit: Callable[[InboundMessage], Awaitable[None]] | None = None, start: bool = True,
                   **extra: Any) -> TelegramChannel:
        channel = TelegramChannel(telegram_settings(fake, **extra), inbox_context(redis, prefix, submit))
        started.append(channel)  # stopped at the end even when never started: it may have sent
        if start:
            await channel.start()
        return channel

    yield make
    for channel in started:
        await channel.stop()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
