"""Worker processes: `helpline run --workers N` starts N `helpline worker` children and keeps them running.

Router workers and senders are CPU-bound Python, so more of them in one process share one core; separate
OS processes use the others. Only the parent runs the channel receivers (Telegram allows one getUpdates
poller per bot), the Slack, email and desk senders, the sweeper and the HTTP server; a child runs router
workers, the FAQ reload and the Telegram and console senders (`helpline worker --role all`), exactly as a
`helpline worker --role all` started by hand on another machine does. The outbox consumer group, the
senders' leases and sent marks and the conversations' lanes make every reply go out once, in order,
whichever process sends it (bot/outbox.py, router/lanes.py).

A child that exits while the service runs is logged and started again after a back-off that grows
while it keeps failing (a broken FAQ edit must not make it spin). SIGTERM to the parent stops the
children gracefully: each stops reading, finishes and acknowledges what it holds, and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PARENT_PID_ENV_VAR = "HELPLINE_PARENT_PID"  # a child stops by itself when this process is gone
# How many children send side by side: each paces its sends at that share of a platform's global rate.
SENDING_PROCESSES_ENV_VAR = "HELPLINE_SENDING_PROCESSES"
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
STABLE_SECONDS = 60.0  # a child that ran this long before dying starts again after the first back-off
STOP_GRACE_SECONDS = 30.0  # then SIGKILL: the pending entries are reclaimed by the others


@dataclass(frozen=True)
class ChildExit:
    """What the supervisor saw when a child ended (kept for tests and the log)."""

    index: int
    pid: int
    returncode: int
    ran_seconds: float


def worker_command(config: Path | None, role: str = "router") -> list[str]:
    """The command line of one child: this interpreter running `helpline worker --role ROLE` with the same
    settings."""
    command = [sys.executable, "-m", "bot.cli", "worker", "--role", role]
    if config is not None:
        command += ["--config", str(config)]
    return command


def backoff_after(failures: int) -> float:
    """Seconds to wait before starting a child that has died `failures` times in a row (1, 2, 4 … 60)."""
    return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, failures - 1))


class WorkerProcesses:
    """N child processes each running `helpline worker`; restarted when they die, stopped on `stop`."""

    def __init__(self, count: int, command: list[str], stop_grace: float = STOP_GRACE_SECONDS) -> None:
        if count < 1:
            raise ValueError("at least one worker process")
        self.count = count
        self.command = command
        self.stop_grace = stop_grace
        self.processes: list[asyncio.subprocess.Process | None] = [None] * count
        self.exits: list[ChildExit] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process is not None and process.returncode is None]

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every child running until `stop` is set, then stop them all and wait for them."""
        try:
            await asyncio.gather(*(self._keep(index, stop) for index in range(self.count)))
        finally:
            await self._stop_all()

    async def _keep(self, index: int, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            started = time.monotonic()
            process = await self._start(index)
            stopping = asyncio.create_task(stop.wait())
            exited = asyncio.create_task(process.wait())
            await asyncio.wait({stopping, exited}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not exited.done():
                exited.cancel()
                return  # stopping: _stop_all ends it
            ran = time.monotonic() - started
            self.exits.append(ChildExit(index, process.pid, exited.result(), ran))
            failures = 1 if ran >= STABLE_SECONDS else failures + 1
            delay = backoff_after(failures)
            log.error("worker process %d (pid %d) exited with %s after %.0fs; starting it again in %.0fs",
                      index, process.pid, exited.result(), ran, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _start(self, index: int) -> asyncio.subprocess.Process:
        env = {**os.environ, PARENT_PID_ENV_VAR: str(os.getpid()), SENDING_PROCESSES_ENV_VAR: str(self.count)}
        # Its own process group would keep a terminal's Ctrl-C from reaching it before the parent says so.
        process = await asyncio.create_subprocess_exec(*self.command, stdin=asyncio.subprocess.DEVNULL, env=env,
                                                       start_new_session=True)
        self.processes[index] = process
        log.info("worker process %d started (pid %d)", index, process.pid)
        return process

    async def _stop_all(self) -> None:
        running = [process for process in self.processes if process is not None and process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(self._wait_or_kill(process) for process in running))

    async def _wait_or_kill(self, process: asyncio.subprocess.Process) -> None:
        try:
            await asyncio.wait_for(process.wait(), self.stop_grace)
        except TimeoutError:
            log.error("worker process %d did not stop within %.0fs; killing it", process.pid, self.stop_grace)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def sending_processes() -> int:
    """How many processes send beside this one (itself included): 1 unless a parent said otherwise."""
    try:
        return max(1, int(os.environ.get(SENDING_PROCESSES_ENV_VAR, "1")))
    except ValueError:
        return 1


async def watch_parent(stop: asyncio.Event, interval: float = 1.0) -> None:
    """Set `stop` when the parent named by HELPLINE_PARENT_PID is gone (it was killed without stopping us)."""
    expected = os.environ.get(PARENT_PID_ENV_VAR)
    if not expected:
        return
    while not stop.is_set():
        if os.getppid() != int(expected):
            log.error("the parent process %s is gone; stopping", expected)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
