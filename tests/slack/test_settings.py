"""The `channels.slack` section: disabled by default, tokens required only when enabled, secrets hidden."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.settings import SettingsError, parse_settings
from channels.slack.settings import SlackSettings
from tests.conftest import REPO


def test_shipped_config_has_slack_disabled() -> None:
    text = (REPO / "config" / "helpline.yaml").read_text(encoding="utf-8")
    settings = parse_settings(text, "helpline.yaml", {})
    assert settings.channels.slack.enabled is False
    assert settings.channels.slack.note_prefix == "note:" and settings.channels.slack.mode == "socket"


def test_enabled_without_tokens_names_the_key() -> None:
    text = "channels:\n  slack: {enabled: true, bot_token: '${SLACK_BOT_TOKEN:-}'}\n"
    with pytest.raises(SettingsError, match=r"channels\.slack.*bot_token"):
        parse_settings(text, "helpline.yaml", {})


def test_the_mode_secret_is_required_at_start() -> None:
    with pytest.raises(ValueError, match=r"mode socket\) but channels\.slack\.app_token"):
        SlackSettings(enabled=True, bot_token=SecretStr("xoxb-1"))
    text = "channels:\n  slack: {enabled: true, bot_token: xoxb-1}\n"
    with pytest.raises(SettingsError, match=r"helpline.yaml:2: channels\.slack.*app_token"):
        parse_settings(text, "helpline.yaml", {})


def test_http_mode_needs_the_signing_secret_and_secrets_are_hidden() -> None:
    text = ("channels:\n  slack: {enabled: true, mode: http, bot_token: '${SLACK_BOT_TOKEN}',"
            " signing_secret: '${SLACK_SIGNING_SECRET}'}\n")
    with pytest.raises(SettingsError, match=r"channels\.slack\.signing_secret"):
        parse_settings(text, "helpline.yaml", {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": ""})
    settings = parse_settings(text, "helpline.yaml", {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"})
    assert settings.channels.slack.missing_for_mode() == []
    assert "s3cret" not in repr(settings) and "xoxb-1" not in repr(settings)


def test_unknown_key_is_a_typo() -> None:
    with pytest.raises(SettingsError, match=r"channels\.slack\.bot_tokn: unknown key"):
        parse_settings("channels:\n  slack: {bot_tokn: x}\n", "helpline.yaml", {})
