"""The batched path: the entries of a read batch share one round trip for their reads and one for their
commits (router/rounds.py), each commit a script that writes nothing when something it read has changed
(router/optimistic.py). A conflict costs only its own entry a retry; a crash at any point and a
redelivery change nothing."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app import Helpline
from router.keys import INBOX_GROUP
from router.messages import InboundMessage, OutboundMessage, Sender, from_json, inbox_fields, new_id
from router.optimistic import check_and_write, written_by
from router.rounds import pack, rounds_for
from router.store import Transaction
from router.worker import StreamWorker, inbox_worker
from tests.conftest import REDIS_URL

QUESTION = "How long does delivery take?"


def _message(address: str, text: str = QUESTION) -> dict[str, str]:
    return inbox_fields(InboundMessage(id=new_id(), channel="console", address=address,
                                       sender=Sender(address, address.title()), text=text, received_at=time.time()))


async def _outbox_by_address(helpline: Helpline) -> Counter[str]:
    entries = await helpline.redis.xrange(helpline.keys.outbox("console"))
    return Counter(from_json(OutboundMessage, fields["data"]).address for _, fields in entries)


async def _pending(helpline: Helpline) -> int:
    return int((await helpline.redis.xpending(helpline.keys.inbox, INBOX_GROUP))["pending"])


async def test_a_batch_reads_in_one_round_trip_and_commits_in_another(helpline: Helpline,
                                                                      worker: StreamWorker) -> None:
    addresses = [f"batch{index}" for index in range(8)]
    for address in addresses:
        await helpline.redis.xadd(helpline.keys.inbox, _message(address))
    await worker.drain()  # the script is loaded, the knowledge base too: not what is counted
    for address in addresses:
        await helpline.redis.xadd(helpline.keys.inbox, _message(address, "can i still send it back after 3 weeks"))
    rounds = rounds_for(helpline.redis)
    before = rounds.rounds
    assert await worker.drain() == 8
    assert rounds.rounds - before == 2, "eight entries: one round of reads, one of commits"
    assert all(count == 4 for count in (await _outbox_by_address(helpline)).values())
    assert await _pending(helpline) == 0


async def test_one_conflicting_commit_is_retried_and_the_others_commit(
        helpline: Helpline, worker: StreamWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = ["ann", "bob", "cid", "dan"]
    for address in addresses:
        await helpline.redis.xadd(helpline.keys.inbox, _message(address))
    await worker.drain()
    bob = await helpline.redis.get(helpline.keys.address("console", "bob"))
    entries = {}
    for address in addresses:
        fields = _message(address, "can i still send it back after 3 weeks")
        entries[await helpline.redis.xadd(helpline.keys.inbox, fields)] = address

    other = Redis.from_url(REDIS_URL, decode_responses=True)  # another process, changing bob's conversation
    attempts: Counter[str] = Counter()
    real = Transaction._commit_optimistically

    async def interfering(self: Transaction, rounds: object) -> None:
        attempts[entries.get(self.entry_id, "?")] += 1
        if entries.get(self.entry_id) == "bob" and attempts["bob"] == 1:
            # Between bob's read and his commit, someone else writes his conversation.
            await other.hset(helpline.keys.conversation(bob), "customer_name", "Robert")
        await real(self, rounds)  # type: ignore[arg-type]

    monkeypatch.setattr(Transaction, "_commit_optimistically", interfering)
    assert await worker.drain() == 4
    await other.aclose()
    assert attempts == {"ann": 1, "bob": 2, "cid": 1, "dan": 1}, "only bob's entry is retried"
    # Each answered once: two messages for the first question and two for the second, none twice.
    assert await _outbox_by_address(helpline) == {address: 4 for address in addresses}
    conversation = await helpline.redis.hgetall(helpline.keys.conversation(bob))
    # The retry decided on what the other process wrote (and then the message's sender name, as always).
    assert conversation["customer_name"] == "Bob" and conversation["pending"]
    assert await _pending(helpline) == 0


async def test_a_conflict_writes_nothing(helpline: Helpline) -> None:
    """The script itself: a key read that changed since its DUMP means none of the writes is made."""
    key, written = f"{helpline.keys.prefix}probe", f"{helpline.keys.prefix}written"
    await helpline.redis.set(key, "before")
    raw = Redis.from_url(REDIS_URL)  # DUMP is binary: a client that does not decode
    dump = await raw.dump(key)
    await raw.aclose()
    recorder = helpline.redis.pipeline(transaction=False)
    recorder.set(written, "yes")
    recorder.hset(f"{helpline.keys.prefix}hash", mapping={"a": "1"})
    command = check_and_write({key: dump}, recorder.command_stack)
    assert [write[0] for write in written_by(command)] == ["SET", "HSET"]
    rounds = rounds_for(helpline.redis)
    await helpline.redis.set(key, "after")
    [_, answer] = await rounds.send([("SCRIPT", "LOAD", _script()), command])
    assert answer == 0 and await helpline.redis.exists(written, f"{helpline.keys.prefix}hash") == 0
    await helpline.redis.set(key, "before")  # the same content again: the decision stands
    [answer] = await rounds.send([command])
    assert answer == 1 and await helpline.redis.get(written) == "yes"


def _script() -> str:
    from router.optimistic import CHECK_AND_WRITE

    return CHECK_AND_WRITE


async def test_a_crash_after_the_commits_went_out_and_before_their_replies_changes_nothing(
        helpline: Helpline, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker dies between sending a batch's commits and reading what they answered: the commits (each
    with its XACK) are written or not, atomically; whoever handles the entries next writes nothing twice."""
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    doomed = Helpline(helpline.settings, redis=client)
    worker = doomed.router_workers(1, tag="doomed")[0]
    await client.xgroup_create(helpline.keys.inbox, INBOX_GROUP, id="0", mkstream=True)
    addresses = ["eve", "fay", "gus"]
    for address in addresses:
        await client.xadd(helpline.keys.inbox, _message(address))
    rounds = rounds_for(client)
    real_round = type(rounds)._round
    cut = []

    async def cut_after_commits_sent(self: object, requests: list) -> None:  # type: ignore[type-arg]
        if not cut and any(command[0] == "EVALSHA" for request in requests for command in request.commands):
            cut.append(len(requests))
            connection = await client.connection_pool.get_connection()
            try:
                await connection.send_packed_command(connection.pack_commands(
                    [command for request in requests for command in request.commands]))
                for request in requests:  # Redis answers; the worker dies before it learns what
                    for _ in request.commands:
                        await connection.read_response()
            finally:
                await connection.disconnect()
                await client.connection_pool.release(connection)
            for request in requests:
                request.future.set_exception(ConnectionError("connection lost before the replies"))
            return
        await real_round(self, requests)  # type: ignore[arg-type]

    monkeypatch.setattr(type(rounds), "_round", cut_after_commits_sent)
    with pytest.raises(ConnectionError):
        await worker.drain()
    assert cut == [3], "the three commits were not sent in one round"
    await asyncio.sleep(0.05)
    written = await _outbox_by_address(helpline)
    assert written == {address: 2 for address in addresses}, "every commit was written whole"
    assert await _pending(helpline) == 0, "each commit carried its XACK"
    monkeypatch.undo()
    # The same entries delivered again (as a reclaim after a crash would): nothing new is written.
    entries = await helpline.redis.xrange(helpline.keys.inbox)
    await asyncio.gather(*(doomed.router.handle(entry_id, fields) for entry_id, fields in entries))
    assert await _outbox_by_address(helpline) == written
    await doomed.close()


async def test_effects_written_without_the_xack_are_not_written_again_on_redelivery(helpline: Helpline) -> None:
    """The crash between the commits and the XACK: a batch's effects are in, its entries still pending.
    The consumer that reclaims them acknowledges them and writes nothing twice, no case twice either."""
    inbox = helpline.keys.inbox
    await helpline.redis.xgroup_create(inbox, INBOX_GROUP, id="0", mkstream=True)
    addresses = ["hal", "ida", "jon"]
    for address in addresses:
        await helpline.redis.xadd(inbox, _message(address, "I want to talk to a human"))
    read = await helpline.redis.xreadgroup(INBOX_GROUP, "doomed", {inbox: ">"}, count=10)
    # Handled side by side, effects written, and the worker "dies" before acknowledging them.
    await asyncio.gather(*(helpline.router.handle(entry_id, fields) for entry_id, fields in read[0][1]))
    first = await _outbox_by_address(helpline)
    cases = await helpline.redis.get(helpline.keys.case_counter)
    assert set(first) == set(addresses) and await _pending(helpline) == 3

    survivor = inbox_worker(helpline.redis, helpline.keys, helpline.router.handle, "survivor",
                            claim_idle_seconds=0.01, block_ms=10, finishing_handler=helpline.router.handle_finishing)
    await asyncio.sleep(0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(survivor.run(stop))
    for _ in range(100):
        if await _pending(helpline) == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert await _pending(helpline) == 0 and survivor.processed == 3
    assert await _outbox_by_address(helpline) == first, "no second reply"
    assert await helpline.redis.get(helpline.keys.case_counter) == cases, "no second case"


async def test_the_same_entry_twice_in_one_batch_is_applied_once(helpline: Helpline) -> None:
    """Two deliveries of one entry handled side by side (a reclaim racing its first consumer): one commit
    wins, the other finds its fingerprint of the done marker stale, reads again, and sees the entry done."""
    fields = _message("kim", "I want to talk to a human")
    entry_id = await helpline.redis.xadd(helpline.keys.inbox, fields)
    await asyncio.gather(*(helpline.router.handle(entry_id, fields) for _ in range(3)))
    assert await _outbox_by_address(helpline) == {"kim": 1}
    assert await helpline.redis.get(helpline.keys.case_counter) == "1001"


async def test_a_failing_write_does_not_cost_the_others(helpline: Helpline) -> None:
    """As in MULTI/EXEC, a write that fails (WRONGTYPE) is reported and the rest, done marker and XACK
    included, are still written: else the retry would write the other effects a second time."""
    prefix = helpline.keys.prefix
    await helpline.redis.set(f"{prefix}string", "x")
    recorder = helpline.redis.pipeline(transaction=False)
    recorder.set(f"{prefix}first", "1")
    recorder.hset(f"{prefix}string", mapping={"a": "1"})  # not a hash
    recorder.set(f"{prefix}last", "1")
    rounds = rounds_for(helpline.redis)
    [_, answer] = await rounds.send([("SCRIPT", "LOAD", _script()), check_and_write({}, recorder.command_stack)])
    assert answer[0] == 1 and "WRONGTYPE" in answer[1]
    assert await helpline.redis.exists(f"{prefix}first", f"{prefix}last") == 2


async def test_a_round_to_an_unreachable_redis_fails_its_waiters_instead_of_hanging() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Redis(host="127.0.0.1", port=port, decode_responses=True, retry=Retry(NoBackoff(), 0),
                   socket_connect_timeout=1)
    rounds = rounds_for(client)
    results = await asyncio.wait_for(asyncio.gather(rounds.send([("PING",)]), rounds.send([("GET", "x")]),
                                                    return_exceptions=True), 30)
    assert all(isinstance(result, RedisConnectionError | OSError) for result in results), results
    await client.aclose()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(), st.binary(), st.integers(), st.floats(allow_nan=False)), min_size=1,
                max_size=40))
def test_rounds_pack_commands_as_redis_py_does(arguments: list[object]) -> None:
    connection = Connection()
    command = ("SET", *arguments)  # a command name without spaces, as every command rounds send
    assert pack(connection.encoder.encode, command) == b"".join(connection.pack_command(*command))
