"""Which channels run: one block per channel, imported only when enabled in the settings."""

from __future__ import annotations

from bot.settings import Settings
from channels.base import Channel, ChannelContext


def build_channels(settings: Settings, context: ChannelContext) -> list[Channel]:
    """The enabled platform channels (the console channel is wired by the app itself)."""
    channels: list[Channel] = []
    # Each channel package exposes `create(settings_section, context) -> Channel`; add yours here.
    # -- telegram (begin) --
    if settings.channels.telegram.enabled:
        from channels import telegram

        channels.append(telegram.create(settings.channels.telegram, context))
    # -- telegram (end) --
    # -- slack (begin) --
    if settings.channels.slack.enabled:
        from channels import slack

        teams = {key: {"name": team.name or key, "slack_channel": team.slack_channel,
                       "slack_users": list(team.slack_users), "slack_usergroups": list(team.slack_usergroups),
                       "oncall_usergroup": team.sla.oncall_usergroup if team.sla else None,
                       "first_response_minutes": team.sla.first_response_minutes if team.sla else None}
                 for key, team in settings.teams.items()}
        channels.append(slack.create(settings.channels.slack, context, teams))
    # -- slack (end) --
    # -- email (begin) --
    if settings.channels.email.enabled:
        from channels import email

        channels.append(email.create(settings.channels.email, context))
    # -- email (end) --
    return channels
