"""Slack: the agents' desk and a customer channel.

`create(section, context, teams)` builds the channel; the Slack libraries are imported only then, so
reading settings never loads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # channels.base brings aiohttp, which reading the settings (bot.settings) must not load
    from channels.base import ChannelContext
    from channels.slack.adapter import SlackChannel
    from channels.slack.settings import SlackSettings


def create(section: SlackSettings | Mapping[str, Any], context: ChannelContext,
           teams: Mapping[str, Mapping[str, Any]], retention_days: float | None = None) -> SlackChannel:
    """The Slack channel (Channel and Desk) for a `channels.slack` settings section.

    `teams` is {team: {"name", "slack_channel", "slack_users", "slack_usergroups"}}; `retention_days` is
    `retention.conversation_days`: how long the desk keeps a closed case's mapping (None or 0: for good).
    """
    from channels.slack.adapter import SlackChannel
    from channels.slack.settings import SlackSettings

    settings = section if isinstance(section, SlackSettings) else SlackSettings.model_validate(dict(section))
    missing = settings.missing_for_mode()
    if settings.enabled and missing:
        raise ValueError(f"Slack in {settings.mode} mode needs {', '.join(missing)} (set it in the environment)")
    return SlackChannel(settings, context, teams, retention_days)


__all__ = ["create"]
