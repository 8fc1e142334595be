"""The channels.telegram settings section, and the send pacer."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings, parse_settings
from channels.telegram.pacing import Pacer
from tests.conftest import REPO


def parse(telegram: str, env: dict[str, str] | None = None):
    return parse_settings(f"channels:\n  telegram: {telegram}\n", "helpline.yaml", env or {})


def test_disabled_by_default_and_in_the_shipped_config() -> None:
    assert parse("{}").channels.telegram.enabled is False
    settings = load_settings(REPO / "config" / "helpline.yaml", env={})
    assert settings.channels.telegram.enabled is False and settings.channels.telegram.token is None


def test_token_required_only_when_enabled() -> None:
    with pytest.raises(SettingsError, match=r"helpline.yaml:2: channels.telegram: .*token is required"):
        parse('{enabled: true, token: "${TELEGRAM_TOKEN:-}"}')
    settings = parse('{enabled: true, token: "${TELEGRAM_TOKEN}"}', {"TELEGRAM_TOKEN": "1:abc"})
    assert settings.channels.telegram.token.get_secret_value() == "1:abc"
    assert "1:abc" not in repr(settings)


def test_webhook_mode_needs_a_valid_secret() -> None:
    with pytest.raises(SettingsError, match="webhook_secret is required"):
        parse("{enabled: true, token: x, mode: webhook}")
    with pytest.raises(SettingsError, match="webhook_secret: 1-256 characters"):
        parse("{enabled: true, token: x, mode: webhook, webhook_secret: 'has spaces'}")
    settings = parse("{enabled: true, token: x, mode: webhook, webhook_secret: ok_Secret-1}")
    assert settings.channels.telegram.mode == "webhook"


def test_unknown_keys_and_bad_urls_are_named() -> None:
    with pytest.raises(SettingsError, match="channels.telegram.tokn: unknown key"):
        parse("{tokn: x}")
    with pytest.raises(SettingsError, match="api_base_url"):
        parse("{api_base_url: 'ftp://x'}")
    settings = parse("{api_base_url: 'http://127.0.0.1:8081/'}").channels.telegram
    assert (settings.base_url, settings.base_file_url) == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


async def test_pacer_spaces_a_chat_and_the_whole_bot() -> None:
    clock = Clock()
    pacer = Pacer(chat_interval=1.0, group_interval=3.0, global_rate=10.0, clock=clock, sleep=clock.sleep)
    await pacer.wait("1")
    await pacer.wait("1")
    assert clock.sleeps == [1.0]
    await pacer.wait("-5", group=True)
    first = clock.now
    await pacer.wait("-5", group=True)
    assert clock.now - first >= 2.9  # the chat slot was reserved before the 0.1 s global wait
    pacer.hold("2", 7.0)
    before = clock.now
    await pacer.wait("2")
    assert clock.now - before == pytest.approx(7.0)


async def test_pacer_global_rate_limits_many_chats() -> None:
    clock = Clock()
    pacer = Pacer(chat_interval=1.0, global_rate=30.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    for chat in range(60):
        await pacer.wait(str(chat))
    assert clock.now - start == pytest.approx(59 / 30, abs=0.01)
