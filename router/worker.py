"""Router workers: read `hl:inbox` through the consumer group `router`, apply, then acknowledge.

An entry is acknowledged only after its effects are written (rule 2). Entries a dead worker left
pending are reclaimed after `claim_idle_seconds` (rule 4). An entry that is not a valid message, or
that keeps failing, goes to the dead-letter stream with the reason, so it never blocks the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import StreamIdT

from router.dead_letters import RETRY_OF_FIELD, dead_letter_fields
from router.keys import INBOX_GROUP, Keys
from router.lanes import Lanes, drop_stale_head, is_turn
from router.messages import PayloadError
from router.metrics import field_name
from router.rounds import Command
from router.streams import delivery_count, refresh_claims, remove_idle_consumers, trim_acknowledged

log = logging.getLogger(__name__)

MAX_FAILURES = 5  # tries before an entry that keeps failing goes to the dead letters
HEARTBEAT_SECONDS = 2.0
WORKER_ALIVE_SECONDS = 6.0
INBOX_RUNNING = 32  # inbox entries of different conversations a router worker handles at once

Handler = Callable[[str, Mapping[str, str]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class EntryFinish:
    """Finishing one entry: XACK it and take it off its lane; a handler writes it with its own MULTI/EXEC."""

    stream: str
    group: str
    entry_id: str
    lane: str

    def commands(self) -> list[Command]:
        """XACK, then LREM off its lane (as redis-py's `xack` and `lrem` send them)."""
        commands: list[Command] = [("XACK", self.stream, self.group, self.entry_id)]
        if self.lane:
            commands.append(("LREM", self.lane, 1, self.entry_id))
        return commands

    def add_to(self, pipe: Pipeline) -> None:
        for command in self.commands():
            pipe.execute_command(*command)


# A handler that writes the entry's finish with its effects (one round trip saved, and no moment where the
# effects are written but the entry is still pending); False when it did not (then the worker acknowledges).
FinishingHandler = Callable[[str, Mapping[str, str], EntryFinish], Awaitable[bool]]


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


class LeavePending(Exception):
    """Raised by a handler: leave the entry unacknowledged and uncounted (another sender holds it, or the
    service is stopping mid-retry); it is handled again later, by this or another process."""


class _Outcome(Enum):
    DONE = "done"  # acknowledged or dead-lettered
    LEFT = "left"  # left pending on purpose
    FAILED = "failed"  # the handler failed; try again after a pause
    UNREACHABLE = "unreachable"  # Redis failed; try again after a pause


@dataclass(order=True)
class _Held:
    """An entry read and not yet finished, in a local lane ordered by entry id."""

    order: tuple[int, int]
    entry_id: str = field(compare=False)
    fields: dict[str, str] = field(compare=False)


class StreamWorker:
    """Consumes one stream through a consumer group with at-least-once, idempotent handling.

    Entries are handled in lanes: one per conversation (the entry's `lane` field, else
    `concurrency_key`), in entry-id order, every lane side by side, so a slow conversation holds up
    only itself. Across processes the lane's list in Redis decides whose turn it is (router/lanes.py).
    Claims on every entry held are refreshed while it waits or runs, so only a dead consumer's
    entries are ever reclaimed; reclaimed entries join their lane ahead of newer ones.
    """

    def __init__(self, redis: Redis, stream: str, group: str, name: str, handler: Handler, *,
                 dead_letters: str, batch: int = 10, block_ms: int = 1000, claim_idle_seconds: float = 60.0,
                 heartbeat_key: str | None = None,
                 concurrency_key: Callable[[Mapping[str, str]], str] | None = None,
                 max_held: int = 1000, stopping: asyncio.Event | None = None,
                 finishing_handler: FinishingHandler | None = None, max_running: int | None = None,
                 counter: tuple[str, str] | None = None) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.name = name
        self.handler = handler
        self.finishing_handler = finishing_handler
        self.dead_letters = dead_letters
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self.heartbeat_key = heartbeat_key
        # Entries with different keys (e.g. different chats) are handled side by side, the same key in order.
        self.concurrency_key = concurrency_key
        self.lanes = Lanes(stream)
        # A consumer holding nothing that has not read for this long is gone, and removed from the group.
        self.consumer_gone_seconds = max(3 * claim_idle_seconds, 60.0)
        self.failure_pause = 0.5  # first pause before a failed entry is tried again; doubles each time
        self.max_held = max_held  # entries read and not finished; reading pauses beyond this
        # Set once the worker stops: handlers that wait (retries) give up their entry instead of finishing.
        self.stopping = stopping if stopping is not None else asyncio.Event()
        self.processed = 0
        # (hash, field) where this worker adds what it handled, for /metrics of the whole installation.
        self.counter = counter
        self._uncounted = 0
        self._last_count = 0.0
        self._failures: dict[str, int] = {}
        self._last_beat = 0.0
        self._last_reclaim = 0.0
        self._reclaim_from = "0-0"
        self._last_upkeep = 0.0
        self._held: dict[str, _Held] = {}
        self._local: dict[str, list[_Held]] = {}
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._taken: set[str] = set()  # held entries another consumer reclaimed meanwhile: not ours to start
        self._room = asyncio.Event()
        self._abandoned: list[str] = []  # held entries left unfinished at a stop
        # Lanes handled at once, each on a connection of its own: bounded, so a full read does not open a
        # thousand connections (None: unbounded, for handlers that wait long, like the outbox senders).
        self._running = asyncio.Semaphore(max_running) if max_running else None

    @property
    def upkeep_seconds(self) -> float:
        return min(self.claim_idle_ms / 1000 / 2, 30.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; what was read before that is finished and acknowledged."""
        refresher = asyncio.create_task(self._refresh_claims_forever(stop))
        backoff = 0.5
        grouped = False  # inside the loop: a Redis still down when the service starts is waited for
        try:
            while not stop.is_set():
                try:
                    if not grouped:
                        await ensure_group(self.redis, self.stream, self.group)
                        grouped = True
                    await self._beat()
                    await self._count()
                    await self._upkeep()
                    room = self.max_held - len(self._held)
                    if room <= 0:
                        # Full, yet what it holds may all wait behind a dead consumer's entry at the head
                        # of their lanes: only a reclaim can free them, so reclaiming goes on.
                        for entry_id, fields in await self._reclaim(self.batch):
                            self._hold(entry_id, fields)
                        self._room.clear()
                        await _sleep_unless(stop, self.block_ms / 1000, self._room)
                        continue
                    for entry_id, fields in await self._reclaim(room) or await self._read_new(count=min(self.batch, room)):
                        self._hold(entry_id, fields)
                    backoff = 0.5
                except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                    log.warning("%s: Redis unreachable (%s); retrying in %.1fs", self.name, error, backoff)
                    await _sleep_unless(stop, backoff)
                    backoff = min(backoff * 2, 15.0)
                except ResponseError as error:
                    if "NOGROUP" not in str(error):
                        raise
                    # A Redis that came back without its data (no persistence): the group again, from 0.
                    log.error("%s: the group %s of %s is gone (Redis restarted empty?); creating it again",
                              self.name, self.group, self.stream)
                    grouped = False
                    await _sleep_unless(stop, backoff)
        finally:
            self.stopping.set()
            if self._lane_tasks:
                await asyncio.gather(*self._lane_tasks.values(), return_exceptions=True)
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
            await self._hand_over_abandoned()
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                await self._count(now=True)
            if self.heartbeat_key:
                try:
                    await self.redis.zrem(self.heartbeat_key, self.name)
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    pass

    async def _hand_over_abandoned(self) -> None:
        """Mark what this worker leaves unfinished as idle already, so the next worker reclaims it at once
        instead of after `claim_idle_seconds`."""
        abandoned, self._abandoned = self._abandoned, []
        if not abandoned:
            return
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError, ResponseError):
            await self.redis.xclaim(self.stream, self.group, self.name, min_idle_time=0, message_ids=list[StreamIdT](abandoned),
                                    idle=self.claim_idle_ms, justid=True)
            log.info("%s: left %d entries for the next worker", self.name, len(abandoned))

    async def drain(self) -> int:
        """Process everything now waiting, then return how many entries were handled (for tests and CLI)."""
        await ensure_group(self.redis, self.stream, self.group)
        before = self.processed
        while True:
            entries = await self._read_new(block=False)
            if not entries:
                await self._count(now=True)
                return self.processed - before
            await self._process_batch(entries)

    async def _process_batch(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        """One after the other per lane, lanes side by side; errors propagate (drain is for tests and the CLI)."""
        groups: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for entry_id, fields in entries:
            groups.setdefault(self._lane_of(fields), []).append((entry_id, fields))

        async def in_order(group: list[tuple[str, dict[str, str]]]) -> None:
            for entry_id, fields in group:
                await self._process(entry_id, fields)

        await asyncio.gather(*(in_order(group) for group in groups.values()))

    def _lane_of(self, fields: Mapping[str, str]) -> str:
        lane = self.lanes.of(fields)
        if lane:
            return lane
        return self.concurrency_key(fields) if self.concurrency_key is not None else ""

    # -- lanes -----------------------------------------------------------------------------
    def _hold(self, entry_id: str, fields: dict[str, str]) -> None:
        if entry_id in self._held:
            return
        held = _Held(_parse_id(entry_id), entry_id, fields)
        self._held[entry_id] = held
        key = self._lane_of(fields)
        heapq.heappush(self._local.setdefault(key, []), held)
        if key not in self._lane_tasks:
            self._lane_tasks[key] = asyncio.create_task(self._run_lane(key))

    def _let_go(self, held: _Held) -> None:
        self._held.pop(held.entry_id, None)
        self._taken.discard(held.entry_id)
        self._room.set()

    async def _run_lane(self, key: str) -> None:
        queue = self._local[key]
        try:
            while queue:
                held = queue[0]
                if held.entry_id in self._taken:
                    heapq.heappop(queue)
                    self._let_go(held)
                    continue
                turn = await self._wait_turn(held, queue)
                if turn is None:
                    break  # stopping
                if not turn:
                    continue  # an older entry of this lane arrived meanwhile: that one first
                if self._running is None:
                    outcome = await self._process_safely(held.entry_id, held.fields)
                else:
                    async with self._running:
                        outcome = await self._process_safely(held.entry_id, held.fields)
                if outcome in (_Outcome.FAILED, _Outcome.UNREACHABLE):
                    pause = min(self.failure_pause * 2 ** self._failures.get(held.entry_id, 1), 15.0)
                    if await _sleep_unless(self.stopping, pause):
                        continue  # the same entry again: the lane keeps its order
                    break  # stopping: it stays pending for whoever runs next
                if outcome is _Outcome.LEFT and self.stopping.is_set():
                    break
                # Not heappop: an older (reclaimed) entry may have joined the lane while this one ran.
                queue.remove(held)
                heapq.heapify(queue)
                self._let_go(held)
        finally:
            for held in queue:
                self._abandoned.append(held.entry_id)
                self._let_go(held)
            queue.clear()
            self._local.pop(key, None)
            self._lane_tasks.pop(key, None)

    async def _wait_turn(self, held: _Held, queue: list[_Held]) -> bool | None:
        """True when it is `held`'s turn in its lane across processes; False when an older entry of the
        same lane arrived locally meanwhile; None when stopping."""
        lane = self.lanes.of(held.fields)
        if not lane:
            return True
        pause, waited, last_head = 0.01, 0.0, ""
        while True:
            try:
                head = await is_turn(self.redis, lane, held.entry_id)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                head = last_head or "?"
            if head is None:
                return True
            if queue[0] is not held or held.entry_id in self._taken:
                return False  # an older entry first, or another consumer has this one now: let it go
            if head != last_head:
                last_head, waited = head, 0.0
            elif waited >= 2.0:
                # Waiting long for the same entry: make sure somebody still holds it.
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                    if await drop_stale_head(self.redis, self.stream, self.group, lane, head):
                        log.warning("%s: dropped %s from lane %s: no consumer held it", self.name, head, lane)
                        continue
                waited = 0.0
            if not await _sleep_unless(self.stopping, pause):
                return None
            waited += pause
            # Up to a second: a lane waits long only for another process's (or a dead one's) entry, and
            # a thousand lanes asking four times a second starve the event loop that refreshes claims.
            pause = min(pause * 2, 1.0)

    async def _process_safely(self, entry_id: str, fields: Mapping[str, str]) -> _Outcome:
        try:
            return await self._process(entry_id, fields)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            log.warning("%s: Redis unreachable while handling %s (%s); it stays pending", self.name, entry_id, error)
            return _Outcome.UNREACHABLE

    # -- reading ---------------------------------------------------------------------------
    async def _read_new(self, block: bool = True, count: int | None = None) -> list[tuple[str, dict[str, str]]]:
        reply = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"}, count=count or self.batch,
                                            block=self.block_ms if block else None)
        if not reply:
            return []
        return [(entry_id, fields) for entry_id, fields in reply[0][1]]

    async def _reclaim(self, count: int | None = None) -> list[tuple[str, dict[str, str]]]:
        now = time.monotonic()
        if now - self._last_reclaim < self.upkeep_seconds:
            return []
        self._last_reclaim = now
        # From where the last call stopped: XAUTOCLAIM looks at no more than 10 x count entries of the
        # pending list a call, so starting at the beginning each time would never reach idle entries
        # behind many live ones.
        cursor, claimed, *_deleted = await self.redis.xautoclaim(
            self.stream, self.group, self.name, min_idle_time=self.claim_idle_ms, start_id=self._reclaim_from,
            count=min(count or self.batch, self.batch * 10))
        self._reclaim_from = str(cursor or "0-0")
        for entry_id, _fields in claimed:
            self._taken.discard(entry_id)  # ours again, also if it was held here when another took it
        entries = [(entry_id, fields) for entry_id, fields in claimed
                   if fields is not None and entry_id not in self._held]
        if entries:
            log.info("%s: reclaimed %d entries left by a stopped worker", self.name, len(entries))
        return entries

    async def _upkeep(self) -> None:
        """Now and then: trim what every group finished, remove consumers long gone."""
        now = time.monotonic()
        if now - self._last_upkeep < self.upkeep_seconds:
            return
        self._last_upkeep = now
        try:
            await trim_acknowledged(self.redis, self.stream)
            await remove_idle_consumers(self.redis, self.stream, self.group,
                                        idle_seconds=self.consumer_gone_seconds, keep=self.name)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            raise
        except Exception:  # upkeep must never stop the work itself
            log.exception("%s: stream upkeep of %s failed; the work goes on", self.name, self.stream)

    async def _refresh_claims_forever(self, stop: asyncio.Event) -> None:
        """Keep the claims on held entries fresh, so no other consumer takes them while we live."""
        period = max(self.claim_idle_ms / 1000 / 3, 0.05)
        while not stop.is_set() or self._held:
            await asyncio.sleep(period)
            try:
                await self._refresh_once()
            except (RedisConnectionError, RedisTimeoutError, OSError):
                continue
            except Exception:  # a refresher that dies lets every held entry be taken: keep it alive
                log.exception("%s: refreshing the claims on %s failed; trying again", self.name, self.stream)

    async def _refresh_once(self) -> None:
        ids = list(self._held)
        if not ids:
            return
        ours = await refresh_claims(self.redis, self.stream, self.group, self.name, ids)
        taken = [entry_id for entry_id in ids if entry_id not in ours and entry_id in self._held]
        if taken:
            log.warning("%s: %d held entries were reclaimed by another consumer (this one was stalled)",
                        self.name, len(taken))
            self._taken.update(taken)

    # -- one entry -------------------------------------------------------------------------
    async def _process(self, entry_id: str, fields: Mapping[str, str]) -> _Outcome:
        try:
            # A dead letter put back keeps its first id as identity: its effects are keyed by it.
            identity = fields.get(RETRY_OF_FIELD) or entry_id
            finished = False
            if self.finishing_handler is not None:
                finish = EntryFinish(self.stream, self.group, entry_id, self.lanes.of(fields))
                finished = await self.finishing_handler(identity, fields, finish)
            else:
                await self.handler(identity, fields)
        except PayloadError as error:
            log.error("%s: %s entry %s is not valid and goes to the dead letters: %s",
                      self.name, self.stream, entry_id, error)
            await self._dead_letter(entry_id, fields, str(error))
            return _Outcome.DONE
        except LeavePending:
            self._failures.pop(entry_id, None)
            return _Outcome.LEFT
        except (RedisConnectionError, RedisTimeoutError, OSError):
            raise  # not the entry's fault: leave it pending, it is tried again
        except Exception as error:  # a bug must not stop the queue; the entry is kept and reported
            # Tries here, plus the deliveries to processes that died trying it (a crash on this entry).
            failures = self._failures.get(entry_id, 0) + 1
            self._failures[entry_id] = failures
            tries = failures + max(await delivery_count(self.redis, self.stream, self.group, entry_id) - 1, 0)
            log.exception("%s: %s entry %s failed (try %d of %d)", self.name, self.stream, entry_id,
                          tries, MAX_FAILURES)
            if tries >= MAX_FAILURES:
                await self._dead_letter(entry_id, fields, f"{type(error).__name__}: {error}")
                self._failures.pop(entry_id, None)
                return _Outcome.DONE
            return _Outcome.FAILED
        self._failures.pop(entry_id, None)
        if not finished:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, entry_id)
                self._leave_lane(pipe, entry_id, fields)
                await pipe.execute()
        self.processed += 1
        self._uncounted += 1
        return _Outcome.DONE

    def _leave_lane(self, pipe: Pipeline, entry_id: str, fields: Mapping[str, str]) -> None:
        lane = self.lanes.of(fields)
        if lane:
            pipe.lrem(lane, 1, entry_id)

    async def _dead_letter(self, entry_id: str, fields: Mapping[str, str], reason: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_letters, dead_letter_fields(self.stream, entry_id, fields, reason))
            pipe.xack(self.stream, self.group, entry_id)
            self._leave_lane(pipe, entry_id, fields)
            await pipe.execute()

    async def _count(self, now: bool = False) -> None:
        """Add what was handled since the last time to the shared counter, at most once per heartbeat.

        In Redis rather than this process's memory because workers run in child processes and on other
        machines that no one scrapes; batched because one HINCRBY per entry would cost a round trip each.
        A worker killed outright loses at most one heartbeat's count (a counter, not a record).
        """
        if self.counter is None or not self._uncounted:
            return
        moment = time.time()
        if not now and moment - self._last_count < HEARTBEAT_SECONDS:
            return
        amount, self._uncounted = self._uncounted, 0
        try:
            await self.redis.hincrby(self.counter[0], self.counter[1], amount)  # type: ignore[misc]
        except BaseException:
            self._uncounted += amount  # tried again next time
            raise
        self._last_count = moment

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


def _parse_id(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    try:
        return int(milliseconds), int(sequence or 0)
    except ValueError:
        return 0, 0


async def _sleep_unless(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> bool:
    """Sleep `seconds`, or less if `stop` (or `wake`) is set; True when it slept in full."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
    return not done


def inbox_concurrency_key(lanes: Lanes) -> Callable[[Mapping[str, str]], str]:
    """What an inbox entry written without a lane (agent actions, delivery reports, the feedback page,
    the sweeper) is kept in order with: a customer message with its conversation's lane, an action or a
    report with its case, else its conversation. Different ones are handled side by side; every write
    is still decided under WATCH, so entries that meet on a key meanwhile only retry."""

    def key(fields: Mapping[str, str]) -> str:
        try:
            data = orjson.loads(fields.get("data", ""))
        except orjson.JSONDecodeError:
            return ""  # broken: the handler reports it
        if not isinstance(data, dict):
            return ""
        if fields.get("kind") == "message":
            return lanes.key(f"{data.get('channel', '')}:{data.get('address', '')}")
        if data.get("case") not in (None, "", 0):
            return f"case:{data.get('case')}"
        return f"conversation:{data.get('conversation', '')}"

    return key


def inbox_worker(redis: Redis, keys: Keys, handler: Handler, name: str, claim_idle_seconds: float = 60.0,
                 block_ms: int = 1000, finishing_handler: FinishingHandler | None = None) -> StreamWorker:
    """A worker on `hl:inbox` for the router (`finishing_handler`: Router.handle_finishing)."""
    return StreamWorker(redis, keys.inbox, INBOX_GROUP, name, handler, dead_letters=keys.dead_letters,
                        claim_idle_seconds=claim_idle_seconds, heartbeat_key=keys.workers, block_ms=block_ms,
                        finishing_handler=finishing_handler, concurrency_key=inbox_concurrency_key(Lanes(keys.inbox)),
                        max_running=INBOX_RUNNING, counter=processed_counter(keys, "inbox"))


def processed_counter(keys: Keys, stream: str) -> tuple[str, str]:
    """Where the workers of a stream (`inbox`, `outbox:<channel>`, `desk`) count the entries they handled."""
    return keys.metrics, field_name("helpline_entries_processed_total", stream=stream)
