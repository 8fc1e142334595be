"""Many workers, crashes and redeliveries: one winner, no second reply, no second case."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from redis.asyncio import Redis

from bot.app import Helpline
from router.keys import INBOX_GROUP
from router.messages import ActionKind, AgentAction, inbox_fields, new_id
from router.store import Transaction
from router.worker import StreamWorker, inbox_worker
from tests.conftest import REDIS_URL
from tests.drivers import Customer, case_hash
from tests.router.test_flow import case_number_in


async def test_claim_race_has_exactly_one_winner(helpline: Helpline, customer: Customer) -> None:
    number = case_number_in((await customer.say("I need a human"))[-1].text)
    agents = [f"agent{index}" for index in range(24)]
    actions = [AgentAction(id=new_id(), kind=ActionKind.CLAIM, case=number, agent=name, agent_name=name.title(),
                           at=time.time()) for name in agents]
    for action in actions:
        await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(action))

    # Four workers, each with its own connection, race through the same consumer group.
    clients = [Redis.from_url(REDIS_URL, decode_responses=True) for _ in range(4)]
    stop = asyncio.Event()
    routers = [Helpline(helpline.settings, redis=client).router for client in clients]
    # The path the service runs: each entry's XACK in the MULTI/EXEC of its effects.
    workers = [inbox_worker(client, helpline.keys, router.handle, f"racer{index}", block_ms=50,
                            finishing_handler=router.handle_finishing)
               for index, (client, router) in enumerate(zip(clients, routers))]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    results = []
    for action in actions:
        reply = await helpline.redis.blpop([helpline.keys.result(action.id)], timeout=20)
        assert reply is not None, "an action got no result"
        results.append(json.loads(reply[1]))
    stop.set()
    await asyncio.gather(*tasks)
    for client in clients:
        await client.aclose()

    winners = [result for result in results if result["ok"]]
    assert len(winners) == 1, results
    case = await case_hash(helpline, number)
    assert case["status"] == "assigned"
    assert case["agent"] == actions[results.index(winners[0])].agent
    assert sum(worker.processed for worker in workers) == len(actions)
    joined = [message for message in await customer.inbox() if "joined" in message.text]
    assert len(joined) == 1


async def test_concurrent_direct_claims_through_separate_connections(helpline: Helpline, customer: Customer) -> None:
    """The same race without the stream: the transaction alone must pick one winner."""
    number = case_number_in((await customer.say("operator"))[-1].text)
    actions = [AgentAction(id=new_id(), kind=ActionKind.CLAIM, case=number, agent=f"a{index}", at=time.time())
               for index in range(16)]
    await asyncio.gather(*(helpline.router.handle(f"9-{index}", inbox_fields(action))
                           for index, action in enumerate(actions)))
    outcomes = [json.loads(await helpline.redis.lpop(helpline.keys.result(action.id))) for action in actions]
    assert sum(outcome["ok"] for outcome in outcomes) == 1


async def test_redelivery_after_effects_written_changes_nothing(helpline: Helpline, customer: Customer) -> None:
    """A worker wrote the effects and died before XACK: the reclaimed entry sends nothing again."""
    await customer.inbox()
    inbox = helpline.keys.inbox
    message_entry = await helpline.redis.xadd(inbox, inbox_fields(_inbound(customer, "I need a person now")))
    await helpline.redis.xgroup_create(inbox, INBOX_GROUP, id="0", mkstream=True)
    # The doomed worker reads the entry and applies it, then "dies" without acknowledging.
    read = await helpline.redis.xreadgroup(INBOX_GROUP, "doomed", {inbox: ">"}, count=1)
    entry_id, fields = read[0][1][0]
    assert entry_id == message_entry
    await helpline.router.handle(entry_id, fields)
    first = await customer.inbox()
    assert len(first) == 1 and "#" in first[0].text
    cases_before = await helpline.redis.get(helpline.keys.case_counter)

    survivor = inbox_worker(helpline.redis, helpline.keys, helpline.router.handle, "survivor",
                            claim_idle_seconds=0.01, block_ms=10)
    await asyncio.sleep(0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(survivor.run(stop))
    for _ in range(100):
        if (await helpline.redis.xpending(inbox, INBOX_GROUP))["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert (await helpline.redis.xpending(inbox, INBOX_GROUP))["pending"] == 0
    assert survivor.processed == 1
    assert await customer.inbox() == []  # no second reply
    assert await helpline.redis.get(helpline.keys.case_counter) == cases_before  # no second case


async def test_crash_before_commit_leaves_nothing_and_retry_acts_once(
        helpline: Helpline, customer: Customer, worker: StreamWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    real_commit = Transaction.commit
    crashes = []

    async def crashing_commit(self: Transaction) -> None:
        if not crashes:
            crashes.append(self.entry_id)
            raise ConnectionError("connection lost mid-way")  # as if the worker died here
        await real_commit(self)

    monkeypatch.setattr(Transaction, "commit", crashing_commit)
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(_inbound(customer, "agent")))
    with pytest.raises(ConnectionError):
        await worker.drain()
    assert await customer.inbox() == []
    assert await helpline.redis.keys(f"{helpline.keys.prefix}case:1*") == []

    worker.claim_idle_ms = 0
    worker._last_reclaim = 0.0
    reclaimed = await worker._reclaim()
    assert len(reclaimed) == 1, "the entry left pending was not reclaimed"
    for entry_id, fields in reclaimed:  # as the run loop does
        await worker._process(entry_id, fields)
    replies = await customer.inbox()
    assert len(replies) == 1 and "#" in replies[0].text
    assert len(await helpline.redis.keys(f"{helpline.keys.prefix}case:1*")) == 1


async def test_duplicate_platform_delivery_is_ignored(customer: Customer, helpline: Helpline) -> None:
    first = await customer.say("How long does delivery take?", platform_id="update-77")
    again = await customer.say("How long does delivery take?", platform_id="update-77")
    assert len(first) == 2 and again == []


def _inbound(customer: Customer, text: str):
    from router.messages import InboundMessage, Sender

    return InboundMessage(id=new_id(), channel="console", address=customer.address,
                          sender=Sender(id=customer.address, name=customer.name), text=text, received_at=time.time())
