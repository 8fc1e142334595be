"""Logs: no secret in any line (third-party loggers included); JSON lines carry ids, not bodies."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.logs import REDACTED, Redactor, configure_logging, secrets_of
from bot.settings import parse_settings
from tests.drivers import Customer

TELEGRAM_TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger writing to a buffer as `helpline run` configures it (text format)."""
    stream = io.StringIO()
    restore = configure_logging("INFO", "text", [TELEGRAM_TOKEN, "s3cret-signing"], stream)
    yield stream
    restore()


def test_a_third_party_logger_never_writes_the_token(captured: io.StringIO) -> None:
    # What httpx writes for each request it makes (PTB's client did, for Telegram); the token is part of the URL.
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "POST",
                                    f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe", "HTTP/1.1 200 OK")
    try:
        raise ValueError(f"bad signature s3cret-signing for https://api.telegram.org/bot{TELEGRAM_TOKEN}/x")
    except ValueError:
        logging.getLogger("slack_bolt").exception("failed")
    text = captured.getvalue()
    assert "getMe" in text and "bad signature" in text
    assert TELEGRAM_TOKEN not in text and "s3cret-signing" not in text
    assert TELEGRAM_TOKEN.split(":")[1] not in text


def test_every_secret_of_the_settings_is_known() -> None:
    settings = parse_settings(
        "redis: {url: 'redis://:hunter2-pass@db:6379/0'}\n"
        f"channels: {{telegram: {{enabled: true, token: '{TELEGRAM_TOKEN}'}},"
        " slack: {enabled: true, bot_token: xoxb-1-2-abc, app_token: xapp-1-abc-def}}\n", "t.yaml", {})
    secrets = secrets_of(settings)
    assert {TELEGRAM_TOKEN, "xoxb-1-2-abc", "xapp-1-abc-def", "hunter2-pass"} <= set(secrets)
    redact = Redactor(secrets)
    assert redact("connecting to redis://:hunter2-pass@db:6379/0") == f"connecting to redis://:{REDACTED}@db:6379/0"


@given(st.text(max_size=40), st.text(max_size=40))
def test_a_token_shaped_value_is_redacted_wherever_it_sits(before: str, after: str) -> None:
    # Another bot's token, or one not in the settings (an old one in an error message), by its shape.
    line = Redactor()(f"{before}/bot987654321:AAAbbbCCCdddEEEfffGGGhhh_iii-jjj{after}")
    assert "AAAbbbCCCdddEEEfffGGGhhh_iii-jjj" not in line


async def test_json_lines_carry_conversation_and_case_but_not_the_words(customer: Customer) -> None:
    stream = io.StringIO()
    restore = configure_logging("INFO", "json", [], stream)
    try:
        await customer.say("my parcel 7 Elm Street never came, I want a person")
    finally:
        restore()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    opened = [line for line in lines if line["message"].startswith("opening case")]
    assert opened, lines
    conversation = await customer.helpline.redis.get(customer.helpline.keys.address("console", customer.address))
    assert opened[0]["conversation"] == conversation and opened[0]["case"].isdigit()
    assert opened[0]["level"] == "INFO" and opened[0]["logger"] == "router.lifecycle"
    assert "Elm Street" not in stream.getvalue()
