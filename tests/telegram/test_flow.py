"""A Telegram customer through the whole service (bot.app.serve in-process) to a case, an agent and a rating."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from redis.asyncio import Redis

from bot.agent_desk import act
from bot.app import Helpline, serve
from bot.settings import ChannelsSettings, ConsoleChannelSettings, Settings
from router.messages import ActionKind
from tests.conftest import REPO, make_settings
from tests.drivers import serving
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, callback_update, text_update

CHAT = 8801


def texts(fake: FakeBotApi, chat: int = CHAT) -> list[str]:
    return [html.unescape(params["text"]) for params in fake.sent(chat)]


async def next_text(fake: FakeBotApi, seen: int, pattern: str, chat: int = CHAT) -> tuple[str, dict]:
    """Wait for a message after the first `seen` to `chat` whose text matches; returns it and its parameters."""
    def found():
        for params in fake.sent(chat)[seen:]:
            if re.search(pattern, html.unescape(params["text"])):
                return html.unescape(params["text"]), params
        return None

    return await fake.wait_for(found, timeout=20)


@pytest.fixture
async def service(fake: FakeBotApi, prefix: str, redis: Redis) -> AsyncIterator[Settings]:
    base = make_settings(prefix)
    settings = base.model_copy(update={"channels": ChannelsSettings(
        console=ConsoleChannelSettings(enabled=False), telegram=telegram_settings(fake))})
    async with serving(settings):
        yield settings


async def test_customer_case_agent_reply_and_rating(fake: FakeBotApi, service: Settings) -> None:
    await fake.push(text_update(1, "/start", chat_id=CHAT, language_code="en"))
    await next_text(fake, 0, "assistant")

    await fake.push(text_update(2, "How long does delivery take?", chat_id=CHAT))
    await next_text(fake, 1, "2 to 4 working days")
    _, question = await next_text(fake, 1, "Did this answer")
    buttons = [button for row in question["reply_markup"]["inline_keyboard"] for button in row]
    assert [button["callback_data"] for button in buttons] == ["yes", "no"]

    await fake.push(callback_update(3, "no", chat_id=CHAT, message_id=1001))
    opened, _ = await next_text(fake, 2, r"#\d+")
    number = int(re.search(r"#(\d+)", opened).group(1))
    await fake.wait_for(lambda: [c for c in fake.calls_of("answerCallbackQuery")
                                 if c.params["callback_query_id"] == "cbq3"])

    helpline = Helpline(service)
    try:
        seen = len(texts(fake))
        assert (await act(helpline, ActionKind.CLAIM, number, agent_name="Maria")).ok
        await next_text(fake, seen, "Maria has joined")
        await fake.push(text_update(4, "/case", chat_id=CHAT))
        await next_text(fake, seen, f"#{number} is being handled by Maria")

        seen = len(texts(fake))
        reply = "Your parcel <ABC & co> left *today* at 5_pm."
        assert (await act(helpline, ActionKind.REPLY, number, agent_name="Maria", text=reply)).ok
        await next_text(fake, seen, re.escape(f"Maria: {reply}"))

        seen = len(texts(fake))
        assert (await act(helpline, ActionKind.RESOLVE, number, agent_name="Maria")).ok
        _, rating = await next_text(fake, seen, "rate")
        assert [b["callback_data"] for b in rating["reply_markup"]["inline_keyboard"][0]] == [
            f"rate:{n}" for n in range(1, 6)]
        await fake.push(callback_update(5, "rate:5", chat_id=CHAT))
        await next_text(fake, seen, "Thank you")
        case = await helpline.redis.hgetall(helpline.keys.case(number))
        assert case["csat"] == "5" and case["status"] == "closed"
    finally:
        await helpline.close()


async def test_greeting_in_the_customers_language_and_asking_for_a_person(fake: FakeBotApi, service: Settings) -> None:
    greek = yaml.safe_load((REPO / "config" / "messages" / "el.yaml").read_text(encoding="utf-8"))["greeting"]
    await fake.push(text_update(1, "/start", chat_id=CHAT + 1, language_code="el"))
    text, _ = await next_text(fake, 0, ".", chat=CHAT + 1)
    assert text == greek
    await fake.push(text_update(2, "/human", chat_id=CHAT + 2, language_code="en"))
    await next_text(fake, 0, r"case number is #\d+", chat=CHAT + 2)


async def helpline_cli(config: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, "--config", str(config), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_cli_sets_and_deletes_the_webhook(fake: FakeBotApi, tmp_path: Path, prefix: str) -> None:
    config = tmp_path / "helpline.yaml"
    config.write_text(yaml.safe_dump({
        "redis": {"prefix": prefix},
        "faq": {"path": str(REPO / "tests" / "fixtures" / "kb")},
        "router": {"messages_path": str(REPO / "config" / "messages")},
        "channels": {"telegram": {"enabled": True, "token": TOKEN, "mode": "webhook", "webhook_secret": "abc-123",
                                  "api_base_url": fake.url}},
    }), encoding="utf-8")
    code, out, err = await helpline_cli(config, "telegram", "set-webhook", "https://help.example.com/telegram/webhook")
    assert code == 0, err
    assert fake.webhook == {"url": "https://help.example.com/telegram/webhook", "secret_token": "abc-123",
                            "allowed_updates": ["message", "edited_message", "callback_query"]}
    code, out, err = await helpline_cli(config, "telegram", "delete-webhook")
    assert code == 0 and "deleted" in out, err
    assert fake.webhook is None
    assert TOKEN not in out + err


async def test_webhook_on_the_services_http_port(fake: FakeBotApi, prefix: str, redis: Redis,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """In webhook mode the update arrives on `helpline run`'s own HTTP port, with Telegram's secret."""
    caplog.set_level(logging.INFO, logger="bot.http")
    settings = make_settings(prefix).model_copy(update={"channels": ChannelsSettings(
        console=ConsoleChannelSettings(enabled=False),
        telegram=telegram_settings(fake, mode="webhook", webhook_secret="s3cret-Token"))})
    ready = asyncio.Event()
    task = asyncio.create_task(serve(settings, ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        port = int(re.search(r"HTTP on http://127\.0\.0\.1:(\d+)", caplog.text).group(1))
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        update = text_update(71, "How long does delivery take?", chat_id=CHAT + 7)
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as refused:
                assert refused.status == 403
            async with session.post(url, json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"}) as accepted:
                assert accepted.status == 200
        await next_text(fake, 0, "2 to 4 working days", chat=CHAT + 7)
        assert not fake.calls_of("getUpdates"), "webhook mode must not poll"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
