"""Which channels run: one block per channel, imported only when enabled in the settings."""

from __future__ import annotations

from bot.settings import Settings
from channels.base import Channel, ChannelContext


def build_channels(settings: Settings, context: ChannelContext) -> list[Channel]:
    """The enabled platform channels (the console channel is wired by the app itself)."""
    channels: list[Channel] = []
    # Each channel package exposes `create(settings_section, context) -> Channel`; add yours here.
    return channels
