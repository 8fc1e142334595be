"""How many failed logins an address or a user name has made lately, to turn a guesser away (429).

Counted in Redis (`SharedFailedLogins`), so the limit holds for the whole installation: a guesser
spreading tries over the processes behind a load balancer, or over restarts, gets no more of them.
Each key is a sorted set of failure times capped at `limit` members and expiring after the window,
so Redis holds at most `limit` entries per address or name that failed lately. While Redis does not
answer, this process's own bounded count (`FailedLogins`) decides: still a limit, only per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections import OrderedDict, deque
from typing import Any

from redis.exceptions import RedisError

from router.keys import Keys

log = logging.getLogger(__name__)
MAX_KEYS = 10_000


class FailedLogins:
    """This process's count, in memory and bounded: at most `max_keys` keys, the longest quiet forgotten first."""

    def __init__(self, limit: int, window_seconds: float, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until any of `keys` may try again (0 when all may try now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, keys: list[str], now: float) -> None:
        for key in keys:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.limit)
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times


def digest(key: str) -> str:
    """A bounded, plain Redis key part for an address or a user name as typed."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class SharedFailedLogins:
    """Failed logins counted in Redis for every process; this process's count when Redis fails (or is None)."""

    def __init__(self, redis: Any, keys: Keys, limit: int, window_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.limit = limit
        self.window = window_seconds
        self.local = FailedLogins(limit, window_seconds)

    async def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until any of `keys` may try again (0 when all may try now)."""
        if self.redis is None:
            return self.local.retry_after(keys, now)
        try:
            # Not one transaction: the keys may live in different Cluster slots, and a stale read costs nothing.
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    name = self.keys.login_failures(digest(key))
                    pipe.zremrangebyscore(name, "-inf", now - self.window)
                    pipe.zrange(name, 0, -1, withscores=True)
                replies = await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("dashboard: failed logins not readable from Redis (%s); counting in this process", error)
            return self.local.retry_after(keys, now)
        wait = 0.0
        for times in replies[1::2]:
            if len(times) >= self.limit:
                oldest = min(float(score) for _, score in times)
                wait = max(wait, oldest + self.window - now)
        return wait

    async def failed(self, keys: list[str], now: float) -> None:
        self.local.failed(keys, now)
        if self.redis is None:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    name = self.keys.login_failures(digest(key))
                    pipe.zadd(name, {uuid.uuid4().hex: now})
                    pipe.zremrangebyrank(name, 0, -(self.limit + 1))  # the newest `limit` are all that count
                    pipe.expire(name, math.ceil(self.window) + 1)
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("dashboard: a failed login not written to Redis (%s); counted in this process", error)

    async def succeeded(self, keys: list[str]) -> None:
        self.local.succeeded(keys)
        if self.redis is None:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.delete(self.keys.login_failures(digest(key)))
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("dashboard: failed logins not cleared in Redis (%s)", error)
