"""FAQ matching off the event loop (router/offloop.py): while one message is matched, the process goes on
with every other conversation; the calls of one loop turn run as one job; errors reach their own caller."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from typing import Any

import pytest

from bot.app import Helpline
from router.messages import InboundMessage, OutboundMessage, Sender, from_json, inbox_fields, new_id
from router.offloop import OffLoop
from router.worker import StreamWorker


def _message(address: str, text: str) -> dict[str, str]:
    return inbox_fields(InboundMessage(id=new_id(), channel="console", address=address,
                                       sender=Sender(address, address.title()), text=text, received_at=time.time()))


class HeldKnowledgeBase:
    """The real knowledge base, whose match waits until the test lets it go (as a long encoder run would)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.release = threading.Event()
        self.released_in_time: list[bool] = []
        self.threads: list[str] = []

    def match(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        # On the event loop this waits in vain: the loop that would release it is the one held.
        self.released_in_time.append(self.release.wait(timeout=5))
        return self.real.match(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def _outbox_addresses(helpline: Helpline) -> list[str]:
    entries = await helpline.redis.xrange(helpline.keys.outbox("console"))
    return [from_json(OutboundMessage, fields["data"]).address for _, fields in entries]


async def test_other_conversations_go_on_while_a_message_is_matched(helpline: Helpline, worker: StreamWorker) -> None:
    await helpline.redis.xadd(helpline.keys.inbox, _message("warm", "How long does delivery take?"))
    await worker.drain()  # loaded: the knowledge base, the scripts
    held = HeldKnowledgeBase(helpline.router.knowledge_base())
    helpline.router.knowledge_base = lambda: held
    await helpline.redis.xadd(helpline.keys.inbox, _message("matched", "How long does delivery take?"))
    await helpline.redis.xadd(helpline.keys.inbox, _message("other", "/help"))  # needs no match

    async def release_once_the_other_is_answered() -> None:
        while "other" not in await _outbox_addresses(helpline):
            await asyncio.sleep(0.01)
        held.release.set()

    releaser = asyncio.create_task(release_once_the_other_is_answered())
    try:
        assert await worker.drain() == 2
    finally:
        held.release.set()
        releaser.cancel()
    assert held.released_in_time == [True], "the match held the event loop: nothing else could go on"
    assert held.threads and held.threads[0] != threading.current_thread().name
    addresses = await _outbox_addresses(helpline)
    assert addresses.index("other") < addresses.index("matched")  # answered while the match ran
    assert addresses.count("matched") == 2  # the answer and "did this help?", once each


async def test_the_calls_of_one_loop_turn_go_as_one_job_and_errors_reach_their_own_caller() -> None:
    off_loop = OffLoop()
    loop_thread = threading.current_thread().name

    def where(value: int) -> tuple[int, str]:
        return value, threading.current_thread().name

    def fails() -> None:
        raise ValueError("broken")

    results = await asyncio.gather(*(off_loop.run(lambda value=value: where(value)) for value in range(5)),
                                   off_loop.run(fails), return_exceptions=True)
    assert off_loop.jobs == 1
    assert [result[0] for result in results[:5]] == [0, 1, 2, 3, 4]  # type: ignore[index]
    assert all(result[1] != loop_thread for result in results[:5])  # type: ignore[index]
    assert isinstance(results[5], ValueError)
    assert await off_loop.run(lambda: where(7)) == (7, results[0][1])  # type: ignore[index]
    assert off_loop.jobs == 2


async def test_a_caller_gone_away_keeps_no_one_else_from_their_result() -> None:
    off_loop = OffLoop()
    started = threading.Event()

    def slow() -> str:
        started.set()
        time.sleep(0.2)
        return "slow"

    gone = asyncio.create_task(off_loop.run(slow))
    stays = asyncio.create_task(off_loop.run(lambda: "stays"))
    await asyncio.to_thread(started.wait, 5)
    gone.cancel()
    assert await stays == "stays"
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_the_callers_context_goes_with_the_call() -> None:
    tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="none")
    tag.set("entry 1-0")
    assert await OffLoop().run(tag.get) == "entry 1-0"  # e.g. the log context of the entry
