"""The long-lived heap is frozen while serving, thawed when a knowledge base is replaced until the old one is
collected (its cycles must not stay for ever), and thawed when serving ends."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.heap import keep_heap_frozen


class Base:
    """Stands for a knowledge base: an object graph with a cycle, as the real one has."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def until(condition: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def test_frozen_while_serving_and_thawed_after() -> None:
    stop = asyncio.Event()
    base = Base()
    task = asyncio.create_task(keep_heap_frozen(lambda: base, stop, 0.01))
    await until(lambda: gc.get_freeze_count() > 0)
    stop.set()
    await task
    assert gc.get_freeze_count() == 0


async def test_a_replaced_knowledge_base_is_collected_and_the_heap_frozen_again() -> None:
    stop = asyncio.Event()
    service = {"base": Base()}
    gone = weakref.ref(service["base"])
    task = asyncio.create_task(keep_heap_frozen(lambda: service["base"], stop, 0.01))
    await until(lambda: gc.get_freeze_count() > 0)
    service["base"] = Base()  # a reload: the old one is garbage now, but only the cycle collector can free it
    await until(lambda: gc.get_freeze_count() == 0)  # thawed: the old one is collectable
    await until(lambda: gone() is None)
    await until(lambda: gc.get_freeze_count() > 0)  # frozen again once it is gone
    stop.set()
    await task


async def test_an_old_knowledge_base_still_referred_to_keeps_the_heap_thawed() -> None:
    stop = asyncio.Event()
    old = Base()
    service = {"base": old}
    task = asyncio.create_task(keep_heap_frozen(lambda: service["base"], stop, 0.01))
    await until(lambda: gc.get_freeze_count() > 0)
    service["base"] = Base()
    await until(lambda: gc.get_freeze_count() == 0)
    await asyncio.sleep(0.1)  # several intervals: still referred to (by `old`), so never frozen with it inside
    assert gc.get_freeze_count() == 0
    del old
    await until(lambda: gc.get_freeze_count() > 0)
    stop.set()
    await task


async def test_a_process_without_a_knowledge_base_stays_frozen() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(keep_heap_frozen(lambda: None, stop, 0.01))
    await until(lambda: gc.get_freeze_count() > 0)
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() > 0
    stop.set()
    await task
