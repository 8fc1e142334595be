"""The Telegram webhook refuses bad bodies with a 400 (never a 500), and the next good update still lands."""

from __future__ import annotations

import io
import json

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.app import Helpline
from bot.http import start_http_server
from channels.telegram.adapter import SECRET_HEADER
from tests.telegram.conftest import inbox
from tests.telegram.fake_bot_api import FakeBotApi, text_update
from tests.telegram.test_adapter import serve_routes


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"update_id": 1, "message": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
    b"\xff\xfe\x00{",
    json.dumps(text_update(79, "\ud800 half an emoji")).encode(),
], ids=["100k-deep-list", "50k-deep-object", "not-utf8", "bad-surrogate"])
async def test_a_bad_body_is_a_400_and_the_next_update_lands(body: bytes, fake: FakeBotApi, channel_factory,
                                                              redis: Redis, prefix: str) -> None:
    channel = await channel_factory(mode="webhook", webhook_secret="abc")
    runner, base = await serve_routes(channel)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{base}/telegram/webhook"
            async with session.post(url, data=body, headers={SECRET_HEADER: "abc",
                                                             "Content-Type": "application/json"}) as response:
                assert response.status == 400
            async with session.post(url, json=text_update(80, "still heard"), headers={SECRET_HEADER: "abc"}) \
                    as response:
                assert response.status == 200
        assert [message.text for message in await inbox(redis, prefix)] == ["still heard"]
    finally:
        await runner.cleanup()


async def test_through_the_service_port_an_oversized_update_is_a_413(fake: FakeBotApi, channel_factory, settings,
                                                                    redis: Redis, prefix: str) -> None:
    channel = await channel_factory(mode="webhook", webhook_secret="abc")
    helpline = Helpline(settings, redis=redis)
    runner = await start_http_server(helpline, "127.0.0.1", 0, channel.routes())
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram/webhook"
    try:
        async with aiohttp.ClientSession() as session:
            big = text_update(90, "x" * (2 * 1024 * 1024))  # 8 MB was accepted before; 1 MB is the cap now
            async with session.post(url, data=io.BytesIO(json.dumps(big).encode()),
                                    headers={SECRET_HEADER: "abc", "Content-Type": "application/json"}) as response:
                assert response.status == 413 and "too large" in await response.text()
            async with session.post(url, json=text_update(91, "small"), headers={SECRET_HEADER: "abc"}) as response:
                assert response.status == 200
        assert [message.text for message in await inbox(redis, prefix)] == ["small"]
    finally:
        await runner.cleanup()
