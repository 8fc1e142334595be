"""Reports computed for the dashboard, kept a few seconds: the page and its six charts ask for the
same report at once, and every open page asks again each refresh.

A report is computed in the service's event loop (the stream is read from Redis, then added up in
Python), so a slow one is kept longer: at least ten times as long as it took, so that however long
the period, the dashboard takes no more than a tenth of the loop from the router and the webhooks.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from bot.dashboard.query import DashboardQuery

MAX_ENTRIES = 32
ROUND_SECONDS = 60  # "the last 7 days" asked a second apart is the same report: times are rounded
SLOW_FACTOR = 10.0


class ReportCache:
    def __init__(self, source: Callable[[DashboardQuery], Awaitable[dict[str, Any]]], ttl_seconds: float) -> None:
        self.source = source
        self.ttl = ttl_seconds
        # key → (when it was asked, how long to keep it, the computation)
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, list[float], asyncio.Task[dict[str, Any]]]] = \
            OrderedDict()

    async def get(self, query: DashboardQuery) -> dict[str, Any]:
        key = (query.since // ROUND_SECONDS, query.until // ROUND_SECONDS, query.team, query.channel,
               query.bucket_seconds)
        now = time.monotonic()
        cached = self._entries.get(key)
        if cached is not None:
            asked_at, keep, task = cached
            failed = task.done() and (task.cancelled() or task.exception() is not None)
            if not failed and now - asked_at < keep[0]:
                return await asyncio.shield(task)
        keep = [self.ttl]
        # One computation for every request that asks meanwhile.
        task = asyncio.ensure_future(self._timed(query, keep))
        self._entries[key] = (now, keep, task)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return await asyncio.shield(task)

    async def _timed(self, query: DashboardQuery, keep: list[float]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            return await self.source(query)
        finally:
            keep[0] = max(self.ttl, SLOW_FACTOR * (time.monotonic() - started))
