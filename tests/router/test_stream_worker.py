"""StreamWorker under contention and failure: lanes in order across processes, no head-of-line
blocking, live consumers' entries never taken, reclaimed entries first, poison entries dead-lettered,
dead consumers removed, streams trimmed without losing an unfinished entry."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import pytest
from redis.asyncio import Redis

from router.lanes import append
from router.streams import trim_acknowledged
from router.worker import MAX_FAILURES, StreamWorker, ensure_group
from tests.conftest import REDIS_URL

GROUP = "g"


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
    """Wait for `condition` (not a timing assert: the timeout only ends a test that would hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
def stream(prefix: str) -> str:
    return f"{prefix}stream"


@pytest.fixture
async def clients() -> AsyncIterator[list[Redis]]:
    """Separate connections, as separate processes would have."""
    made = [Redis.from_url(REDIS_URL, decode_responses=True) for _ in range(3)]
    yield made
    for client in made:
        await client.aclose()


class Running:
    """Workers running until the test ends."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, worker: StreamWorker) -> StreamWorker:
        self.tasks.append(asyncio.create_task(worker.run(self.stop)))
        return worker

    async def close(self) -> None:
        self.stop.set()
        _, stuck = await asyncio.wait(self.tasks, timeout=10)
        for task in stuck:  # a failed test may leave a handler waiting for ever: do not hang on it
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    workers = Running()
    yield workers
    await workers.close()


def make_worker(redis: Redis, stream: str, name: str, handler: Callable[[str, Mapping[str, str]], Awaitable[None]],
                claim_idle: float = 60.0) -> StreamWorker:
    worker = StreamWorker(redis, stream, GROUP, name, handler, dead_letters=f"{stream}:dead", block_ms=20,
                          claim_idle_seconds=claim_idle)
    worker.failure_pause = 0.01
    return worker


async def test_an_entry_that_keeps_failing_reaches_the_dead_letters(redis: Redis, stream: str, running: Running) -> None:
    handled: list[str] = []
    tries: list[str] = []

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        if fields["text"] == "poison":
            tries.append(entry_id)
            raise RuntimeError("this entry always breaks the handler")
        handled.append(fields["text"])

    poison = await append(redis, stream, "chat-1", {"text": "poison"})
    for index in range(3):
        await append(redis, stream, f"chat-{index + 2}", {"text": f"fine {index}"})
    running.start(make_worker(redis, stream, "w", handler, claim_idle=0.3))

    async def dead_lettered() -> bool:
        return await redis.xlen(f"{stream}:dead") > 0

    await eventually(dead_lettered, "the failing entry in the dead letters")
    (_, dead), = await redis.xrange(f"{stream}:dead")
    assert dead["entry_id"] == poison and dead["stream"] == stream and "always breaks" in dead["reason"]
    assert len(tries) == MAX_FAILURES
    assert sorted(handled) == ["fine 0", "fine 1", "fine 2"]
    await eventually(lambda: _pending_is(redis, stream, 0), "nothing pending")
    assert await redis.exists(f"{stream}:lane:chat-1") == 0  # its lane is free again


async def test_an_entry_that_takes_down_every_worker_reaches_the_dead_letters(redis: Redis, stream: str) -> None:
    """The failures are counted in Redis too: each crashed process's delivery counts, not only this one's."""
    entry = await append(redis, stream, "chat", {"text": "poison"})
    await ensure_group(redis, stream, GROUP)
    await redis.xreadgroup(GROUP, "crashed-0", {stream: ">"})
    for index in range(1, MAX_FAILURES - 2):  # reclaimed by one process after another, each dying on it
        await redis.xclaim(stream, GROUP, f"crashed-{index}", min_idle_time=0, message_ids=[entry])

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        raise RuntimeError("boom")

    worker = make_worker(redis, stream, "last", handler)
    ((_, claimed),) = await redis.xclaim(stream, GROUP, "last", min_idle_time=0, message_ids=[entry])
    await worker._process(entry, claimed)
    assert await redis.xlen(f"{stream}:dead") == 0  # one try of this worker is not enough yet
    await worker._process(entry, claimed)
    assert [fields["entry_id"] for _, fields in await redis.xrange(f"{stream}:dead")] == [entry]


async def test_a_slow_conversation_does_not_hold_up_the_others(redis: Redis, stream: str, running: Running) -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        if fields["lane"] == "slow":
            await release.wait()  # e.g. a chat whose sends are being retried
        handled.append(fields["text"])

    await append(redis, stream, "slow", {"text": "slow 1"})
    await append(redis, stream, "slow", {"text": "slow 2"})
    for index in range(30):
        await append(redis, stream, f"chat-{index}", {"text": f"quick {index}"})
    running.start(make_worker(redis, stream, "w", handler))

    async def others_done() -> bool:
        return len(handled) == 30

    await eventually(others_done, "every other conversation handled")
    assert not any(text.startswith("slow") for text in handled)
    release.set()

    async def all_done() -> bool:
        return len(handled) == 32

    await eventually(all_done, "the slow conversation handled")
    assert handled[-2:] == ["slow 1", "slow 2"]


async def test_two_processes_keep_each_conversation_in_order(redis: Redis, stream: str, clients: list[Redis],
                                                             running: Running) -> None:
    seen: dict[str, list[int]] = {}
    rng = random.Random(7)

    def handler_for(name: str) -> Callable[[str, Mapping[str, str]], Awaitable[None]]:
        async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
            await asyncio.sleep(rng.random() * 0.004)
            seen.setdefault(fields["lane"], []).append(int(fields["n"]))
        return handler

    count = 0
    for n in range(40):
        for chat in range(5):
            await append(redis, stream, f"chat-{chat}", {"n": str(n)})
            count += 1
    for index, client in enumerate(clients[:2]):
        running.start(make_worker(client, stream, f"process-{index}", handler_for(f"p{index}")))

    async def all_done() -> bool:
        return sum(len(numbers) for numbers in seen.values()) == count

    await eventually(all_done, "every entry handled")
    for chat, numbers in seen.items():
        assert numbers == sorted(numbers), f"{chat} out of order: {numbers}"


async def test_a_live_consumers_entries_are_never_taken_over(redis: Redis, stream: str, clients: list[Redis],
                                                             running: Running) -> None:
    """A handler running far past claim_idle_seconds keeps its entry: its claim is refreshed."""
    release = asyncio.Event()
    calls: list[str] = []

    async def slow(entry_id: str, fields: Mapping[str, str]) -> None:
        calls.append("slow")
        await release.wait()

    async def other(entry_id: str, fields: Mapping[str, str]) -> None:
        calls.append("other")

    entry = await append(redis, stream, "chat", {"text": "long send"})
    running.start(make_worker(clients[0], stream, "busy", slow, claim_idle=0.2))
    await eventually(lambda: _is_true(calls == ["slow"]), "the slow handler to start")
    running.start(make_worker(clients[1], stream, "hungry", other, claim_idle=0.2))
    await asyncio.sleep(2.0)  # ten claim timeouts pass while the first one is still busy
    assert calls == ["slow"]
    assert (await redis.xpending_range(stream, GROUP, min=entry, max=entry, count=1))[0]["consumer"] == "busy"
    release.set()
    await eventually(lambda: _pending_is(redis, stream, 0), "the entry finished")
    assert calls == ["slow"]


async def test_a_reclaimed_entry_goes_before_the_conversations_newer_ones(redis: Redis, stream: str,
                                                                           running: Running) -> None:
    """The question a dead worker held is answered before the follow-up that came after it."""
    await ensure_group(redis, stream, GROUP)
    await append(redis, stream, "chat", {"text": "question"})
    await redis.xreadgroup(GROUP, "dead-worker", {stream: ">"}, count=1)  # and then it died
    await append(redis, stream, "chat", {"text": "follow-up"})
    await append(redis, stream, "other-chat", {"text": "unrelated"})
    handled: list[str] = []

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        handled.append(fields["text"])

    running.start(make_worker(redis, stream, "survivor", handler, claim_idle=0.3))

    async def all_done() -> bool:
        return len(handled) == 3

    await eventually(all_done, "every entry handled")
    assert handled.index("question") < handled.index("follow-up")
    assert handled.index("unrelated") < handled.index("question")  # the other chat did not wait for the reclaim


async def test_dead_consumers_are_removed_once_their_entries_are_reclaimed(redis: Redis, stream: str,
                                                                           running: Running) -> None:
    await ensure_group(redis, stream, GROUP)
    await append(redis, stream, "chat", {"text": "held by the dead"})
    await redis.xreadgroup(GROUP, "dead-with-work", {stream: ">"}, count=1)
    await redis.xreadgroup(GROUP, "dead-idle", {stream: ">"}, count=1)  # got nothing, never came back
    handled: list[str] = []

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        handled.append(fields["text"])

    worker = make_worker(redis, stream, "survivor", handler, claim_idle=0.2)
    worker.consumer_gone_seconds = 0.3
    running.start(worker)

    async def only_survivor() -> bool:
        return [consumer["name"] for consumer in await redis.xinfo_consumers(stream, GROUP)] == ["survivor"]

    await eventually(only_survivor, "the dead consumers removed")
    assert handled == ["held by the dead"]


async def test_trimming_drops_finished_entries_only(redis: Redis, stream: str) -> None:
    ids = [await append(redis, stream, f"chat-{index % 7}", {"n": str(index)}) for index in range(600)]
    await ensure_group(redis, stream, GROUP)
    read = await redis.xreadgroup(GROUP, "c", {stream: ">"}, count=450)
    delivered = [entry_id for entry_id, _ in read[0][1]]
    unfinished = delivered[300]
    await redis.xack(stream, GROUP, *[entry_id for entry_id in delivered if entry_id != unfinished])

    removed = await trim_acknowledged(redis, stream)
    left = [entry_id for entry_id, _ in await redis.xrange(stream)]
    assert removed > 0 and len(left) == 600 - removed
    assert unfinished in left and set(ids[450:]) <= set(left)  # pending, and not yet read: both kept
    assert all(_order(entry_id) < _order(unfinished) for entry_id in set(ids) - set(left))

    await redis.xack(stream, GROUP, unfinished)
    await trim_acknowledged(redis, stream)
    assert set(ids[450:]) <= {entry_id for entry_id, _ in await redis.xrange(stream)}


async def test_a_stream_nobody_reads_yet_is_not_trimmed(redis: Redis, stream: str) -> None:
    for index in range(300):
        await append(redis, stream, "chat", {"n": str(index)})
    assert await trim_acknowledged(redis, stream) == 0
    assert await redis.xlen(stream) == 300


async def test_the_worker_trims_its_stream_as_it_goes(redis: Redis, stream: str, running: Running) -> None:
    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        return None

    for index in range(500):
        await append(redis, stream, f"chat-{index % 9}", {"n": str(index)})
    running.start(make_worker(redis, stream, "w", handler, claim_idle=0.2))

    async def trimmed() -> bool:
        return await redis.xlen(stream) < 200

    await eventually(trimmed, "the finished entries trimmed")


async def _pending_is(redis: Redis, stream: str, count: int) -> bool:
    return int((await redis.xpending(stream, GROUP))["pending"]) == count


async def _is_true(value: bool) -> bool:
    return value


def _order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence)



async def test_a_full_worker_still_reclaims_the_head_its_entries_wait_for(redis: Redis, stream: str,
                                                                          running: Running) -> None:
    """Entries waiting behind a dead consumer's head fill the worker (max_held): it must reclaim that
    head anyway, or the lane, and with it everything the worker holds, waits for ever."""
    handled: list[str] = []

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        handled.append(fields["text"])

    head = await append(redis, stream, "chat", {"text": "first"})
    await ensure_group(redis, stream, GROUP)
    await redis.xreadgroup(GROUP, "crashed", {stream: ">"}, count=1)  # read by a process that then died
    for index in range(4):
        await append(redis, stream, "chat", {"text": f"later {index}"})
    worker = make_worker(redis, stream, "w", handler, claim_idle=0.3)
    worker.max_held = 2
    running.start(worker)

    async def all_handled() -> bool:
        return len(handled) == 5

    await eventually(all_handled, "the dead consumer's head reclaimed, then the lane in order")
    assert handled == ["first", "later 0", "later 1", "later 2", "later 3"]
    assert head not in {entry["message_id"] for entry in await redis.xpending_range(stream, GROUP, "-", "+", 10)}


async def test_an_entry_another_consumer_took_is_let_go_while_it_waits_its_turn(
        redis: Redis, stream: str, clients: list[Redis], running: Running) -> None:
    """A held entry reclaimed by someone else while it waited for its lane's head is dropped from the
    wait (the other consumer handles it), so it does not keep a place in the worker for ever."""
    gate = asyncio.Event()
    handled: list[str] = []

    async def slow(entry_id: str, fields: Mapping[str, str]) -> None:
        await gate.wait()
        handled.append(fields["text"])

    await append(redis, stream, "chat", {"text": "head"})
    waiting = await append(redis, stream, "chat", {"text": "behind"})
    await ensure_group(redis, stream, GROUP)
    await redis.xreadgroup(GROUP, "other", {stream: ">"}, count=1)  # the head, held by a live consumer
    worker = make_worker(clients[0], stream, "w", slow, claim_idle=60.0)
    running.start(worker)
    await eventually(lambda: _held(worker, waiting), "the second entry held, waiting for the head")
    await redis.xclaim(stream, GROUP, "other", min_idle_time=0, message_ids=[waiting])  # taken from under it
    await worker._refresh_once()
    await eventually(lambda: _not_held(worker, waiting), "the taken entry let go")
    gate.set()


async def _held(worker: StreamWorker, entry_id: str) -> bool:
    return entry_id in worker._held


async def _not_held(worker: StreamWorker, entry_id: str) -> bool:
    return entry_id not in worker._held


async def test_workers_add_what_they_handled_to_one_shared_counter(redis: Redis, stream: str, clients: list[Redis],
                                                                   prefix: str) -> None:
    counter = (f"{prefix}metrics", "helpline_entries_processed_total|stream=test")

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        await asyncio.sleep(0.001)

    for n in range(30):
        await redis.xadd(stream, {"n": str(n)})
    stop = asyncio.Event()
    workers = [StreamWorker(client, stream, GROUP, f"process-{index}", handler, dead_letters=f"{stream}:dead",
                            block_ms=20, counter=counter) for index, client in enumerate(clients[:2])]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        await eventually(lambda: _done(workers, 30), "every entry handled")
        # Batched: at most one HINCRBY per heartbeat each, the rest when they stop.
        assert int(await redis.hget(*counter) or 0) <= 30
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert int(await redis.hget(*counter) or 0) == 30 == sum(worker.processed for worker in workers)


async def _done(workers: list[StreamWorker], count: int) -> bool:
    return sum(worker.processed for worker in workers) == count
