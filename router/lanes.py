"""Lanes: the order of one conversation's entries in a stream, shared by every process that reads it.

A consumer group hands entries to whichever consumer asks first, so two processes can each hold a
message of the same chat, and an entry reclaimed from a dead consumer is older than what the others
read since. A lane fixes the order: the producer appends the entry id to the conversation's lane list
in the same step as the XADD (one script), and a consumer handles an entry only when it is at the head
of its lane; finishing it (ack or dead letter) removes it. Different conversations never wait for each
other.

An entry without a lane field (written before lanes existed) is simply not ordered across processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from router.keys import lane_key
from router.rounds import rounds_for
from router.store import StreamFields, reply

LANE_FIELD = "lane"  # the entry's conversation, as the producer named it

# KEYS[1] stream, KEYS[2] lane (ignored when ARGV[1] is ''); ARGV[1] lane name, ARGV[2..] field, value, ...
APPEND_SCRIPT = """
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
if ARGV[1] ~= '' then redis.call('RPUSH', KEYS[2], id) end
return id
"""

# KEYS[1] lane; ARGV[1] entry id. 1: its turn (head, or not in the lane at all); else the head's id.
_TURN = """
local head = redis.call('LINDEX', KEYS[1], 0)
if not head or head == ARGV[1] then return 1 end
if not redis.call('LPOS', KEYS[1], ARGV[1]) then return 1 end
return head
"""

# KEYS[1] stream, KEYS[2] lane; ARGV[1] group, ARGV[2] the head seen. A head that nobody holds any more
# (acknowledged by an older version, or deleted by hand) is dropped, so its lane cannot stall for ever.
_REPAIR = """
local head = redis.call('LINDEX', KEYS[2], 0)
if head ~= ARGV[2] then return 0 end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], head, head, 1)
if #pending > 0 then return 0 end
local info = redis.call('XINFO', 'GROUPS', KEYS[1])
for _, group in ipairs(info) do
  local name, last = nil, nil
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  if name == ARGV[1] then
    local entry = redis.call('XRANGE', KEYS[1], head, head)
    local hs, hq = string.match(head, '(%d+)-(%d+)')
    local ls, lq = string.match(last, '(%d+)-(%d+)')
    local delivered = (#hs < #ls) or (#hs == #ls and (hs < ls or (hs == ls and tonumber(hq) <= tonumber(lq))))
    if #entry == 0 or delivered then redis.call('LPOP', KEYS[2]) return 1 end
  end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Lanes:
    """The lanes of one stream."""

    stream: str

    def key(self, conversation: str) -> str:
        return lane_key(self.stream, conversation)

    def of(self, fields: Mapping[str, str]) -> str:
        """The lane key of an entry, or '' when it was written without one."""
        conversation = fields.get(LANE_FIELD, "")
        return self.key(conversation) if conversation else ""


def append_args(stream: str, conversation: str, fields: StreamFields) -> tuple[Any, ...]:
    """The EVAL arguments that add `fields` to `stream` at the end of `conversation`'s lane."""
    flat: list[Any] = []
    for name, value in {**fields, LANE_FIELD: conversation}.items():
        flat += [name, value]
    return (APPEND_SCRIPT, 2, stream, Lanes(stream).key(conversation), conversation, *flat)


async def append(redis: Redis, stream: str, conversation: str, fields: StreamFields) -> str:
    """XADD `fields` to `stream`, last in `conversation`'s lane; returns the entry id."""
    return str(await reply(redis.eval(*append_args(stream, conversation, fields))))


async def is_turn(redis: Redis, lane: str, entry_id: str) -> str | None:
    """None when it is `entry_id`'s turn in `lane`; otherwise the id of the entry it waits for."""
    # Coalesced: the lanes of a read batch ask in one round trip, not one each (router/rounds.py).
    [answer] = await rounds_for(redis).send([("EVAL", _TURN, 1, lane, entry_id)])
    if isinstance(answer, Exception):
        raise answer
    return None if answer == 1 else str(answer)


async def drop_stale_head(redis: Redis, stream: str, group: str, lane: str, head: str) -> bool:
    """Drop `head` from `lane` when no consumer holds it any more; True when it was dropped."""
    return bool(await reply(redis.eval(_REPAIR, 2, stream, lane, group, head)))
