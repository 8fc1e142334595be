"""The desk sender (`hl:outbox:desk`) gets the customer senders' treatment (bot/outbox.py): a notice
shown is not shown again when Redis fails at the mark, nor by a second sender while the first still
works on it; temporary failures are retried, then dead-lettered where `dead-letters retry` puts them back."""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app import Helpline
from channels.base import Route, TemporaryDeliveryError
from router.dead_letters import list_dead_letters
from router.keys import DESK_GROUP
from router.lanes import append
from router.messages import DeskEvent, DeskEventKind, OutboundMessage, new_id, to_json
from tests.conftest import make_settings
from tests.redis_server import PrivateRedis


class RecordingDesk:
    """A desk that records what it shows; `gate` holds a show, `failures` make it fail."""

    name = "slack"

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.failures: list[Exception] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def routes(self) -> list[Route]:
        return []

    async def deliver(self, message: OutboundMessage) -> str | None:
        raise AssertionError("the desk worker shows events; it never delivers customer messages")

    async def show(self, event: DeskEvent) -> None:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures[0]
        self.shown.append(event.text)


def event(text: str, case: int = 7) -> DeskEvent:
    return DeskEvent(id=new_id(), kind=DeskEventKind.CUSTOMER_MESSAGE, case=case, team="support", text=text)


async def queue(helpline: Helpline, desk_event: DeskEvent) -> str:
    return await append(helpline.redis, helpline.keys.desk, f"case:{desk_event.case}", {"data": to_json(desk_event)})


async def test_a_shown_event_is_not_shown_again_when_redis_fails_at_the_mark(
        private_redis: PrivateRedis, prefix: str) -> None:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    helpline = Helpline(make_settings(prefix), redis=client)
    desk = RecordingDesk()
    worker = helpline.desk_worker(desk, block_ms=10)
    shown = event("the customer wrote")
    await queue(helpline, shown)
    restarted = asyncio.Event()
    real_show = desk.show

    async def show_then_lose_redis(desk_event: DeskEvent) -> None:
        await real_show(desk_event)
        await asyncio.to_thread(private_redis.stop)  # Slack has it; now Redis goes away before the mark

        async def back_later() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(private_redis.start)
            restarted.set()

        asyncio.get_running_loop().create_task(back_later())

    desk.show = show_then_lose_redis  # type: ignore[method-assign]
    try:
        with contextlib.suppress(RedisConnectionError, OSError):
            await worker.drain()
        await restarted.wait()
        desk.show = real_show  # type: ignore[method-assign]
        # What is still pending is handled again, as a reclaim after a crash would.
        for entry_id, fields in await client.xrange(helpline.keys.desk):
            await worker._process(entry_id, fields)
        assert desk.shown == ["the customer wrote"]
        assert await client.exists(helpline.keys.sent("desk", shown.id))
    finally:
        await client.aclose()


async def test_a_second_desk_sender_leaves_an_event_the_first_is_still_showing(redis: Redis, prefix: str) -> None:
    helpline = Helpline(make_settings(prefix), redis=redis)
    first_desk, second_desk = RecordingDesk(), RecordingDesk()
    first_desk.gate = asyncio.Event()
    first = helpline.desk_worker(first_desk, block_ms=10)
    second = Helpline(make_settings(prefix), redis=redis).desk_worker(second_desk, block_ms=10)
    second.name += "-other-process"  # one process here: the second sender needs names of its own
    second.handler.owner += "-other-process"  # type: ignore[attr-defined]
    entry = await queue(helpline, event("only once"))
    running = asyncio.create_task(first.drain())
    await asyncio.wait_for(first_desk.started.wait(), 10)
    # The first sender is stalled mid-show; another one takes the entry over anyway.
    ((_, fields),) = await redis.xclaim(helpline.keys.desk, DESK_GROUP, second.name, min_idle_time=0,
                                        message_ids=[entry])
    await second._process(entry, fields)
    assert second_desk.started.is_set() is False
    first_desk.gate.set()
    await asyncio.wait_for(running, 10)
    await second._process(entry, fields)  # after the first finished: the mark says it was shown
    assert first_desk.shown == ["only once"] and second_desk.shown == []


async def test_a_desk_that_keeps_failing_is_retried_for_retry_for_then_dead_lettered(
        redis: Redis, prefix: str) -> None:
    base = make_settings(prefix)
    settings = base.model_dump(mode="json")
    settings["redis"]["url"] = base.redis.url.get_secret_value()  # a dump masks the secret
    settings["channels"] = {**settings.get("channels", {}), "slack": {**settings["channels"].get("slack", {}),
                                                                      "retry_for": 1.5}}
    from bot.settings import Settings

    helpline = Helpline(Settings.model_validate(settings), redis=redis)
    desk = RecordingDesk()
    desk.failures = [TemporaryDeliveryError("Slack: 503")]
    worker = helpline.desk_worker(desk, block_ms=10)
    await queue(helpline, event("notice"))
    await asyncio.wait_for(worker.drain(), 30)
    letters = await list_dead_letters(redis, helpline.keys)
    assert len(letters) == 1 and letters[0].stream == helpline.keys.desk and "retry_for" in letters[0].reason
    assert desk.shown == []
