"""A read batch of the inbox: entries of different conversations (or cases) side by side, each one's own
in order, also for entries written without a lane (agent actions, delivery reports), and a bound on
how many run at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from redis.asyncio import Redis

from bot.app import Helpline
from router.keys import INBOX_GROUP, Keys
from router.lanes import Lanes
from router.messages import ActionKind, AgentAction, InboundMessage, Sender, inbox_fields, new_id
from router.worker import StreamWorker, inbox_concurrency_key, inbox_worker
from tests.drivers import Customer
from tests.router.test_flow import case_number_in


def _message(address: str, text: str) -> dict[str, str]:
    return inbox_fields(InboundMessage(id=new_id(), channel="console", address=address,
                                       sender=Sender(address, address), text=text))


def test_entries_meet_on_their_conversation_or_case() -> None:
    key = inbox_concurrency_key(Lanes("hl:inbox"))
    # A message without a lane shares the local group of the receiver's lane of its chat.
    assert key(_message("ann", "hi")) == Lanes("hl:inbox").key("console:ann")
    assert key(_message("ann", "hi")) != key(_message("bob", "hi"))
    claim = inbox_fields(AgentAction(id="a", kind=ActionKind.CLAIM, case=7, agent="m", at=1.0))
    assert key(claim) == "case:7" != key(inbox_fields(AgentAction(id="b", kind=ActionKind.CLAIM, case=8, agent="m")))
    for ugly in ({}, {"data": ""}, {"data": "[1]"}, {"data": "{"}, {"kind": "message", "data": "null"}):
        assert key(ugly) == ""  # the handler reports what is broken; the key never fails


async def test_a_batch_of_different_conversations_runs_side_by_side_and_each_in_order(
        redis: Redis, helpline: Helpline) -> None:
    keys: Keys = helpline.keys
    running, most, seen = 0, 0, []

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        seen.append(fields["data"])
        running -= 1

    worker = inbox_worker(redis, keys, handler, "batcher")
    for turn in range(2):
        for address in ("ann", "bob", "cid", "dan"):
            await redis.xadd(keys.inbox, {**_message(address, f"{address} {turn}")})
    started = time.perf_counter()
    assert await worker.drain() == 8
    assert most == 4, "the four conversations were not handled side by side"
    assert time.perf_counter() - started < 0.35  # two rounds of 50 ms, not eight
    for address in ("ann", "bob", "cid", "dan"):
        mine = [data for data in seen if f'"text":"{address} ' in data]
        assert [f"{address} 0" in mine[0], f"{address} 1" in mine[1]] == [True, True]
    assert (await redis.xpending(keys.inbox, INBOX_GROUP))["pending"] == 0


async def test_running_at_once_is_bounded(redis: Redis, helpline: Helpline) -> None:
    running, most = 0, 0

    async def handler(entry_id: str, fields: Mapping[str, str]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1

    worker = StreamWorker(redis, helpline.keys.inbox, INBOX_GROUP, "bounded", handler,
                          dead_letters=helpline.keys.dead_letters, batch=50, block_ms=20, max_running=3,
                          concurrency_key=inbox_concurrency_key(Lanes(helpline.keys.inbox)))
    for index in range(12):
        await redis.xadd(helpline.keys.inbox, _message(f"c{index}", "hi"))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(300):
        if worker.processed == 12:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert worker.processed == 12 and most == 3


async def test_the_real_router_answers_every_conversation_of_one_batch(helpline: Helpline, customer: Customer) -> None:
    others = [Customer(helpline, customer.worker) for _ in range(5)]
    for other in others:
        await helpline.redis.xadd(helpline.keys.inbox, _message(other.address, "I want to talk to a human"))
    await customer.worker.drain()
    numbers = {case_number_in((await other.inbox())[-1].text) for other in others}
    assert len(numbers) == 5  # one case each, each number once
