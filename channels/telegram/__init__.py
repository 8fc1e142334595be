"""The Telegram channel: customers writing to the Helpline bot on Telegram."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.telegram.settings import TelegramSettings

if TYPE_CHECKING:
    from channels.base import Channel, ChannelContext


def create(section: Any, context: ChannelContext) -> Channel:
    """The Telegram channel for a `channels.telegram` settings section (a TelegramSettings or its dict)."""
    from channels.telegram.adapter import (
        TelegramChannel,  # aiohttp loads only when the channel runs
    )

    settings = section if isinstance(section, TelegramSettings) else TelegramSettings.model_validate(section)
    return TelegramChannel(settings, context)


__all__ = ["TelegramSettings", "create"]
