"""Router throughput, latency, round trips and CPU time per message through real Redis streams.

Usage: python bench/router.py [--messages 2000] [--workers 1 2 4] [--path mix faq-new faq-existing handoff]
                              [--redis URL] [--profile]

Each run posts customer messages to the inbox the way a channel receiver does (in the conversation's
lane), then lets N router workers (each with its own Redis connection, in this process) work them off.
It prints messages per second, the time from XADD to "effects written", round trips per message (the
workers' requests to Redis: a pipeline is one), Redis commands per message (INFO stats and
commandstats deltas) and CPU time per message (time.process_time; workers run in this process).

Paths: `faq-new` a FAQ question from a new customer; `faq-existing` a second FAQ question in a
conversation that has one answered already (the first is posted and handled before measuring);
`handoff` a request for a person from a new customer (a case opened); `mix` questions, follow-ups and
requests for a person from many customers. Without --redis a private redis-server is started on a free
port, so the command counts are this bench's alone. Keys use a private prefix removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redis.asyncio import Redis  # noqa: E402
from redis.asyncio.connection import AbstractConnection  # noqa: E402

from bot.app import Helpline  # noqa: E402
from bot.settings import Settings  # noqa: E402
from router.lanes import append as append_to_lane  # noqa: E402
from router.messages import InboundMessage, Sender, inbox_fields, new_id  # noqa: E402

TEXTS = ["How long does delivery take?", "Πώς αλλάζω τον κωδικό μου;", "Cik ilgi notiek piegāde?",
         "can i still send it back after 3 weeks", "I want to talk to a human", "no", "yes",
         "my parcel arrived broken and the box was wet"]
FAQ_TEXT = "How long does delivery take?"
SECOND_FAQ_TEXT = "can i still send it back after 3 weeks"
HANDOFF_TEXT = "I want to talk to a human"
PATHS = ("mix", "faq-new", "faq-existing", "handoff")
WORKER_CLIENT = "bench-worker"  # connections of the workers' clients carry this name: their trips are counted
POLL_COMMAND = "TYPE"  # the bench's own polling of done markers uses a command the router never sends


@dataclass
class Result:
    path: str
    messages: int
    workers: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    trips: float
    commands: float
    cpu_ms: float
    commandstats: dict[str, float]
    profile: str = ""


class _TripCounter:
    """Counts requests written by the workers' connections: one per command sent alone, one per pipeline."""

    def __init__(self) -> None:
        self.count = 0
        self._original = AbstractConnection.send_packed_command

    @contextmanager
    def installed(self) -> Iterator[None]:
        original, counter = self._original, self

        async def counting(conn: AbstractConnection, command: object, check_health: bool = True) -> None:
            if conn.client_name == WORKER_CLIENT:
                counter.count += 1
            await original(conn, command, check_health)  # type: ignore[arg-type]

        AbstractConnection.send_packed_command = counting  # type: ignore[assignment,method-assign]
        try:
            yield
        finally:
            AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


@contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of this bench alone (no persistence), on a port the OS picked as free."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="hlbench-redis-")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", folder], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _texts(path: str, messages: int, customers: int) -> list[tuple[str, str]]:
    if path == "mix":
        return [(f"c{index % customers}", TEXTS[(index // customers) % len(TEXTS)]) for index in range(messages)]
    text = {"faq-new": FAQ_TEXT, "faq-existing": SECOND_FAQ_TEXT, "handoff": HANDOFF_TEXT}[path]
    return [(f"c{index}", text) for index in range(messages)]


async def _post(helpline: Helpline, customer: str, text: str) -> str:
    message = InboundMessage(id=new_id(), channel="console", address=customer, sender=Sender(customer, customer),
                             text=text, received_at=time.time())
    return await append_to_lane(helpline.redis, helpline.keys.inbox, f"console:{customer}", inbox_fields(message))


async def _command_stats(redis: Redis) -> dict[str, int]:
    info = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in info.items()}


async def run(messages: int, workers: int, url: str, path: str = "mix", profile: bool = False) -> Result:
    prefix = f"hlbench:{uuid.uuid4().hex[:8]}:"
    settings = Settings.model_validate({
        "redis": {"url": url, "prefix": prefix},
        "faq": {"path": str(REPO / "config" / "faq")},
        "teams": {"support": {}, "billing": {}},
        "router": {"messages_path": str(REPO / "config" / "messages")},
    })
    helplines = [Helpline(settings, redis=Redis.from_url(url, decode_responses=True, client_name=WORKER_CLIENT))
                 for _ in range(workers)]
    for helpline in helplines:
        helpline.knowledge_base  # noqa: B018 - load before timing
    control = Redis.from_url(url, decode_responses=True)
    main = helplines[0]
    customers = messages if path != "mix" else max(1, messages // 8)
    if path == "faq-existing":  # the conversations exist, with one question answered: not measured
        for customer, _ in _texts(path, messages, customers):
            await _post(main, customer, FAQ_TEXT)
        warm = main.router_workers(1, tag="warm")[0]
        while await warm.drain():
            pass
    posted: dict[str, float] = {}
    for customer, text in _texts(path, messages, customers):
        posted[await _post(main, customer, text)] = time.perf_counter()
    before = await _command_stats(control)
    counter = _TripCounter()
    stop = asyncio.Event()
    profiler = cProfile.Profile() if profile else None
    with counter.installed():
        pool = [helpline.router_workers(1, tag=f"bench{index}", block_ms=20)[0]
                for index, helpline in enumerate(helplines)]
        cpu, started = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        tasks = [asyncio.create_task(worker.run(stop)) for worker in pool]
        latencies: list[float] = []
        pending = dict(posted)
        while pending:
            await asyncio.sleep(0.02)
            async with control.pipeline(transaction=False) as pipe:
                ids = list(pending)[:200]  # the oldest first: a later one is rarely done before them
                for entry_id in ids:
                    pipe.type(main.keys.done(entry_id))
                done = await pipe.execute()
            now = time.perf_counter()
            for entry_id, kind in zip(ids, done):
                if kind != "none":
                    latencies.append(now - pending.pop(entry_id))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
        trips = counter.count
        stop.set()
        await asyncio.gather(*tasks)
    after = await _command_stats(control)
    stats = {name: (calls - before.get(name, 0)) / messages for name, calls in after.items()
             if name not in (POLL_COMMAND.lower(), "info") and calls > before.get(name, 0)}
    keys = [key async for key in control.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 500):
        await control.delete(*keys[start:start + 500])
    for helpline in helplines:
        await helpline.close()
    await control.aclose()
    text = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        text = out.getvalue()
    latencies.sort()
    return Result(path, messages, workers, elapsed, messages / elapsed, statistics.median(latencies) * 1000,
                  latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, trips / messages,
                  sum(stats.values()), cpu * 1000 / messages, stats, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--path", nargs="+", choices=PATHS, default=["mix"])
    parser.add_argument("--redis", default="", help="default: a private redis-server on a free port")
    parser.add_argument("--commandstats", action="store_true", help="print Redis commands per message by name")
    parser.add_argument("--profile", action="store_true", help="print a cProfile top-20 of the run")
    args = parser.parse_args()
    print(f"{'path':>12} {'workers':>7} {'messages':>8} {'seconds':>8} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'trips/msg':>9} {'cmds/msg':>8} {'CPU ms/msg':>10}")
    print("(latency: posted all at once, so it includes waiting behind the others; CPU: the whole process)")
    with contextlib_nullable(args.redis) as url:
        for path in args.path:
            for workers in args.workers:
                result = asyncio.run(run(args.messages, workers, url, path, args.profile))
                print(f"{path:>12} {workers:>7} {result.messages:>8} {result.seconds:>8.2f} {result.per_second:>8.0f} "
                      f"{result.p50_ms:>8.1f} {result.p99_ms:>8.1f} {result.trips:>9.2f} {result.commands:>8.2f} "
                      f"{result.cpu_ms:>10.2f}")
                if args.commandstats:
                    print("    " + " ".join(f"{name}={calls:.2f}" for name, calls in
                                            sorted(result.commandstats.items(), key=lambda item: -item[1])))
                if result.profile:
                    print(result.profile)


@contextmanager
def contextlib_nullable(url: str) -> Iterator[str]:
    if url:
        yield url
        return
    with private_redis() as private:
        yield private


if __name__ == "__main__":
    main()
