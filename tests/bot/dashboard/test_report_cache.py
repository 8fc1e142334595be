"""The dashboard's report cache: one computation for simultaneous requests, kept longer when slow,
a failure not kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.dashboard.query import DashboardQuery
from bot.dashboard.report_cache import SLOW_FACTOR, ReportCache

QUERY = DashboardQuery(1_800_000_000.0, 1_800_600_000.0)


async def test_simultaneous_requests_share_one_computation() -> None:
    calls: list[DashboardQuery] = []

    async def source(query: DashboardQuery) -> dict[str, Any]:
        calls.append(query)
        await asyncio.sleep(0.05)
        return {"n": len(calls)}

    cache = ReportCache(source, ttl_seconds=60)
    answers = await asyncio.gather(*(cache.get(QUERY) for _ in range(7)))
    assert answers == [{"n": 1}] * 7 and len(calls) == 1
    assert await cache.get(DashboardQuery(QUERY.since, QUERY.until, team="billing")) == {"n": 2}


async def test_a_slow_report_is_kept_ten_times_as_long_and_a_failure_not_at_all() -> None:
    calls = 0

    async def source(query: DashboardQuery) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Redis went away")
        await asyncio.sleep(0.03)
        return {"n": calls}

    cache = ReportCache(source, ttl_seconds=0.01)
    with pytest.raises(ConnectionError):
        await cache.get(QUERY)
    assert await cache.get(QUERY) == {"n": 2}  # the failure was not kept
    await asyncio.sleep(0.05)  # past the ttl, within SLOW_FACTOR times the 30 ms it took
    assert SLOW_FACTOR * 0.03 > 0.1
    assert await cache.get(QUERY) == {"n": 2}
