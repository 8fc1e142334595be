"""A graceful stop (SIGTERM) of `helpline run` while a reply is being sent: the channel's connections stay
open until its sender is done, so the reply is sent once and marked sent, and the next start does not
send it again. (The service used to close the Telegram client first; the request in flight was cut off
after the Bot API had taken it, the reply stayed unmarked, and the next sender sent it again.)"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.app import serve
from bot.settings import ChannelsSettings, ConsoleChannelSettings, Settings
from tests.conftest import make_settings
from tests.drivers import serving
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi, text_update

SEND_SECONDS = 1.5  # how long the Bot API takes over each sendMessage: the stop comes in the middle of one


class SlowSendBotApi(FakeBotApi):
    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        await asyncio.sleep(SEND_SECONDS)
        return await super()._sendMessage(params)


@pytest.fixture
async def slow() -> Any:
    api = await SlowSendBotApi().start()
    yield api
    await api.close()


def _settings(fake: FakeBotApi, prefix: str) -> Settings:
    return make_settings(prefix).model_copy(update={"channels": ChannelsSettings(
        console=ConsoleChannelSettings(enabled=False), telegram=telegram_settings(fake))})


async def test_a_reply_in_flight_at_a_graceful_stop_is_sent_once_and_marked(slow: SlowSendBotApi, prefix: str,
                                                                          redis: Redis) -> None:
    settings = _settings(slow, prefix)
    ready = asyncio.Event()
    service = asyncio.create_task(serve(settings, ready))
    await asyncio.wait_for(ready.wait(), 20)
    await slow.push(text_update(1, "How long does delivery take?"))
    await slow.wait_for(lambda: slow.calls_of("sendMessage"))  # the reply is on its way: the Bot API has it
    os.kill(os.getpid(), signal.SIGTERM)  # serve() stops on it, as `helpline run` does
    await asyncio.wait_for(service, 30)

    texts = [call.params["text"] for call in slow.calls_of("sendMessage")]  # the answer, then "did it help?"
    assert texts and len(texts) == len(set(texts)), texts
    sent = [key async for key in redis.scan_iter(f"{prefix}sent:*")]
    assert len(sent) == len(texts)  # each marked sent, with its message id
    assert None not in (marks := [await redis.get(key) for key in sent]) and "failed" not in marks
    assert not [key async for key in redis.scan_iter(f"{prefix}sending:*")]  # no lease left behind

    # The next start finds nothing left to send.
    async with serving(settings):
        await asyncio.sleep(3 * SEND_SECONDS)
    assert len(slow.calls_of("sendMessage")) == len(texts)
