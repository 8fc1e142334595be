"""The periodic sweeps, each asking the router through the inbox like any action: closing resolved cases
nobody rated within `reopen_days`, and the SLA steps (warn, escalate) of queued cases; and the retention
sweep, which removes idle conversations itself, atomically (router/retention.py says why)."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from router.config import RouterConfig
from router.keys import Keys
from router.messages import ActionKind, AgentAction, inbox_fields
from router.retention import keeps_forever, sweep_retention
from router.sla import due_step
from router.store import Case

SLA_CASES_PER_TEAM = 500  # the oldest waiting cases looked at each sweep; the rest are newer still

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


async def check_slas(redis: Redis, keys: Keys, config: RouterConfig, now: float | None = None) -> int:
    """Ask the router for the SLA step of every queued case due one (warn, escalate); returns how many.

    The router decides again under WATCH, so a step is taken once however many sweeps ask.
    """
    now = time.time() if now is None else now
    asked = 0
    for team, policy in config.sla.items():
        numbers = await redis.zrange(keys.queue(team), 0, SLA_CASES_PER_TEAM - 1)
        if not numbers:
            continue
        async with redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hgetall(keys.case(int(number)))
            stored = await pipe.execute()
        for data in stored:
            if not data:
                continue
            case = Case.from_hash(data)
            step = due_step(case, policy, config.hours(case.team), now)
            if step is None:
                continue
            # One id per case, step and time in the queue: a retried sweep asks for the same thing.
            action = AgentAction(id=f"sla-{step.value}-{case.number}-{case.queued_at:.0f}", kind=ActionKind.SLA_CHECK,
                                 case=case.number, text=step.value, at=now)
            await redis.xadd(keys.inbox, inbox_fields(action))
            asked += 1
    return asked


async def sweep_forever(redis: Redis, keys: Keys, reopen_days: float, stop: asyncio.Event,
                        interval: float = 300.0, config: RouterConfig | None = None,
                        sla_interval: float = 30.0, retention_days: float | None = None) -> None:
    """Run `close_unrated` (and with `retention_days`, `sweep_retention`) every `interval` seconds, and
    `check_slas` every `sla_interval`, until `stop`."""
    next_close = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_close:
            next_close = time.monotonic() + interval
            try:
                closed = await close_unrated(redis, keys, reopen_days)
                if closed:
                    log.info("asked to close %d resolved cases that were not rated in %g days", closed, reopen_days)
            except (RedisError, OSError) as error:
                log.warning("closing sweep skipped: %s", error)
            if not keeps_forever(retention_days):
                try:
                    await sweep_retention(redis, keys, retention_days)
                except (RedisError, OSError) as error:
                    log.warning("retention sweep skipped: %s", error)
                except Exception:  # a bug here must not stop the service; the next sweep tries again
                    log.exception("retention sweep failed")
        if config is not None and config.sla:
            try:
                asked = await check_slas(redis, keys, config)
                if asked:
                    log.info("asked for the SLA step of %d waiting cases", asked)
            except (RedisError, OSError) as error:
                log.warning("SLA sweep skipped: %s", error)
        wait = min(interval, sla_interval) if config is not None and config.sla else interval
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except asyncio.TimeoutError:
            pass
