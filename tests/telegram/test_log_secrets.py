"""The bot token never reaches the logs, though every Bot API URL holds it: not in the failures the channel
logs (getMe, button answers, polling), at any level, from any logger."""

from __future__ import annotations

import io

from bot.logs import configure_logging
from tests.telegram.conftest import wait_until
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, callback_update


async def test_the_channels_failures_log_no_token(channel_factory, fake: FakeBotApi) -> None:  # noqa: ANN001
    stream = io.StringIO()
    restore = configure_logging("DEBUG", "text", [], stream)  # no redaction: nothing may need it
    try:
        fake.fail_next("getMe", 500, "Internal Server Error")
        fake.fail_next("getUpdates", 502, "Bad Gateway")
        fake.fail_next("answerCallbackQuery", 400, "Bad Request: query is too old")
        fake.fail_next("editMessageReplyMarkup", 400, "Bad Request: message is not modified")
        await channel_factory()
        await fake.push(callback_update(50, "rate:5"))

        async def logged() -> bool:
            text = stream.getvalue()
            return all(line in text for line in ("getMe failed", "502", "answerCallbackQuery cbq50 failed",
                                                 "buttons of message 1000 in chat 5551 stay"))

        await wait_until(logged)
    finally:
        restore()
    text = stream.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
