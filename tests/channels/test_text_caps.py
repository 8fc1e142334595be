"""Customer text and names are bounded at each channel's edge, before the inbox (Redis) holds them."""

from __future__ import annotations

from channels.slack import convert as slack
from channels.telegram import convert as telegram
from router.messages import InboundMessage
from tests.slack.conftest import DM, EVE, event_body, message_event
from tests.telegram.fake_bot_api import BOT_USER, text_update

BOT = telegram.BotIdentity(id=BOT_USER["id"], username=BOT_USER["username"])


def test_a_huge_telegram_message_and_name_are_cut() -> None:
    update = text_update(1, "word " * 100_000, first_name="N" * 10_000, last_name="")
    message = telegram.convert_update(update, BOT, now=1.0)
    assert isinstance(message, InboundMessage)
    assert len(message.text) == telegram.MAX_TEXT_CHARS and message.text.startswith("word word")
    assert len(message.sender.name) == telegram.MAX_NAME_CHARS


def test_a_huge_slack_message_and_name_are_cut() -> None:
    parsed = slack.message_of(event_body(message_event(DM, EVE, "x" * 39_000)))
    assert isinstance(parsed, slack.SlackMessage)
    message = slack.inbound_message(parsed, f"{DM}:", "E" * 5_000, parsed.text, now=1.0)
    assert len(message.text) == slack.MAX_INBOUND_TEXT_CHARS
    assert len(message.sender.name) == slack.MAX_NAME_CHARS
