"""Per-customer flood limits: past `flood_per_minute` messages in a minute a customer is told, once,
to slow down, and the rest of their messages are kept (transcript, events) but get no answer and are
not relayed one by one. So one flooding customer costs the workers little per message, fills no
outbox, and the other customers' messages keep their turn.

The count is a sliding minute: a sorted set of the customer's recent message ids scored by when
they were received, so a redelivered entry (the same id) is not counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.keys import Keys
from router.messages import InboundMessage
from router.store import Command
from router.turn import Turn

WINDOW_SECONDS = 60.0


def count_commands(keys: Keys, message: InboundMessage, limit: int, now: float) -> list[Command]:
    """The commands that count `message` in its customer's last minute; the last one's reply is the count.

    Idempotent (the message's id is the member), so they may go out with the turn's first read, and
    again on a retried turn or a redelivered entry: the message is counted once.
    """
    key = keys.flood(message.channel, message.sender.id or message.address)
    at = message.received_at or now
    return [("ZADD", key, "NX", at, message.id), ("ZREMRANGEBYSCORE", key, "-inf", at - WINDOW_SECONDS),
            ("ZREMRANGEBYRANK", key, 0, -(limit + 2)),  # more than limit + 1 ids are never needed
            ("EXPIRE", key, int(WINDOW_SECONDS * 2)), ("ZCARD", key)]


def over(replies: Sequence[object], limit: int) -> bool:
    """Whether the replies of `count_commands` say the customer sent more than `limit` this minute."""
    return bool(replies) and int(str(replies[-1])) > limit


async def first_warning(turn: Turn, message: InboundMessage) -> bool:
    """Whether the customer has not yet been told to slow down this minute (then they are, in this turn)."""
    key = turn.keys.flood_warned(message.channel, message.sender.id or message.address)
    if await turn.exists(key):  # under WATCH: two workers on two of the flood's messages, one warning
        return False
    turn.set(key, "1", ex=int(WINDOW_SECONDS))
    return True
