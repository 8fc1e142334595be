"""Helpline on Redis Sentinel: the master is killed (SIGKILL) while messages stream through two router
workers; the sentinels promote the replica, the workers reconnect, and every message is answered once.

The customer side acts as a channel receiver does: a message counts as accepted once Redis confirmed it
on a replica too (WAIT 1), else it is submitted again as a new inbox entry with the same platform id, as
a receiver that re-fetches an update would; the router drops such duplicates by platform id."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.app import Helpline
from bot.doctor import check_redis
from bot.settings import RedisSettings, Settings
from router.lanes import append
from router.messages import InboundMessage, OutboundMessage, Sender, from_json, inbox_fields, new_id
from tests.conftest import make_settings
from tests.redis_topology import SentinelGroup, needs_redis_server

MESSAGES = 60
ANSWER = "Delivery takes 2 to 4 working days."


def sentinel_settings(url: str) -> Settings:
    return make_settings("x:").model_copy(update={"redis": RedisSettings(url=SecretStr(url), prefix="hl:")})


async def submit_until_replicated(helpline: Helpline, address: str) -> int:
    """Submit one customer message until a replica has it too; returns how many submissions it took."""
    tries = 0
    while True:
        tries += 1
        message = InboundMessage(id=new_id(), channel="console", address=address, sender=Sender(id=address, name="Ann"),
                                 text="How long does delivery take?", received_at=time.time(), platform_id=address)
        try:
            await append(helpline.redis, helpline.keys.inbox, f"console:{address}", inbox_fields(message))
            if await helpline.redis.wait(1, 500) >= 1:
                return tries
        except (RedisConnectionError, OSError):
            pass
        except RedisError:
            pass  # e.g. a demoted master refusing writes: try again, the client asks the sentinels anew
        await asyncio.sleep(0.2)


async def old_master_back_once_replaced(group: SentinelGroup, old_port: int) -> None:
    """Once the sentinels name a new master, start the old one again: they make it a replica of the new
    one, so WAIT 1 can be met again (what an operator, or a restarting container, does)."""
    while await asyncio.to_thread(group.master_port) == old_port:
        await asyncio.sleep(0.2)
    await asyncio.to_thread(group.master.start)


async def answers(helpline: Helpline) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, fields in await helpline.redis.xrange(helpline.keys.outbox("console")):
        message = from_json(OutboundMessage, fields["data"])
        if message.text == ANSWER:
            counts[message.address] = counts.get(message.address, 0) + 1
    return counts


@needs_redis_server
async def test_every_message_is_answered_once_across_a_master_failover(tmp_path: Path) -> None:
    with SentinelGroup(tmp_path) as group:
        first_master = group.master_port()
        findings = await check_redis(sentinel_settings(group.url), timeout=5)
        assert "sentinel 127.0.0.1:" in findings[0].summary and "replica" not in str(findings), findings
        helpline = Helpline(sentinel_settings(group.url))
        workers = helpline.router_workers(2, tag="failover", block_ms=200)
        for worker in workers:
            worker.failure_pause = 0.2
        stop = asyncio.Event()
        running = [asyncio.create_task(worker.run(stop)) for worker in workers]
        addresses = [f"chat-{index}" for index in range(MESSAGES)]
        try:
            tries = []
            comeback: asyncio.Task[None] | None = None
            for index, address in enumerate(addresses):
                if index == MESSAGES // 3:
                    group.master.kill()  # mid-stream: entries read, some half-handled, none acknowledged yet
                    killed_at = time.monotonic()
                    comeback = asyncio.create_task(old_master_back_once_replaced(group, first_master))
                tries.append(await submit_until_replicated(helpline, address))
                await asyncio.sleep(0.02)
            assert comeback is not None
            await comeback
            assert group.master_port() != first_master, "the sentinels should have promoted the replica"
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                try:
                    counts = await answers(helpline)
                    if len(counts) == MESSAGES:
                        break
                except (RedisConnectionError, OSError):
                    pass
                await asyncio.sleep(0.2)
            counts = await answers(helpline)
            assert sorted(counts) == sorted(addresses), f"unanswered: {sorted(set(addresses) - set(counts))}"
            assert set(counts.values()) == {1}, {address: n for address, n in counts.items() if n != 1}
            assert sum(tries) >= MESSAGES  # (more than MESSAGES when some were submitted again)
            assert time.monotonic() - killed_at < 50
        finally:
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
            await helpline.close()
