"""The console channel: a customer in a terminal, through the same inbox and outbox as any channel.

The sending side (`ConsoleChannel.deliver`) files each outbound message under its chat session's
list; the terminal side (`ConsoleChat`) posts what the customer types to the inbox and waits on
that list. Several terminals can chat at once, each with its own session address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from channels.base import Route
from channels.options import listed, pick_option
from router.messages import (
    InboundMessage,
    OutboundMessage,
    QuickReply,
    Sender,
    from_dict,
    inbox_fields,
    new_id,
    to_json,
)

CHANNEL = "console"
SESSION_TTL_SECONDS = 24 * 3600

# Deliver once: a redelivered outbox entry finds its "sent" mark and is not filed again.
_DELIVER_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class ConsoleChannel:
    """Delivers outbound console messages to the waiting terminal session."""

    name = CHANNEL

    def __init__(self, redis: Redis, session_key: Callable[[str], str], sent_key: Callable[[str], str]) -> None:
        self.redis = redis
        self.session_key = session_key
        self.sent_key = sent_key

    async def start(self) -> None:
        """Nothing to connect: terminals post to the inbox themselves."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    def routes(self) -> list[Route]:
        return []

    async def deliver(self, message: OutboundMessage) -> str | None:
        """File the message for its session, exactly once even when the outbox entry comes again."""
        # redis-py types its commands "awaitable or not" for its sync and async clients alike.
        await self.redis.eval(_DELIVER_ONCE, 2, self.sent_key(message.id), self.session_key(message.address),  # type: ignore[misc]
                              to_json(message), SESSION_TTL_SECONDS)
        return None


@dataclass
class ConsoleChat:
    """One customer's terminal session."""

    redis: Redis
    inbox_key: str
    session_key: str
    address: str
    customer_name: str = "Console customer"
    language_hint: str | None = None
    last_options: tuple[QuickReply, ...] = ()

    async def say(self, text: str) -> str:
        """Post what the customer typed and return the inbox entry id; a number picks an offered option."""
        option = pick_option([(o.value, o.label) for o in self.last_options], text) if self.last_options else None
        message = InboundMessage(
            id=new_id(), channel=CHANNEL, address=self.address,
            sender=Sender(id=self.address, name=self.customer_name), text=text, platform_id="",
            received_at=time.time(), language_hint=self.language_hint, option=option)
        self.last_options = ()
        return str(await self.redis.xadd(self.inbox_key, inbox_fields(message)))

    async def receive(self, timeout: float) -> OutboundMessage | None:
        """The next message for this session, or None when none came within `timeout` seconds."""
        reply = await self.redis.blpop([self.session_key], timeout=timeout)  # type: ignore[misc]  # redis-py: sync-or-async
        if reply is None:
            return None
        message = from_dict(OutboundMessage, json.loads(reply[1]))
        if message.options:
            self.last_options = message.options
        return message


def render(message: OutboundMessage) -> str:
    """How a message looks in the terminal: the text, then numbered options (a scale on one line)."""
    lines = [message.text]
    lines += [f"  {line}" for line in listed([option.label for option in message.options])] if message.options else []
    return "\n".join(lines)
