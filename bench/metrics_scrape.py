"""What one /metrics scrape costs: read the shared figures from Redis and render them.

5 teams with 200 waiting cases each and a `hl:metrics` hash of ~1,000 fields (more label sets than a
real installation has), on the local Redis under a throwaway prefix. Prints the median and p90 of
the Redis read and of the whole scrape (read + prometheus_client text), in milliseconds.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # before bench/, whose router.py is no package

from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bot.metrics import SnapshotCollector, read_snapshot  # noqa: E402
from router.keys import Keys  # noqa: E402
from router.metrics import field_name  # noqa: E402

TEAMS = [f"team{i}" for i in range(5)]


async def main() -> None:
    redis = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    keys = Keys(f"hlbench:{uuid.uuid4().hex[:8]}:")
    now = time.time()
    try:
        for team in TEAMS:
            await redis.zadd(keys.queue(team), {str(n): (now - n) * 1000 for n in range(200)})
        fields = {}
        for channel in ("telegram", "slack", "email", "console"):
            for direction in ("in", "out"):
                fields[field_name("helpline_messages_total", channel=channel, direction=direction)] = 1000
        for team in TEAMS:
            for le in ("30", "60", "120", "300", "600", "1800", "3600", "7200", "+Inf"):
                for name in ("helpline_first_response_seconds_bucket", "helpline_resolution_seconds_bucket"):
                    fields[field_name(name, team=team, le=le)] = 10
        for n in range(1000 - len(fields)):
            fields[field_name("helpline_case_events_total", event=f"event{n}")] = n
        await redis.hset(keys.metrics, mapping=fields)
        reads, totals = [], []
        for _ in range(200):
            started = time.perf_counter()
            snapshot = await read_snapshot(redis, keys, TEAMS)
            read = time.perf_counter()
            registry = CollectorRegistry(auto_describe=False)
            registry.register(SnapshotCollector(snapshot))
            generate_latest(registry)
            reads.append((read - started) * 1000)
            totals.append((time.perf_counter() - started) * 1000)
        for name, values in (("Redis read", reads), ("whole scrape", totals)):
            values.sort()
            print(f"{name:>13}: median {statistics.median(values):.2f} ms, p90 {values[int(len(values) * 0.9)]:.2f} ms")
    finally:
        keys_left = [key async for key in redis.scan_iter(match=f"{keys.prefix}*")]
        if keys_left:
            await redis.delete(*keys_left)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
