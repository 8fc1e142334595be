"""A serving process's long-lived heap, kept out of the cyclic garbage collector's full collections.

After start-up a worker holds its objects for its whole life: the knowledge base with its indexes, the intents,
the models' Python side, the texts. Every full collection walked all of them: ~100 ms of CPU on the event loop's
thread each, seven in a burst of 1,500 FAQ messages (~0.35 ms a message, bench/load.py). `gc.freeze()` moves
what is alive after start-up out of the collector's sight. Frozen objects are still freed by reference counting
when nothing refers to them; only garbage cycles among them would stay. A knowledge base put out of service by a
reload is such garbage: the heap is thawed then, and frozen again once that knowledge base is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)


def freeze_heap() -> None:
    """Collect what start-up left as garbage, then freeze everything alive."""
    gc.collect()
    gc.freeze()


async def keep_heap_frozen(in_service: Callable[[], object], stop: asyncio.Event, interval: float) -> None:
    """Freeze the heap now; whenever `in_service()` (the knowledge base) is replaced, thaw it, and freeze it
    again once the replaced one has been collected (checked every `interval` seconds). Ends with `stop`, the
    heap thawed (a process that serves again, as tests do, starts over)."""
    freeze_heap()
    try:
        await _refreeze_after_reloads(in_service, stop, interval)
    finally:
        gc.unfreeze()


async def _refreeze_after_reloads(in_service: Callable[[], object], stop: asyncio.Event, interval: float) -> None:
    current = in_service()
    replaced: list[weakref.ref[object]] = []
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        latest = in_service()
        if latest is not current:
            if not replaced:
                gc.unfreeze()  # the old one's cycles must be collectable
            try:
                replaced.append(weakref.ref(current))
            except TypeError:  # cannot tell when it is gone: stay thawed, as a process without this would be
                log.warning("%s cannot be watched for its end; the heap stays thawed", type(current).__name__)
                return
            current = latest
            continue  # one interval's grace: matches in flight on the old one finish
        if replaced:
            gc.collect()  # one full collection, as the collector would have made anyway
            replaced = [ref for ref in replaced if ref() is not None]
            if replaced:
                log.debug("a replaced knowledge base is still referred to; the heap stays thawed")
            else:
                gc.freeze()
