"""Per-customer flood limits: past `flood_per_minute` messages in a minute a customer is told, once,
to slow down, and the rest of their messages are kept (transcript, events) but get no answer and are
not relayed one by one. So one flooding customer costs the workers little per message, fills no
outbox, and the other customers' messages keep their turn.

The count is a sliding minute: a sorted set of the customer's recent message ids scored by when
they were received, so a redelivered entry (the same id) is not counted twice.
"""

from __future__ import annotations

from redis.asyncio import Redis

from router.keys import Keys
from router.messages import InboundMessage
from router.turn import Turn

WINDOW_SECONDS = 60.0


async def over_the_limit(redis: Redis, keys: Keys, message: InboundMessage, limit: int, now: float) -> bool:
    """Count `message` in its customer's last minute; True when that minute holds more than `limit`.

    One round trip on its own connection, outside the turn's MULTI: every step is idempotent (the
    message's id is the member), so a retried turn or a redelivered entry counts it once.
    """
    key = keys.flood(message.channel, message.sender.id or message.address)
    at = message.received_at or now
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {message.id: at}, nx=True)
        pipe.zremrangebyscore(key, "-inf", at - WINDOW_SECONDS)
        pipe.zremrangebyrank(key, 0, -(limit + 2))  # more than limit + 1 ids are never needed
        pipe.expire(key, int(WINDOW_SECONDS * 2))
        pipe.zcard(key)
        *_, count = await pipe.execute()
    return int(count) > limit


async def first_warning(turn: Turn, message: InboundMessage) -> bool:
    """Whether the customer has not yet been told to slow down this minute (then they are, in this turn)."""
    key = turn.keys.flood_warned(message.channel, message.sender.id or message.address)
    await turn.watch(key)  # two workers on two of the flood's messages: one warning
    if await turn.pipe.exists(key):
        return False
    turn.set(key, "1", ex=int(WINDOW_SECONDS))
    return True
