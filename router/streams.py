"""Upkeep of a stream and its consumer group: claims kept fresh, dead consumers removed, finished
entries trimmed. Every step is safe to run from any number of processes at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from router.store import reply

log = logging.getLogger(__name__)

# KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3..] ids. Resets the idle time of the ids this
# consumer still holds (XCLAIM ... JUSTID does not count as a delivery) and returns them; ids another
# consumer took meanwhile are left alone.
_REFRESH = """
local mine = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then mine[#mine + 1] = ARGV[i] end
end
if #mine > 0 then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine), 'JUSTID')
end
return mine
"""

# KEYS[1] stream; ARGV[1] group, ARGV[2] consumer. Deletes the consumer only if it holds nothing:
# XGROUP DELCONSUMER forgets a consumer's pending entries, which would lose them.
_DELETE_IF_EMPTY = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_REFRESH_CHUNK = 200


async def refresh_claims(redis: Redis, stream: str, group: str, consumer: str, ids: Sequence[str]) -> set[str]:
    """Tell the group `consumer` is still working on `ids`, so nobody reclaims them; returns those still ours."""
    ours: set[str] = set()
    for start in range(0, len(ids), _REFRESH_CHUNK):
        chunk = ids[start:start + _REFRESH_CHUNK]
        ours.update(str(entry_id) for entry_id in await reply(redis.eval(_REFRESH, 1, stream, group, consumer, *chunk)))
    return ours


async def delivery_count(redis: Redis, stream: str, group: str, entry_id: str) -> int:
    """How many times the group handed out `entry_id` (0 when it is not pending)."""
    pending = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    return int(pending[0]["times_delivered"]) if pending else 0


async def remove_idle_consumers(redis: Redis, stream: str, group: str, idle_seconds: float,
                                keep: str = "") -> list[str]:
    """Delete consumers that hold no entries and have not read for `idle_seconds`; returns their names.

    A consumer that still holds entries stays until they are reclaimed (its entries go idle, since
    only a live consumer refreshes its claims), and is removed on a later round.
    """
    removed = []
    for consumer in await redis.xinfo_consumers(stream, group):
        name = str(consumer["name"])
        if name == keep or int(consumer["pending"]) > 0 or int(consumer["idle"]) < idle_seconds * 1000:
            continue
        if await reply(redis.eval(_DELETE_IF_EMPTY, 1, stream, group, name)):
            removed.append(name)
    if removed:
        log.info("%s: removed %d consumers gone for over %.0fs: %s", stream, len(removed), idle_seconds,
                 ", ".join(removed))
    return removed


async def trim_acknowledged(redis: Redis, stream: str) -> int:
    """Trim the entries every group of `stream` has finished; returns how many went.

    The cut is the oldest entry some group still needs: its oldest pending entry, or the first after
    what it was last handed. Anything older is acknowledged by every group, so nothing unfinished is
    ever dropped. A stream without groups is not trimmed (its reader has not started yet).
    """
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream
        return 0
    if not groups:
        return 0
    cut: tuple[int, int] | None = None
    for group in groups:
        last = _parse_id(str(group["last-delivered-id"]))
        needed = (last[0], last[1] + 1)
        if int(group["pending"]) > 0:
            summary = await redis.xpending(stream, group["name"])
            if summary.get("min"):  # None when the last pending entry was acknowledged meanwhile
                needed = min(needed, _parse_id(str(summary["min"])))
        cut = needed if cut is None else min(cut, needed)
    if cut is None or cut <= (0, 1):
        return 0
    return int(await redis.xtrim(stream, minid=f"{cut[0]}-{cut[1]}", approximate=True))


def _parse_id(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
