"""Dead letters: entries that could not be handled, kept with the reason, for an operator to look at,
put back (`retry`) or throw away (`drop`); see `helpline dead-letters`.

A dead letter holds the entry's own fields plus `stream`, `entry_id`, `reason` and `at`. Putting one
back adds its fields to the stream it came from (at the end of its conversation's lane) with
`retry_of`: the first entry id, which the worker hands to the handler as the entry's identity, so
effects keyed by it (the case number it reserved, the ids of the messages it sends) stay the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from router.keys import Keys
from router.lanes import LANE_FIELD, append_args
from router.messages import OutboundMessage, PayloadError, from_json
from router.store import StreamFields

RETRY_OF_FIELD = "retry_of"
RETRIED_AT_FIELD = "retried_at"  # when it was put back: a sender's retry_for counts from then
_META_FIELDS = ("stream", "entry_id", "reason", "at")
MAX_REASON_CHARS = 2000


def dead_letter_fields(stream: str, entry_id: str, fields: Mapping[str, str], reason: str) -> StreamFields:
    """What goes to the dead-letter stream for `entry_id` of `stream`."""
    entry: StreamFields = {}
    entry.update(fields)
    entry.update({"stream": stream, "entry_id": fields.get(RETRY_OF_FIELD) or entry_id,
                  "reason": reason[:MAX_REASON_CHARS], "at": repr(time.time())})
    return entry


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # its id in the dead-letter stream
    stream: str  # where it came from
    entry_id: str  # its first id there
    reason: str
    at: float
    fields: dict[str, str]  # the entry's own fields

    @classmethod
    def from_entry(cls, dead_id: str, data: Mapping[str, str]) -> DeadLetter:
        own = {name: value for name, value in data.items() if name not in _META_FIELDS}
        try:
            at = float(data.get("at") or 0)
        except ValueError:
            at = 0.0
        return cls(dead_id, data.get("stream", ""), data.get("entry_id", ""), data.get("reason", ""), at, own)


class DeadLetterError(Exception):
    """A dead letter that is not there or cannot be put back; the message says which and why."""


async def list_dead_letters(redis: Redis, keys: Keys, count: int = 100) -> list[DeadLetter]:
    """The oldest `count` dead letters."""
    return [DeadLetter.from_entry(dead_id, data) for dead_id, data in await redis.xrange(keys.dead_letters, count=count)]


async def get_dead_letter(redis: Redis, keys: Keys, dead_id: str) -> DeadLetter:
    entries = await redis.xrange(keys.dead_letters, min=dead_id, max=dead_id, count=1)
    if not entries:
        raise DeadLetterError(f"no dead letter {dead_id} in {keys.dead_letters}")
    return DeadLetter.from_entry(*entries[0])


async def drop_dead_letter(redis: Redis, keys: Keys, dead_id: str) -> DeadLetter:
    """Remove a dead letter for good; returns what it was."""
    letter = await get_dead_letter(redis, keys, dead_id)
    await redis.xdel(keys.dead_letters, dead_id)
    return letter


async def retry_dead_letter(redis: Redis, keys: Keys, dead_id: str) -> tuple[str, str]:
    """Put a dead letter back where it came from; returns that stream and the entry's new id there.

    An outbound message's "failed" mark is cleared, so the sender tries it again. Adding it back and
    removing the dead letter happen in one transaction: never both, never neither.
    """
    letter = await get_dead_letter(redis, keys, dead_id)
    if not letter.stream.startswith(keys.prefix) or letter.stream == keys.dead_letters:
        raise DeadLetterError(f"dead letter {dead_id} came from {letter.stream!r}, not a stream of {keys.prefix!r}")
    fields: StreamFields = {name: value for name, value in letter.fields.items() if name != LANE_FIELD}
    fields[RETRY_OF_FIELD] = letter.entry_id
    fields[RETRIED_AT_FIELD] = repr(time.time())
    conversation = letter.fields.get(LANE_FIELD, "")
    failed_mark = _failed_mark(keys, letter)
    async with redis.pipeline(transaction=True) as pipe:
        if failed_mark:
            pipe.eval("if redis.call('GET', KEYS[1]) == 'failed' then redis.call('DEL', KEYS[1]) end", 1, failed_mark)
        pipe.eval(*append_args(letter.stream, conversation, fields))
        pipe.xdel(keys.dead_letters, dead_id)
        results = await pipe.execute()
    return letter.stream, str(results[-2])


def _failed_mark(keys: Keys, letter: DeadLetter) -> str:
    outbox = keys.outbox("")
    if not letter.stream.startswith(outbox) or letter.stream == keys.desk:
        return ""
    try:
        message = from_json(OutboundMessage, letter.fields.get("data", ""))
    except PayloadError:
        return ""
    return keys.sent(letter.stream[len(outbox):], message.id)
