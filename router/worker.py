"""Router workers: read `hl:inbox` through the consumer group `router`, apply, then acknowledge.

An entry is acknowledged only after its effects are written (rule 2). Entries a dead worker left
pending are reclaimed after `claim_idle_seconds` (rule 4). An entry that is not a valid message, or
that keeps failing, goes to the dead-letter stream with the reason, so it never blocks the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from router.keys import INBOX_GROUP, Keys
from router.messages import PayloadError
from router.store import StreamFields

log = logging.getLogger(__name__)

MAX_FAILURES = 5  # tries before an entry that keeps failing goes to the dead letters
HEARTBEAT_SECONDS = 2.0
WORKER_ALIVE_SECONDS = 6.0

Handler = Callable[[str, Mapping[str, str]], Awaitable[None]]


def worker_name(tag: str = "worker") -> str:
    """A consumer name unique to this process and task: host, pid, tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{tag}"


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) unless it exists."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


async def live_workers(redis: Redis, keys: Keys, now: float | None = None) -> int:
    """How many router workers sent a heartbeat recently (any process, any machine)."""
    now = time.time() if now is None else now
    return int(await redis.zcount(keys.workers, now - WORKER_ALIVE_SECONDS, "+inf"))


class StreamWorker:
    """Consumes one stream through a consumer group with at-least-once, idempotent handling."""

    def __init__(self, redis: Redis, stream: str, group: str, name: str, handler: Handler, *,
                 dead_letters: str, batch: int = 10, block_ms: int = 1000, claim_idle_seconds: float = 60.0,
                 heartbeat_key: str | None = None,
                 concurrency_key: Callable[[Mapping[str, str]], str] | None = None) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.name = name
        self.handler = handler
        self.dead_letters = dead_letters
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self.heartbeat_key = heartbeat_key
        # Entries with different keys (e.g. different chats) are handled side by side, the same key in order.
        self.concurrency_key = concurrency_key
        self.processed = 0
        self._failures: dict[str, int] = {}
        self._last_beat = 0.0
        self._last_reclaim = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; what was read before that is finished and acknowledged."""
        await ensure_group(self.redis, self.stream, self.group)
        backoff = 0.5
        try:
            while not stop.is_set():
                try:
                    await self._beat()
                    entries = await self._reclaim() or await self._read_new()
                    await self._process_batch(entries)
                    backoff = 0.5
                except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                    log.warning("%s: Redis unreachable (%s); retrying in %.1fs", self.name, error, backoff)
                    await _sleep_unless(stop, backoff)
                    backoff = min(backoff * 2, 15.0)
        finally:
            if self.heartbeat_key:
                try:
                    await self.redis.zrem(self.heartbeat_key, self.name)
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    pass

    async def drain(self) -> int:
        """Process everything now waiting, then return how many entries were handled (for tests and CLI)."""
        await ensure_group(self.redis, self.stream, self.group)
        before = self.processed
        while True:
            entries = await self._read_new(block=False)
            if not entries:
                return self.processed - before
            await self._process_batch(entries)

    async def _process_batch(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        if self.concurrency_key is None or len(entries) < 2:
            for entry_id, fields in entries:
                await self._process(entry_id, fields)
            return
        groups: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for entry_id, fields in entries:
            groups.setdefault(self.concurrency_key(fields), []).append((entry_id, fields))

        async def in_order(group: list[tuple[str, dict[str, str]]]) -> None:
            for entry_id, fields in group:
                await self._process(entry_id, fields)

        await asyncio.gather(*(in_order(group) for group in groups.values()))

    async def _read_new(self, block: bool = True) -> list[tuple[str, dict[str, str]]]:
        reply = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.batch,
                                            block=self.block_ms if block else None)
        if not reply:
            return []
        return [(entry_id, fields) for entry_id, fields in reply[0][1]]

    async def _reclaim(self) -> list[tuple[str, dict[str, str]]]:
        now = time.monotonic()
        if now - self._last_reclaim < min(self.claim_idle_ms / 1000 / 2, 30):
            return []
        self._last_reclaim = now
        _cursor, claimed, *_deleted = await self.redis.xautoclaim(
            self.stream, self.group, self.name, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch)
        entries = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
        if entries:
            log.info("%s: reclaimed %d entries left by a stopped worker", self.name, len(entries))
        return entries

    async def _process(self, entry_id: str, fields: Mapping[str, str]) -> None:
        try:
            await self.handler(entry_id, fields)
        except PayloadError as error:
            log.error("%s: %s entry %s is not valid and goes to the dead letters: %s",
                      self.name, self.stream, entry_id, error)
            await self._dead_letter(entry_id, fields, str(error))
            return
        except (RedisConnectionError, RedisTimeoutError, OSError):
            raise  # not the entry's fault: leave it pending, it is tried again
        except Exception as error:  # a bug must not stop the queue; the entry is kept and reported
            failures = self._failures.get(entry_id, 0) + 1
            self._failures[entry_id] = failures
            log.exception("%s: %s entry %s failed (try %d of %d)", self.name, self.stream, entry_id,
                          failures, MAX_FAILURES)
            if failures >= MAX_FAILURES:
                await self._dead_letter(entry_id, fields, f"{type(error).__name__}: {error}")
                self._failures.pop(entry_id, None)
            return
        self._failures.pop(entry_id, None)
        await self.redis.xack(self.stream, self.group, entry_id)
        self.processed += 1

    async def _dead_letter(self, entry_id: str, fields: Mapping[str, str], reason: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            entry: StreamFields = {}
            entry.update(fields)
            entry.update({"stream": self.stream, "entry_id": entry_id, "reason": reason[:2000], "at": repr(time.time())})
            pipe.xadd(self.dead_letters, entry)
            pipe.xack(self.stream, self.group, entry_id)
            await pipe.execute()

    async def _beat(self) -> None:
        if not self.heartbeat_key:
            return
        now = time.time()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self.heartbeat_key, {self.name: now})
                # Workers that died without saying goodbye drop out of the list.
                pipe.zremrangebyscore(self.heartbeat_key, "-inf", now - 10 * WORKER_ALIVE_SECONDS)
                await pipe.execute()
            self._last_beat = now


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def inbox_worker(redis: Redis, keys: Keys, handler: Handler, name: str, claim_idle_seconds: float = 60.0,
                 block_ms: int = 1000) -> StreamWorker:
    """A worker on `hl:inbox` for the router."""
    return StreamWorker(redis, keys.inbox, INBOX_GROUP, name, handler, dead_letters=keys.dead_letters,
                        claim_idle_seconds=claim_idle_seconds, heartbeat_key=keys.workers, block_ms=block_ms)
