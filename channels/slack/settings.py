"""The `channels.slack` section of `config/helpline.yaml`: typed, validated at start, secrets hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, model_validator

from channels.delivery_settings import DeliverySettings


class SlackSettings(DeliverySettings):
    """Slack as the agents' desk and as a customer channel."""

    # Unknown keys are typos far more often than intent.
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    bot_token: SecretStr | None = None  # xoxb-...
    app_token: SecretStr | None = None  # xapp-..., for Socket Mode
    signing_secret: SecretStr | None = None  # for HTTP mode: checks that a request came from Slack
    mode: Literal["socket", "http"] = "socket"
    api_base_url: str | None = None  # a Slack proxy, or a loopback fake in tests
    customer_channels: list[str] = Field(default_factory=list)  # channel ids where mentions of the app are customers
    note_prefix: str = "note:"  # an assigned agent's thread message starting with this stays internal
    admin_channel: str | None = None  # where the desk reports what it could not do
    max_attachment_mb: float = Field(20.0, gt=0)
    replies_path: Path = Path("config/replies")  # saved replies for `/helpline reply NAME`
    unreachable_after_seconds: float = Field(300.0, gt=0)  # Socket Mode down this long: /healthz and the admins told

    @model_validator(mode="after")
    def _tokens_when_enabled(self) -> SlackSettings:
        if not self.enabled:
            return self
        missing = ([] if _given(self.bot_token) else ["channels.slack.bot_token"]) + self.missing_for_mode()
        if missing:
            raise ValueError(f"channels.slack is enabled (mode {self.mode}) but {', '.join(missing)} "
                             "is not set (put it in the environment, e.g. bot_token: \"${SLACK_BOT_TOKEN}\")")
        return self

    def missing_for_mode(self) -> list[str]:
        """The secrets the chosen mode needs that are not set (checked when the channel is created)."""
        needed = ("app_token",) if self.mode == "socket" else ("signing_secret",)
        return [f"channels.slack.{name}" for name in needed if not _given(getattr(self, name))]


def _given(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())
