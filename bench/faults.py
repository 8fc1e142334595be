"""Fault figures: customers on a loopback Telegram Bot API, `helpline run` in 2 processes, a private Redis
(`appendonly yes`), while processes are killed, Redis restarts and the Bot API misbehaves.

Usage: python bench/faults.py [--scale 1.0] [--only NAME] [--folder DIR]
Prints per scenario: sent, received, lost (must be 0), delivered twice, out of order within a
conversation, worst and p99 delay from the customer's message to its answer reaching the peer.
At scale 1 the five scenarios send 3,000 messages each (15,000 in all); --scale 0.2 is a quick look.
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
    messages = max(90, int(3000 * scale))
    conversations = -(-messages // 9)

    def spread(count: int, first: float, last: float) -> list[float]:
        return [first + (last - first) * index / max(count - 1, 1) for index in range(count)]

    length = messages / 50.0  # seconds of customers writing, at 50 messages a second
    return [
        Scenario("kill -9 of a process, 5 times", messages, conversations, rate=50,
                 faults=[Fault(at, "kill", index % 2) for index, at in enumerate(spread(5, 3, length * 0.8))]),
        Scenario("Redis restarted twice", messages, conversations, rate=50,
                 faults=[Fault(at, "restart_redis", 2.0) for at in spread(2, length * 0.3, length * 0.7)]),
        Scenario("Bot API 429 for 15 s, 500 for 25 s, hanging 30 s", messages, conversations, rate=50,
                 faults=[Fault(length * 0.1, "peer:429", 15), Fault(length * 0.1 + 16, "peer:500", 25),
                         Fault(length * 0.1 + 42, "peer:hang", 30)], settle_seconds=240),
        Scenario("Bot API hanging 75 s with 2 senders", messages, conversations, rate=50,
                 faults=[Fault(length * 0.2, "peer:hang", 75)], settle_seconds=240),
        Scenario("connections dropped 20 s, receivers restarted 3 times", messages, conversations, rate=50,
                 faults=[Fault(length * 0.2, "peer:drop", 20),
                         *[Fault(at, "restart_process", index % 2)
                           for index, at in enumerate(spread(3, length * 0.3, length * 0.9))]]),
    ]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 3,000 messages per scenario")
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
