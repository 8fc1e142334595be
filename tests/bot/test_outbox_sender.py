"""The outbox sender: sent once even when Redis fails at the mark or another sender reclaims the entry,
temporary failures retried for `channels.<x>.retry_for` and then dead-lettered, retries cut short
at a stop, dead letters put back and sent."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.app import Helpline
from bot.outbox import OutboxSender
from bot.settings import Settings
from channels.base import RetryAfter, Route, TemporaryDeliveryError
from router.dead_letters import list_dead_letters, retry_dead_letter
from router.keys import OUTBOX_GROUP
from router.lanes import append
from router.messages import OutboundMessage, new_id, to_json
from tests.conftest import make_settings
from tests.redis_server import PrivateRedis


class RecordingChannel:
    """A console-named channel that records each message it delivers; `before_send` can make it misbehave."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.calls = 0
        self.failures: list[Exception] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def routes(self) -> list[Route]:
        return []

    async def deliver(self, message: OutboundMessage) -> str | None:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0) if len(self.failures) > 1 else self.failures[0]
        self.sent.append(message.text)
        return f"p{len(self.sent)}"


def outbound(text: str, address: str = "chat-1") -> OutboundMessage:
    return OutboundMessage(id=new_id(), channel="console", address=address, text=text, conversation=address)


async def queue(helpline: Helpline, message: OutboundMessage) -> str:
    return await append(helpline.redis, helpline.keys.outbox("console"), message.conversation,
                        {"data": to_json(message)})


async def test_a_sent_message_is_not_sent_again_when_redis_fails_at_the_mark(
        private_redis: PrivateRedis, prefix: str) -> None:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    helpline = Helpline(make_settings(prefix), redis=client)
    channel = RecordingChannel()
    sender = helpline.channel_sender(channel, block_ms=10)
    message = outbound("your answer")
    await queue(helpline, message)
    restarted = asyncio.Event()

    real_deliver = channel.deliver

    async def deliver_then_lose_redis(sent: OutboundMessage) -> str | None:
        platform_id = await real_deliver(sent)
        await asyncio.to_thread(private_redis.stop)  # the platform took it; now Redis goes away

        async def back_later() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(private_redis.start)
            restarted.set()

        asyncio.get_running_loop().create_task(back_later())
        return platform_id

    channel.deliver = deliver_then_lose_redis  # type: ignore[method-assign]
    try:
        with contextlib.suppress(RedisConnectionError, OSError):  # a sender that lets the failed mark escape
            await sender.drain()
        await restarted.wait()
        channel.deliver = real_deliver  # type: ignore[method-assign]
        # Whatever is still pending is handled again, as a reclaim after a crash would.
        for entry_id, fields in await client.xrange(helpline.keys.outbox("console")):
            await sender._process(entry_id, fields)
        assert channel.sent == ["your answer"]
        assert await client.get(helpline.keys.sent("console", message.id)) == "p1"
    finally:
        await client.aclose()


async def test_a_message_another_live_sender_is_sending_is_left_to_it(helpline: Helpline, settings: Settings) -> None:
    first_channel, second_channel = RecordingChannel(), RecordingChannel()
    first_channel.gate = asyncio.Event()
    first = helpline.channel_sender(first_channel, block_ms=10)
    second = Helpline(settings, redis=helpline.redis).channel_sender(second_channel, block_ms=10)
    second.name += "-other-process"
    if hasattr(second.handler, "owner"):  # one process here: the second sender needs an owner name of its own
        second.handler.owner += "-other-process"
    entry = await queue(helpline, outbound("only once"))
    outbox = helpline.keys.outbox("console")

    draining = asyncio.create_task(first.drain())
    await first_channel.started.wait()
    # The first sender is stalled mid-send; another one takes the entry over anyway.
    ((_, fields),) = await helpline.redis.xclaim(outbox, OUTBOX_GROUP, second.name, min_idle_time=0,
                                                 message_ids=[entry])
    await second._process(entry, fields)
    assert second_channel.calls == 0
    first_channel.gate.set()
    await draining
    await second._process(entry, fields)  # and once more after the first one finished
    assert first_channel.sent == ["only once"] and second_channel.calls == 0


@pytest.fixture
def retrying_settings(prefix: str) -> Settings:
    settings = make_settings(prefix)
    channels = settings.channels.model_copy(update={"console": settings.channels.console.model_copy(
        update={"retry_for": 0.6})})
    return settings.model_copy(update={"channels": channels})


async def test_temporary_failures_are_retried_for_retry_for_then_dead_lettered_and_can_be_put_back(
        retrying_settings: Settings, redis: Redis) -> None:
    helpline = Helpline(retrying_settings, redis=redis)
    channel = RecordingChannel()
    channel.failures = [TemporaryDeliveryError("502 Bad Gateway")]  # for good, until cleared
    sender = helpline.channel_sender(channel, block_ms=10)
    message = outbound("try and try again")
    await queue(helpline, message)
    await sender.drain()
    assert channel.calls >= 2 and channel.sent == []
    (letter,) = await list_dead_letters(redis, helpline.keys)
    assert "502 Bad Gateway" in letter.reason and "0.6" in letter.reason
    assert letter.stream == helpline.keys.outbox("console")
    assert await redis.get(helpline.keys.sent("console", message.id)) == "failed"
    assert (await redis.xpending(helpline.keys.outbox("console"), OUTBOX_GROUP))["pending"] == 0

    channel.failures = []  # the platform is back
    stream, _new_id = await retry_dead_letter(redis, helpline.keys, letter.id)
    assert stream == helpline.keys.outbox("console")
    await sender.drain()
    assert channel.sent == ["try and try again"]
    assert await list_dead_letters(redis, helpline.keys) == []
    assert await redis.get(helpline.keys.sent("console", message.id)) == "p1"


def test_retry_for_defaults_to_an_hour_and_takes_durations(prefix: str) -> None:
    assert make_settings(prefix).channels.telegram.retry_for == 3600
    settings = Settings.model_validate({"channels": {"telegram": {"retry_for": "30m"}, "email": {"retry_for": "2h"},
                                                     "slack": {"retry_for": 90}, "console": {"retry_for": "1d"}}})
    assert settings.channels.telegram.retry_for == 1800 and settings.channels.email.retry_for == 7200
    assert settings.channels.slack.retry_for == 90 and settings.channels.console.retry_for == 86400
    with pytest.raises(ValueError, match="retry_for"):
        Settings.model_validate({"channels": {"telegram": {"retry_for": "soon"}}})


async def test_a_stop_cuts_a_long_retry_short_and_leaves_the_entry_for_the_next_sender(
        helpline: Helpline) -> None:
    channel = RecordingChannel()
    channel.failures = [RetryAfter(120)]  # "come back in two minutes", for good
    sender = helpline.channel_sender(channel, block_ms=10)
    message = outbound("later")
    await queue(helpline, message)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await channel.started.wait()
    stop.set()
    await asyncio.wait_for(task, timeout=20)  # returns: it does not sit out the two minutes
    outbox = helpline.keys.outbox("console")
    assert (await helpline.redis.xpending(outbox, OUTBOX_GROUP))["pending"] == 1
    assert await helpline.redis.exists(helpline.keys.sending("console", message.id)) == 0
    assert await helpline.redis.exists(helpline.keys.sent("console", message.id)) == 0
    assert await list_dead_letters(helpline.redis, helpline.keys) == []


async def test_a_sender_whose_lease_lapsed_while_waiting_to_retry_leaves_the_message(
        helpline: Helpline) -> None:
    """A process stalled longer than the lease (its lease lapsed, another sender took the message) must
    not send it as well when its retry comes."""
    from router.worker import LeavePending

    channel = RecordingChannel()
    channel.failures = [TemporaryDeliveryError("Telegram: 502"), TemporaryDeliveryError("Telegram: 502")]
    worker = helpline.channel_sender(channel, block_ms=10)
    sender = worker.handler
    message = outbound("once")
    entry = await queue(helpline, message)
    lease = helpline.keys.sending("console", message.id)

    async def stalled_past_the_lease(seconds: float) -> None:
        channel.failures = []
        await helpline.redis.set(lease, "another-process:send-console", px=60_000)  # it took the message

    sender._sleep = stalled_past_the_lease  # type: ignore[attr-defined]
    ((_, fields),) = await helpline.redis.xrange(helpline.keys.outbox("console"), entry, entry)
    with pytest.raises(LeavePending):
        await sender(entry, fields)
    assert channel.calls == 1 and channel.sent == []  # the first, failed try only
    assert await helpline.redis.get(lease) == "another-process:send-console"


async def test_the_mark_and_the_acknowledgement_go_in_one_transaction(private_redis: PrivateRedis,
                                                                       prefix: str) -> None:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    helpline = Helpline(make_settings(prefix), redis=client)
    channel = RecordingChannel()
    sender = helpline.channel_sender(channel, block_ms=10)
    for index in range(5):
        await queue(helpline, outbound(f"answer {index}", address=f"chat-{index % 2}"))
    await client.config_resetstat()
    await sender.drain()
    assert sorted(channel.sent) == [f"answer {index}" for index in range(5)]
    stats = await client.info("commandstats")
    # One MULTI/EXEC per message (mark, lease, XACK, lane), not a second one for the acknowledgement.
    assert stats["cmdstat_multi"]["calls"] == 5, stats
    assert (await client.xpending(helpline.keys.outbox("console"), OUTBOX_GROUP))["pending"] == 0
    assert not [key async for key in client.scan_iter(match=f"{prefix}outbox:console:lane:*")]
    await client.aclose()


async def test_messages_sent_side_by_side_share_a_connection(private_redis: PrivateRedis, prefix: str) -> None:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    helpline = Helpline(make_settings(prefix), redis=client)
    channel = RecordingChannel()
    sender = helpline.channel_sender(channel, block_ms=10)
    for index in range(20):  # twenty conversations: twenty sends at once
        await queue(helpline, outbound(f"answer {index}", address=f"chat-{index}"))
    pool = client.connection_pool
    try:
        await sender.drain()
        assert sorted(channel.sent) == sorted(f"answer {index}" for index in range(20))
        # Their leases and marks go out in shared round trips: the pool did not grow by a connection a send.
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 3
    finally:
        await client.aclose()


async def test_a_transaction_in_a_round_writes_nothing_when_a_command_is_refused(helpline: Helpline,
                                                                                  redis: Redis) -> None:
    sender = OutboxSender(redis, helpline.keys, RecordingChannel(), "sender")  # type: ignore[arg-type]
    key = helpline.keys.sent("console", "refused")
    with pytest.raises(ResponseError):
        await sender._transaction_in_round([("SET", key, "1"), ("SET", key)])  # SET without a value
    assert await redis.exists(key) == 0
    # A command failing when it runs (a stream command on a string) is raised too, as EXEC reports it.
    await redis.set(key, "text")
    with pytest.raises(ResponseError, match="#2"):
        await sender._transaction_in_round([("SET", key + ":other", "1"), ("XADD", key, "*", "a", "b")])
    assert await sender._transaction_in_round([("DEL", key + ":other")]) == [1]
