"""Closes resolved cases that nobody rated within `reopen_days`, through the inbox like any action."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from router.keys import Keys
from router.messages import ActionKind, AgentAction, inbox_fields

log = logging.getLogger(__name__)


async def close_unrated(redis: Redis, keys: Keys, reopen_days: float, now: float | None = None) -> int:
    """Ask the router to close every resolved case older than `reopen_days`; returns how many."""
    now = time.time() if now is None else now
    due = await redis.zrangebyscore(keys.resolved, "-inf", now - reopen_days * 86400, start=0, num=500)
    for number in due:
        # The id is fixed per case, so sweeps from several services ask once; the router refuses the rest.
        action = AgentAction(id=f"close-{number}", kind=ActionKind.CLOSE, case=int(number), at=now)
        await redis.xadd(keys.inbox, inbox_fields(action))
    return len(due)


async def sweep_forever(redis: Redis, keys: Keys, reopen_days: float, stop: asyncio.Event,
                        interval: float = 300.0) -> None:
    """Run `close_unrated` every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            closed = await close_unrated(redis, keys, reopen_days)
            if closed:
                log.info("asked to close %d resolved cases that were not rated in %g days", closed, reopen_days)
        except (RedisError, OSError) as error:
            log.warning("closing sweep skipped: %s", error)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
