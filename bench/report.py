"""How long `build_report` takes on a busy week: N conversations (a third answered by the bot, the rest
cases with a claim, replies, deliveries, a resolve and a rating), 20 agents, 4 teams, 4 channels, in
a throwaway prefix of the local Redis. Prints events written, the report's time and its figures' sizes.

    .venv/bin/python bench/report.py [--conversations 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # before bench/, whose router.py is no package

from redis.asyncio import Redis  # noqa: E402

from router.keys import Keys  # noqa: E402
from router.report import ReportQuery, build_report  # noqa: E402

CHANNELS, TEAMS, LANGUAGES = ("telegram", "slack", "email", "console"), ("support", "billing", "tech", "sales"), \
    ("en", "el", "lv", "hu")


def history(conversations: int, start: float, span: float) -> list[tuple[float, dict[str, str]]]:
    rng = random.Random(7)
    out: list[tuple[float, dict[str, str]]] = []

    def add(at: float, kind: str, **fields: object) -> None:
        out.append((at, {"type": kind, "at": repr(at), **{k: str(v) for k, v in fields.items()}}))

    for n in range(conversations):
        at = start + rng.random() * span
        cid, channel, language = f"c{n}", rng.choice(CHANNELS), rng.choice(LANGUAGES)
        add(at, "message_in", conversation=cid, channel=channel, language=language)
        entry = f"entry-{rng.randrange(60)}"
        if n % 3 == 0:
            add(at, "faq_match", conversation=cid, decision="answer", faq_entry=entry, question="q")
            add(at, "bot_answer", conversation=cid, faq_entry=entry)
            continue
        case, team, agent = 1000 + n, rng.choice(TEAMS), f"agent{rng.randrange(20)}"
        add(at, "no_match", conversation=cid, question=f"question about thing {rng.randrange(300)}",
            language=language)
        add(at, "case_opened", case=case, conversation=cid, team=team, channel=channel, language=language)
        at += rng.expovariate(1 / 600)
        add(at, "case_claimed", case=case, agent=agent, team=team)
        at += rng.expovariate(1 / 120)
        add(at, "agent_reply", case=case, agent=agent)
        add(at + 1, "message_delivered", case=case, conversation=cid, author="agent", channel=channel)
        at += rng.expovariate(1 / 1800)
        add(at, "case_resolved", case=case, agent=agent, team=team)
        add(at + 60, "case_rated", case=case, conversation=cid, csat=rng.randint(1, 5), agent=agent)
    out.sort(key=lambda pair: pair[0])
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=5000)
    args = parser.parse_args()
    redis = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    keys = Keys(f"hlbench:{uuid.uuid4().hex[:8]}:")
    until = time.time()
    since = until - 7 * 86400
    try:
        events = history(args.conversations, since, 7 * 86400 - 7200)
        async with redis.pipeline(transaction=False) as pipe:
            for at, fields in events:
                pipe.xadd(keys.events, fields, id=f"{int(at * 1000)}-*")
            await pipe.execute()
        for bucket in (86400, 3600):
            started = time.perf_counter()
            report = await build_report(redis, keys, ReportQuery(since=since, until=until, bucket_seconds=bucket))
            took = time.perf_counter() - started
            body = report.to_json()
            print(f"{len(events)} events, buckets of {bucket} s: build_report {took:.2f} s "
                  f"({body['conversations']} conversations, {len(body['by_agent'])} agents, "
                  f"{len(body['top_gaps'])} gaps)")
    finally:
        await redis.delete(keys.events)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
