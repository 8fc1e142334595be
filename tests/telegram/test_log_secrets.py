"""The bot token never reaches the logs, though httpx logs every URL PTB requests (and the URL holds it)."""

from __future__ import annotations

import io

from bot.logs import configure_logging
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi


async def test_telegram_through_httpx_logs_no_token(channel_factory, fake: FakeBotApi) -> None:  # noqa: ANN001
    stream = io.StringIO()
    restore = configure_logging("INFO", "text", [TOKEN], stream)
    try:
        await channel_factory()  # getMe, then getUpdates: httpx logs both at INFO
    finally:
        restore()
    text = stream.getvalue()
    assert "HTTP Request" in text and "getMe" in text
    assert TOKEN not in text
