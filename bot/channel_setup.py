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
        channels.append(slack.create(settings.channels.slack, context, teams, settings.retention.conversation_days))
    # -- slack (end) --
    # -- email (begin) --
    if settings.channels.email.enabled:
        from channels import email

        channels.append(email.create(settings.channels.email, context, settings.retention.conversation_days))
    # -- email (end) --
    return channels


# Channels whose outbox any process can send, without receiving: a worker process (`helpline worker --role
# send|all`, and the children of `helpline run --workers N`) sends these; the rest stay where they receive.
# Telegram (`receive: false` sends only) and the console (a Redis stream). Slack's sender needs the
# receiving side's identity and the desk's per-case order (the desk stream has no cross-process lanes);
# email's sender writes the threads its receiver reads: both stay in the `helpline run` process.
SENT_BY_WORKERS = frozenset({"telegram", "console"})


def build_sending_channels(settings: Settings, context: ChannelContext, processes: int = 1) -> list[Channel]:
    """The platform channels of SENT_BY_WORKERS built for sending only, in one of `processes` processes that
    send side by side: each paces at its share of the bot's global rate, so together they keep within it."""
    channels: list[Channel] = []
    if settings.channels.telegram.enabled:
        from channels import telegram

        section = settings.channels.telegram
        channels.append(telegram.create(section.model_copy(update={
            "receive": False, "global_rate": section.global_rate / max(1, processes)}), context))
    return channels


def build_alerting_channels(settings: Settings, context: ChannelContext) -> list[Channel]:
    """Channels built (never started) in a process that sends without them, only so that its dead-letter
    alerts reach the admins as the service's do: the Slack desk's admin channel."""
    channels: list[Channel] = []
    if settings.channels.slack.enabled and settings.channels.slack.admin_channel:
        from channels import slack

        channels.append(slack.create(settings.channels.slack, context, {}))
    return channels
