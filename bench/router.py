"""Router throughput and latency through real Redis streams.

Usage: python bench/router.py [--messages 2000] [--workers 1 2 4] [--redis redis://127.0.0.1:6379/0]

Each run posts customer messages (FAQ questions, follow-ups and requests for a person, from many
customers) to the inbox, lets N router workers (each with its own Redis connection, in this process)
work them off, and prints messages per second and the time from XADD to "effects written".
Keys use a private prefix that is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redis.asyncio import Redis  # noqa: E402

from bot.app import Helpline  # noqa: E402
from bot.settings import Settings  # noqa: E402
from router.messages import InboundMessage, Sender, inbox_fields, new_id  # noqa: E402

TEXTS = ["How long does delivery take?", "Πώς αλλάζω τον κωδικό μου;", "Cik ilgi notiek piegāde?",
         "can i still send it back after 3 weeks", "I want to talk to a human", "no", "yes",
         "my parcel arrived broken and the box was wet"]


async def run(messages: int, workers: int, url: str) -> dict[str, float]:
    prefix = f"hlbench:{uuid.uuid4().hex[:8]}:"
    settings = Settings.model_validate({
        "redis": {"url": url, "prefix": prefix},
        "faq": {"path": str(REPO / "config" / "faq")},
        "teams": {"support": {}, "billing": {}},
        "router": {"messages_path": str(REPO / "config" / "messages")},
    })
    helplines = [Helpline(settings, redis=Redis.from_url(url, decode_responses=True)) for _ in range(workers)]
    for helpline in helplines:
        helpline.knowledge_base  # noqa: B018 - load before timing
    main = helplines[0]
    stop = asyncio.Event()
    pool = [helpline.router_workers(1, tag=f"bench{index}", block_ms=20)[0] for index, helpline in enumerate(helplines)]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in pool]
    customers = max(1, messages // 8)
    posted: dict[str, float] = {}
    started = time.perf_counter()
    for index in range(messages):
        customer = f"c{index % customers}"
        message = InboundMessage(id=new_id(), channel="console", address=customer, sender=Sender(customer, customer),
                                 text=TEXTS[(index // customers) % len(TEXTS)], received_at=time.time())
        entry_id = await main.redis.xadd(main.keys.inbox, inbox_fields(message))
        posted[entry_id] = time.perf_counter()
    latencies: list[float] = []
    pending = dict(posted)
    while pending:
        async with main.redis.pipeline(transaction=False) as pipe:
            ids = list(pending)[:500]
            for entry_id in ids:
                pipe.exists(main.keys.done(entry_id))
            done = await pipe.execute()
        now = time.perf_counter()
        for entry_id, finished in zip(ids, done):
            if finished:
                latencies.append(now - pending.pop(entry_id))
        if pending:
            await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    keys = [key async for key in main.redis.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 500):
        await main.redis.delete(*keys[start:start + 500])
    for helpline in helplines:
        await helpline.close()
    latencies.sort()
    return {"messages": messages, "workers": workers, "seconds": elapsed, "per_second": messages / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"{'workers':>7} {'messages':>8} {'seconds':>8} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    print("(latency: posted all at once, so it includes waiting behind the others)")
    for workers in args.workers:
        result = asyncio.run(run(args.messages, workers, args.redis))
        print(f"{workers:>7} {result['messages']:>8} {result['seconds']:>8.2f} {result['per_second']:>8.0f} "
              f"{result['p50_ms']:>8.1f} {result['p99_ms']:>8.1f}")


if __name__ == "__main__":
    main()
