"""A retried inbox entry (tried again after a failure, or put back from the dead letters) keeps its
identity: the case number it reserved, the ids of what it sends."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import Helpline
from router.dead_letters import list_dead_letters, retry_dead_letter
from router.keys import FIRST_CASE_NUMBER
from router.messages import InboundMessage, Sender, inbox_fields, new_id
from router.store import Transaction
from router.worker import MAX_FAILURES, StreamWorker
from tests.drivers import Customer
from tests.router.test_flow import case_number_in


def _inbound(customer: Customer, text: str) -> InboundMessage:
    return InboundMessage(id=new_id(), channel="console", address=customer.address,
                          sender=Sender(id=customer.address, name=customer.name), text=text, received_at=time.time())


async def _run_until(worker: StreamWorker, done: asyncio.Event | None = None, *, entries: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    deadline = asyncio.get_running_loop().time() + 30
    while worker.processed < entries and (done is None or not done.is_set()):
        assert asyncio.get_running_loop().time() < deadline, "the worker did not get through"
        await asyncio.sleep(0.02)
    stop.set()
    await task


async def test_an_entry_tried_again_after_failing_keeps_its_case_number(
        helpline: Helpline, customer: Customer, worker: StreamWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    real_commit = Transaction.commit
    failures: list[str] = []

    async def commit_failing_twice(self: Transaction) -> None:
        if len(failures) < 2:
            failures.append(self.entry_id)
            raise RuntimeError("a bug after the case number was reserved")
        await real_commit(self)

    monkeypatch.setattr(Transaction, "commit", commit_failing_twice)
    worker.failure_pause = 0.01
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(_inbound(customer, "I want a person")))
    await _run_until(worker, entries=1)
    (reply,) = await customer.inbox()
    assert case_number_in(reply.text) == FIRST_CASE_NUMBER
    assert int(await helpline.redis.get(helpline.keys.case_counter)) == FIRST_CASE_NUMBER


async def test_a_dead_letter_put_back_keeps_its_case_number(
        helpline: Helpline, customer: Customer, worker: StreamWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    real_commit = Transaction.commit

    async def broken_commit(self: Transaction) -> None:
        raise RuntimeError("the commit is broken until the fix is deployed")

    monkeypatch.setattr(Transaction, "commit", broken_commit)
    worker.failure_pause = 0.01
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(_inbound(customer, "I want a person")))
    dead = asyncio.Event()

    async def watch_dead_letters() -> None:
        while not await helpline.redis.xlen(helpline.keys.dead_letters):
            await asyncio.sleep(0.02)
        dead.set()

    watcher = asyncio.create_task(watch_dead_letters())
    await _run_until(worker, dead, entries=MAX_FAILURES + 1)
    await watcher
    (letter,) = await list_dead_letters(helpline.redis, helpline.keys)
    assert "broken" in letter.reason and letter.stream == helpline.keys.inbox
    assert await customer.inbox() == []
    reserved = int(await helpline.redis.get(helpline.keys.case_counter))

    monkeypatch.setattr(Transaction, "commit", real_commit)  # fixed
    stream, _ = await retry_dead_letter(helpline.redis, helpline.keys, letter.id)
    assert stream == helpline.keys.inbox
    await _run_until(worker, entries=1)
    (reply,) = await customer.inbox()
    assert case_number_in(reply.text) == reserved == FIRST_CASE_NUMBER
    assert int(await helpline.redis.get(helpline.keys.case_counter)) == reserved
    assert await list_dead_letters(helpline.redis, helpline.keys) == []
