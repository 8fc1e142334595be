"""Fault figures: customers on a loopback Telegram Bot API, `helpline run` in 2 processes, a private Redis
(`appendonly yes`), while processes are killed, Redis restarts and the Bot API misbehaves.

Usage: python bench/faults.py [--scale 1.0] [--only NAME] [--folder DIR]
Prints per scenario: sent, received, lost (must be 0), delivered twice, out of order within a
conversation, worst and p99 delay from the customer's message to its answer reaching the peer.
At scale 1 the six scenarios (a baseline without faults, then five with) send 10,000 messages each
over 1,112 conversations (60,000 in all, about 40 minutes on 2 cores); --scale 0.1 is a quick look.
Process 0 receives from Telegram (one poller, as Telegram allows); both run router workers and senders.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

from tests.faults.harness import HEADER, Fault, Scenario, run_scenario  # noqa: E402


def scenarios(scale: float) -> list[Scenario]:
    messages = max(90, int(10_000 * scale))
    conversations = -(-messages // 9)
    minute = 60.0 * min(1.0, max(scale, 0.1))  # "for minutes" at scale 1; shorter for a quick look

    def spread(count: int, first: float, last: float) -> list[float]:
        return [first + (last - first) * index / max(count - 1, 1) for index in range(count)]

    length = messages / 50.0  # seconds of customers writing, at 50 messages a second
    # Process 0 is the Telegram receiver (and works); process 1 only works: killing or restarting 0
    # restarts the receiver.
    return [
        # The delays of the others read against this one: what the machine manages without any fault.
        Scenario("no faults (baseline)", messages, conversations, rate=50),
        Scenario("kill -9 of a process, 6 times (3 of them the receiver)", messages, conversations, rate=50,
                 faults=[Fault(at, "kill", index % 2) for index, at in enumerate(spread(6, 3, length * 0.8))]),
        Scenario("Redis (appendonly yes) restarted 3 times", messages, conversations, rate=50,
                 faults=[Fault(at, "restart_redis", 3.0) for at in spread(3, length * 0.2, length * 0.8)]),
        Scenario(f"Bot API 429 for {minute:.0f} s, 500 for {minute:.0f} s, hanging {minute:.0f} s", messages,
                 conversations, rate=50,
                 faults=[Fault(length * 0.1, "peer:429", minute), Fault(length * 0.1 + minute + 1, "peer:500", minute),
                         Fault(length * 0.1 + 2 * minute + 2, "peer:hang", minute)], settle_seconds=300),
        Scenario(f"Bot API hanging {2 * minute:.0f} s with 2 senders", messages, conversations, rate=50,
                 faults=[Fault(length * 0.2, "peer:hang", 2 * minute)], settle_seconds=300),
        Scenario(f"connections dropped {minute:.0f} s, receiver restarted 3 times, worker process twice", messages,
                 conversations, rate=50,
                 faults=[Fault(length * 0.2, "peer:drop", minute),
                         *[Fault(at, "restart_process", 0) for at in spread(3, length * 0.3, length * 0.9)],
                         *[Fault(at, "restart_process", 1) for at in spread(2, length * 0.45, length * 0.75)]],
                 settle_seconds=240),
    ]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 10,000 messages per scenario")
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    parser.add_argument("--folder", type=Path, help="keep logs and Redis files here (default: a temporary folder)")
    args = parser.parse_args()
    chosen = [scenario for scenario in scenarios(args.scale) if not args.only or args.only in scenario.name]
    rows = []
    with tempfile.TemporaryDirectory(prefix="helpline-faults-") as temporary:
        folder = args.folder or Path(temporary)
        for index, scenario in enumerate(chosen):
            began = time.monotonic()
            figures = await run_scenario(scenario, folder / f"scenario-{index}",
                                         progress=lambda line: print(line, file=sys.stderr, flush=True))
            rows.append(figures.row())
            print(f"{scenario.name}: done in {time.monotonic() - began:.0f}s\n{figures.row()}", file=sys.stderr,
                  flush=True)
    print(HEADER)
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
