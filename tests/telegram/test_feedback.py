"""Feedback on Telegram through the whole service (loopback Bot API): inline buttons for CSAT, NPS and
effort whose presses come back as the options, a typed comment, and a repeated press."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.agent_desk import act
from bot.app import Helpline
from bot.settings import ChannelsSettings, ConsoleChannelSettings, FeedbackSettings, Settings
from router.messages import ActionKind
from tests.conftest import make_settings
from tests.drivers import serving
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi, callback_update, text_update
from tests.telegram.test_flow import next_text, texts

CHAT = 8902


@pytest.fixture
async def service(fake: FakeBotApi, prefix: str, redis: Redis) -> AsyncIterator[Settings]:
    settings = make_settings(prefix).model_copy(update={
        "channels": ChannelsSettings(console=ConsoleChannelSettings(enabled=False), telegram=telegram_settings(fake)),
        "feedback": FeedbackSettings(nps=True, ces=True, comment=True)})
    async with serving(settings):
        yield settings


def keyboard(params: dict) -> list[list[str]]:
    return [[button["callback_data"] for button in row] for row in params["reply_markup"]["inline_keyboard"]]


async def test_the_survey_with_buttons_on_telegram(fake: FakeBotApi, service: Settings) -> None:
    await fake.push(text_update(1, "/human", chat_id=CHAT, language_code="en"))
    opened, _ = await next_text(fake, 0, r"#\d+", chat=CHAT)
    number = int(re.search(r"#(\d+)", opened).group(1))  # type: ignore[union-attr]
    helpline = Helpline(service)
    try:
        assert (await act(helpline, ActionKind.CLAIM, number, agent_name="Maria")).ok
        seen = len(texts(fake, CHAT))
        assert (await act(helpline, ActionKind.RESOLVE, number, agent_name="Maria")).ok
        _, rating = await next_text(fake, seen, "How would you rate", chat=CHAT)
        assert keyboard(rating) == [[f"rate:{n}" for n in range(1, 6)]]

        seen = len(texts(fake, CHAT))
        await fake.push(callback_update(2, "rate:4", chat_id=CHAT, message_id=2001))
        text, nps = await next_text(fake, seen, "recommend us", chat=CHAT)
        assert text.startswith("Thank you for your rating!")
        assert keyboard(nps) == [[f"nps:{n}" for n in range(0, 6)], [f"nps:{n}" for n in range(6, 11)], ["skip"]]
        await fake.wait_for(lambda: [c for c in fake.calls_of("answerCallbackQuery")
                                     if c.params["callback_query_id"] == "cbq2"])

        seen = len(texts(fake, CHAT))
        await fake.push(callback_update(3, "nps:9", chat_id=CHAT, message_id=2002))
        _, ces = await next_text(fake, seen, "How easy", chat=CHAT)
        assert keyboard(ces) == [[f"ces:{n}" for n in range(1, 5)], [f"ces:{n}" for n in range(5, 8)], ["skip"]]

        seen = len(texts(fake, CHAT))
        await fake.push(callback_update(4, "skip", chat_id=CHAT, message_id=2003))
        _, comment = await next_text(fake, seen, "anything else you would like to tell us", chat=CHAT)
        assert keyboard(comment) == [["skip"]]

        seen = len(texts(fake, CHAT))
        await fake.push(text_update(5, "Quick and friendly, thanks to Maria", chat_id=CHAT))
        await next_text(fake, seen, "Thank you for your feedback", chat=CHAT)

        seen = len(texts(fake, CHAT))
        await fake.push(callback_update(6, "rate:1", chat_id=CHAT, message_id=2001))  # the old buttons again
        await next_text(fake, seen, f"already rated case #{number}", chat=CHAT)

        happened = [fields for _, fields in await helpline.redis.xrange(helpline.keys.events)]
        kinds = {(event["type"], event.get("csat") or event.get("nps") or event.get("chars"))
                 for event in happened if event["type"] in ("case_rated", "nps_rated", "ces_rated", "feedback_comment")}
        assert kinds == {("case_rated", "4"), ("nps_rated", "9"), ("feedback_comment", "35")}
        assert all(event["channel"] == "telegram" for event in happened if event["type"] in ("case_rated", "nps_rated"))
    finally:
        await helpline.close()
