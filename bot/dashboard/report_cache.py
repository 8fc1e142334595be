"""Reports computed for the dashboard, kept a few seconds: the page and its six charts ask for the
same report at once, and every open page asks again each refresh."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from bot.dashboard.query import DashboardQuery

MAX_ENTRIES = 32
ROUND_SECONDS = 60  # "the last 7 days" asked a second apart is the same report: times are rounded


class ReportCache:
    def __init__(self, source: Callable[[DashboardQuery], Awaitable[dict[str, Any]]], ttl_seconds: float) -> None:
        self.source = source
        self.ttl = ttl_seconds
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, asyncio.Task[dict[str, Any]]]] = OrderedDict()

    async def get(self, query: DashboardQuery) -> dict[str, Any]:
        key = (query.since // ROUND_SECONDS, query.until // ROUND_SECONDS, query.team, query.channel,
               query.bucket_seconds)
        now = time.monotonic()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self.ttl and not (cached[1].done() and cached[1].exception()):
            return await asyncio.shield(cached[1])
        # One computation for every request that asks meanwhile.
        task = asyncio.ensure_future(self.source(query))
        self._entries[key] = (now, task)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return await asyncio.shield(task)
