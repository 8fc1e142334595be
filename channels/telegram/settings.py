"""The `channels.telegram` section of the settings file."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from channels.delivery_settings import DeliverySettings

# Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - as a webhook secret_token.
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Telegram's own server; a self-hosted Bot API server (or a test's loopback fake) replaces it.
DEFAULT_API_BASE_URL = "https://api.telegram.org"


class TelegramSettings(DeliverySettings):
    """Telegram channel settings; the token (and, for webhooks, the secret) are required once enabled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    # false: this process sends Telegram messages but does not receive (no polling, no webhook route).
    # Telegram lets one getUpdates poller per bot (a second one gets 409 Conflict), so when `helpline run`
    # runs in several processes exactly one of them receives.
    receive: bool = True
    api_base_url: str | None = None  # server root, e.g. http://127.0.0.1:8081; /bot<token> and /file/bot<token> follow
    webhook_path: str = "/telegram/webhook"  # served on the service's HTTP port
    webhook_secret: SecretStr | None = None  # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token
    poll_timeout: int = Field(30, ge=0, le=50)  # long-polling wait, in seconds
    chat_interval: float = Field(1.0, ge=0.0)  # seconds between two messages to one private chat
    group_interval: float = Field(3.0, ge=0.0)  # groups: Telegram allows about 20 messages a minute
    global_rate: float = Field(30.0, gt=0.0)  # messages a second over all chats
    stop_grace_seconds: float = Field(10.0, ge=0.0)  # how long stop() lets an update in hand reach the inbox
    unreachable_after_seconds: float = Field(300.0, gt=0)  # polling failing this long: /healthz and the admins told

    @field_validator("token", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `${TELEGRAM_TOKEN:-}` expands to "" when the variable is unset: that means "not given".
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if value == "" else value

    @field_validator("webhook_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8081")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _required_when_enabled(self) -> TelegramSettings:
        if not self.enabled:
            return self
        if self.token is None:
            raise ValueError("token is required when the Telegram channel is enabled (set TELEGRAM_TOKEN)")
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else None
        if self.mode == "webhook" and secret is None:
            raise ValueError("webhook_secret is required in webhook mode")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise ValueError("webhook_secret: 1-256 characters of A-Z, a-z, 0-9, _ and - only")
        return self

    @property
    def base_url(self) -> str:
        """The Bot API's URL up to the token, which is appended to it (as python-telegram-bot's `base_url`)."""
        return f"{self.api_base_url or DEFAULT_API_BASE_URL}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.api_base_url or DEFAULT_API_BASE_URL}/file/bot"
