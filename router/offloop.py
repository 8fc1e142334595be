"""FAQ matching off the event loop: on one thread of the process, the calls of one loop turn together.

Why: an unsure message runs the sentence encoder (~30 ms of CPU). On the event loop that held up
everything else the process does meanwhile: every other conversation's reads and commits, the
Telegram sends, the claim refresher. The encoder releases the GIL, so on its thread the loop goes on.

Why one thread: matches run one at a time as they did (the matcher is not written for concurrent
calls; the only other thread that touches it is the warm-up that fills the embedding cache, as
before), and the process keeps its second core for the loop, Redis and its neighbours.

Why together: the entries of a read batch decide side by side and their commits share one round trip
(router/rounds.py) only when they are ready at the same moment. So the calls made in one loop turn go
to the thread as one job and their results come back in one callback: the batch commits in one round,
as when matching ran inline, and nothing waits longer than it did then.

Nothing of the delivery guarantees changes: the caller awaits its result inside its turn, before its
commit, so its lane's order, the transaction around the decision and a crash at any point are as
before; a call is pure (no Redis, no writes), so one whose caller went away costs only its CPU.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_Call = tuple[contextvars.Context, Callable[[], Any], "asyncio.Future[Any]"]

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _thread() -> ThreadPoolExecutor:
    """The process's matching thread (started on first use, shared by every router of the process)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faq-match")
        return _executor


class OffLoop:
    """Runs calls on the matching thread; the calls made in one turn of the event loop go together."""

    def __init__(self) -> None:
        self._waiting: list[_Call] = []
        self.jobs = 0  # jobs handed to the thread (for tests)

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` on the matching thread (with the caller's context variables, e.g. the log context)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._waiting.append((contextvars.copy_context(), call, future))
        if len(self._waiting) == 1:
            # After the tasks already ready in this turn: the other entries of a batch join this job.
            loop.call_soon(self._submit, loop)
        return await future

    def _submit(self, loop: asyncio.AbstractEventLoop) -> None:
        job, self._waiting = self._waiting, []
        self.jobs += 1
        _thread().submit(_run_job, loop, job)


def _run_job(loop: asyncio.AbstractEventLoop, job: list[_Call]) -> None:
    outcomes: list[tuple[asyncio.Future[Any], Any, Exception | None]] = []
    for context, call, future in job:
        try:
            outcomes.append((future, context.run(call), None))
        except Exception as error:  # the caller's to handle, as if it had called inline
            outcomes.append((future, None, error))
    try:
        loop.call_soon_threadsafe(_settle, outcomes)
    except RuntimeError:
        pass  # the loop closed meanwhile: nobody waits for these


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any, Exception | None]]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue  # its caller was cancelled
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
