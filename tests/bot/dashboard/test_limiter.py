"""Failed logins: past the limit an address waits until its oldest failure leaves the window, whichever
process of the installation saw the failures (counted in Redis)."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.dashboard.limiter import FailedLogins, SharedFailedLogins, digest
from router.keys import Keys


def test_the_limit_holds_per_key_for_the_window() -> None:
    limiter = FailedLogins(limit=3, window_seconds=60)
    for at in (0, 10, 20):
        assert limiter.retry_after(["address:a"], at) == 0
        limiter.failed(["address:a", "user:maria"], at)
    assert limiter.retry_after(["address:a"], 21) == 39
    assert limiter.retry_after(["address:b", "user:maria"], 21) == 39  # the name is counted too
    assert limiter.retry_after(["address:b"], 21) == 0
    assert limiter.retry_after(["address:a"], 60.5) == 0  # the first failure left the window


def test_a_success_forgets_the_failures() -> None:
    limiter = FailedLogins(limit=2, window_seconds=60)
    limiter.failed(["address:a"], 0)
    limiter.succeeded(["address:a"])
    limiter.failed(["address:a"], 1)
    assert limiter.retry_after(["address:a"], 2) == 0


def test_memory_is_bounded() -> None:
    limiter = FailedLogins(limit=2, window_seconds=60, max_keys=100)
    for index in range(1000):
        limiter.failed([f"address:{index}"], 0)
    assert len(limiter._failures) == 100


async def test_failures_count_for_every_process_of_the_installation(redis: Redis, prefix: str) -> None:
    # Two processes behind one load balancer: each has its own limiter, both share the Redis.
    first, second = (SharedFailedLogins(redis, Keys(prefix), limit=3, window_seconds=60) for _ in range(2))
    await first.failed(["address:a", "user:maria"], 0)
    await second.failed(["address:a", "user:maria"], 10)
    assert await first.retry_after(["address:a"], 15) == 0
    await first.failed(["address:a", "user:maria"], 20)
    assert await second.retry_after(["address:a"], 21) == 39  # the third failure was made elsewhere
    assert await second.retry_after(["address:b", "user:maria"], 21) == 39
    assert await SharedFailedLogins(redis, Keys(prefix), 3, 60).retry_after(["address:a"], 61) == 0
    await second.succeeded(["address:a"])
    assert await first.retry_after(["address:a"], 22) == 0


async def test_redis_keeps_a_bounded_expiring_digest_of_each_name(redis: Redis, prefix: str) -> None:
    limiter = SharedFailedLogins(redis, Keys(prefix), limit=2, window_seconds=60)
    for at in range(10):
        await limiter.failed(["user:my secret password"], float(at))
    stored = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    assert stored == [Keys(prefix).login_failures(digest("user:my secret password"))]
    assert "secret" not in stored[0]
    assert await redis.zcard(stored[0]) == 2
    assert 0 < await redis.ttl(stored[0]) <= 61
    assert await limiter.retry_after(["user:my secret password"], 10) == 58  # the newest two count


async def test_without_redis_the_process_still_limits() -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = SharedFailedLogins(broken, Keys("hltest:none:"), limit=2, window_seconds=60)
    try:
        await limiter.failed(["address:a"], 0)
        await limiter.failed(["address:a"], 1)
        assert await limiter.retry_after(["address:a"], 2) == 58
    finally:
        await broken.aclose()
