"""The email channel: a support mailbox read over IMAP and answered over SMTP.

`create(section, context)` builds it from `channels.email` in helpline.yaml. The parts: parse.py
(bytes → ParsedMail), quotes.py (reply stripping), compose.py (our replies), imap.py and smtp.py
(the wire), threads.py (thread, case and cursor state in Redis), channel.py (the pipeline).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.email.settings import EmailChannelSettings

if TYPE_CHECKING:  # channels.base brings aiohttp, which reading the settings (bot.settings) must not load
    from channels.base import ChannelContext
    from channels.email.channel import EmailChannel


def create(section: EmailChannelSettings, context: ChannelContext,
           retention_days: float | None = None) -> EmailChannel:
    """The email channel for the `channels.email` settings (network libraries load only when enabled);
    `retention_days` is `retention.conversation_days`, which its thread records follow (threads.py)."""
    from channels.email.channel import EmailChannel

    return EmailChannel(section, context, retention_days)
