"""Round trips per message: reads under WATCH go out together, the XACK rides in the MULTI/EXEC of the
entry's effects, the conversation hash is written once, the transcript is read only for a desk, and the
language is detected once. Counted on the worker's connections to a real Redis."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

import router.engine
import router.rounds
from bot.app import Helpline
from faq import kb as faq_kb
from router.keys import INBOX_GROUP
from router.lanes import append as append_to_lane
from router.messages import InboundMessage, Sender, inbox_fields, new_id
from router.optimistic import CHECK_AND_WRITE_SHA, written_by
from router.worker import StreamWorker
from tests.conftest import REDIS_URL

FAQ_QUESTION = "How long does delivery take?"


@dataclass
class Wire:
    """What the worker's connections sent: one list of command names per round trip."""

    trips: list[list[str]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for trip in self.trips for name in trip]


@contextmanager
def recording(monkeypatch: pytest.MonkeyPatch, client_name: str) -> Iterator[Wire]:
    wire = Wire()
    real_send = AbstractConnection.send_packed_command
    real_pack_one = AbstractConnection.pack_command
    current: list[str] = []  # packed since the last send (a pipeline packs each of its commands)

    def names_of(command: Sequence[object]) -> list[str]:
        names = [str(command[0]).upper()]
        if names[0] == "EVALSHA" and command[1] == CHECK_AND_WRITE_SHA:  # a commit: what it writes counts
            names.extend(str(write[0]).upper() for write in written_by(command))
        return names

    def pack_command(self: AbstractConnection, *args: object) -> object:
        if self.client_name == client_name:
            current.extend(names_of(args))
        return real_pack_one(self, *args)

    real_pack = router.rounds.pack

    def pack(encode: Any, command: Any) -> bytes:  # rounds pack their own commands, just before they send
        current.extend(names_of(command))
        return real_pack(encode, command)

    async def send(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        if self.client_name == client_name:
            wire.trips.append(list(current))
        current.clear()
        await real_send(self, command, check_health)  # type: ignore[arg-type]

    monkeypatch.setattr(AbstractConnection, "pack_command", pack_command)
    monkeypatch.setattr(router.rounds, "pack", pack)
    monkeypatch.setattr(AbstractConnection, "send_packed_command", send)
    yield wire


@pytest.fixture
async def counted(helpline: Helpline) -> Iterator[tuple[Helpline, StreamWorker]]:
    client = Redis.from_url(REDIS_URL, decode_responses=True, client_name="counted-worker")
    instance = Helpline(helpline.settings, redis=client)
    worker = instance.router_workers(1, tag="counted")[0]
    await client.xgroup_create(helpline.keys.inbox, INBOX_GROUP, id="0", mkstream=True)
    await client.ping()  # the connection is made before counting
    yield instance, worker
    await instance.close()


async def _post(helpline: Helpline, customer: str, text: str) -> None:
    message = InboundMessage(id=new_id(), channel="console", address=customer, sender=Sender(customer, customer),
                             text=text)
    await append_to_lane(helpline.redis, helpline.keys.inbox, f"console:{customer}", inbox_fields(message))


async def _trips_of(monkeypatch: pytest.MonkeyPatch, worker: StreamWorker, helpline: Helpline,
                    customer: str, text: str) -> Wire:
    """Post one message, read it, then count what handling it sends (as the run loop does, lane turn aside)."""
    await _post(helpline, customer, text)
    [(entry_id, fields)] = await worker._read_new(block=False)
    with recording(monkeypatch, "counted-worker") as wire:
        await worker._process(entry_id, fields)
    return wire


async def test_a_faq_answer_in_a_new_conversation_takes_two_round_trips(
        counted: tuple[Helpline, StreamWorker], monkeypatch: pytest.MonkeyPatch) -> None:
    helpline, worker = counted
    wire = await _trips_of(monkeypatch, worker, helpline, "new-customer", FAQ_QUESTION)
    # One: fingerprint and read (done marker, address, flood count); two: the commit script with the XACK. Was 6.
    assert len(wire.trips) == 2, wire.trips
    first, commit = wire.trips
    assert first[0] == "DUMP" and "EXISTS" in first and "GET" in first and "ZCARD" in first
    assert "EVALSHA" in commit and "XACK" in commit and "LREM" in commit
    assert commit.count("HSET") == 1, "the conversation hash is written once"
    assert "XREVRANGE" not in wire.names(), "no desk: the transcript is not read"
    assert await helpline.redis.xpending(helpline.keys.inbox, INBOX_GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []}


async def test_a_faq_answer_in_a_known_conversation_takes_two_round_trips(
        counted: tuple[Helpline, StreamWorker], monkeypatch: pytest.MonkeyPatch) -> None:
    helpline, worker = counted
    await _trips_of(monkeypatch, worker, helpline, "known-customer", FAQ_QUESTION)
    wire = await _trips_of(monkeypatch, worker, helpline, "known-customer", "can i still send it back after 3 weeks")
    # The conversation hash is read with its address, in the first trip. Was 8.
    assert len(wire.trips) == 2, wire.trips
    assert "HGETALL" in wire.trips[0]


async def test_a_conversation_moved_to_another_id_is_read_again_not_guessed(
        counted: tuple[Helpline, StreamWorker], monkeypatch: pytest.MonkeyPatch) -> None:
    helpline, worker = counted
    await _trips_of(monkeypatch, worker, helpline, "moving", FAQ_QUESTION)
    address_key = helpline.keys.address("console", "moving")
    old_id = await helpline.redis.get(address_key)
    await helpline.redis.hset(helpline.keys.conversation("other"), mapping={
        **await helpline.redis.hgetall(helpline.keys.conversation(old_id)), "customer_name": "Moved"})
    await helpline.redis.set(address_key, "other")
    wire = await _trips_of(monkeypatch, worker, helpline, "moving", "hello")
    assert len(wire.trips) == 3, wire.trips  # the guess was wrong: the right hash is read in a trip of its own
    assert (await helpline.redis.hgetall(helpline.keys.conversation("other")))["updated_at"] != \
        (await helpline.redis.hgetall(helpline.keys.conversation(old_id)))["updated_at"]


async def test_a_handoff_reads_no_transcript_without_a_desk(
        counted: tuple[Helpline, StreamWorker], monkeypatch: pytest.MonkeyPatch) -> None:
    helpline, worker = counted
    wire = await _trips_of(monkeypatch, worker, helpline, "wants-person", "I want to talk to a human")
    assert "XREVRANGE" not in wire.names()
    # Fingerprint and read; case number, queue place and recent waits; the commit script with the XACK. Was 9.
    assert len(wire.trips) == 3, wire.trips
    assert [name for name in wire.trips[-1] if name == "XACK"] == ["XACK"]


async def test_the_language_is_detected_once_per_message(
        counted: tuple[Helpline, StreamWorker], monkeypatch: pytest.MonkeyPatch) -> None:
    helpline, worker = counted
    calls: list[str] = []
    real_evidence, real_detect = router.engine.language_evidence, faq_kb.detect_language

    def evidence(text: str, *args: object, **kwargs: object) -> object:
        calls.append(text)
        return real_evidence(text, *args, **kwargs)  # type: ignore[arg-type]

    def detect(text: str, *args: object, **kwargs: object) -> str:
        calls.append(text)
        return real_detect(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(router.engine, "language_evidence", evidence)
    monkeypatch.setattr(faq_kb, "detect_language", detect)
    await _trips_of(monkeypatch, worker, helpline, "polyglot", "Cik ilgi notiek piegāde?")
    assert calls == ["Cik ilgi notiek piegāde?"]
    answer = await helpline.redis.xrange(helpline.keys.outbox("console"))
    assert answer and '"language":"lv"' in answer[0][1]["data"].replace(" ", "")
