"""The supervised receive loop every channel receives through: back-off, stop, health, admin alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from channels.base import ChannelContext, ReceiveLoop, RetryAfter, Supervision, Watched

WATCHED = Watched(subject="The test platform", while_down="Nothing is being received.", on_recovery="receiving again.")


class Platform:
    """A session that fails while `down` is set (with `error`), and counts its rounds."""

    def __init__(self, down: bool = True, error: BaseException | None = None) -> None:
        self.down = down
        self.error = error or ConnectionRefusedError("connection refused")
        self.rounds = 0

    async def session(self) -> None:
        self.rounds += 1
        await asyncio.sleep(0.01)
        if self.down:
            raise self.error


def context(redis: Redis, prefix: str, alerts: list[str]) -> ChannelContext:
    async def alert(text: str) -> None:
        alerts.append(text)

    async def submit(message: Any) -> None:
        raise AssertionError("nothing is submitted here")

    return ChannelContext(submit=submit, redis=redis, key=lambda name: f"{prefix}{name}", alert=alert)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return result


async def events(redis: Redis, prefix: str) -> list[dict[str, str]]:
    return [fields for _, fields in await redis.xrange(f"{prefix}events")]


async def test_down_too_long_alerts_once_and_recovery_alerts_again(redis: Redis, prefix: str) -> None:
    alerts: list[str] = []
    stop = asyncio.Event()
    platform = Platform()
    loop = ReceiveLoop("test", context(redis, prefix, alerts), WATCHED,
                       Supervision(first_delay=0.02, max_delay=0.05, alert_after=0.3), stop)
    task = asyncio.create_task(loop.run(platform.session))
    try:
        await eventually(lambda: platform.rounds >= 2)
        assert loop.health()["status"] == "connecting"  # down, but not for long yet
        await eventually(lambda: loop.health()["status"] == "unreachable")
        rounds = platform.rounds
        await eventually(lambda: platform.rounds >= rounds + 3)  # still retrying, not alerting again
        assert len(alerts) == 1 and "The test platform has been unreachable" in alerts[0]
        assert "ConnectionRefusedError: connection refused" in alerts[0] and "Nothing is being received." in alerts[0]
        health = loop.health()
        assert health["last_error"] == "ConnectionRefusedError: connection refused" and health["down_seconds"] > 0
        platform.down = False
        await eventually(lambda: loop.health()["status"] == "ok")
        await eventually(lambda: len(alerts) == 2)
        assert "reachable again" in alerts[1]
        assert [e["type"] for e in await events(redis, prefix)] == ["channel_unreachable", "channel_recovered"]
        assert loop.health()["last_error"] == "" and loop.health()["down_since"] is None
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_short_outage_is_not_alerted(redis: Redis, prefix: str) -> None:
    alerts: list[str] = []
    stop = asyncio.Event()
    platform = Platform()
    loop = ReceiveLoop("test", context(redis, prefix, alerts), WATCHED,
                       Supervision(first_delay=0.01, max_delay=0.02, alert_after=600), stop)
    task = asyncio.create_task(loop.run(platform.session))
    try:
        await eventually(lambda: platform.rounds >= 3)
        platform.down = False
        await eventually(lambda: loop.health()["status"] == "ok")
        assert alerts == [] and await events(redis, prefix) == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_the_alert_comes_on_time_even_during_a_long_back_off(redis: Redis, prefix: str) -> None:
    alerts: list[str] = []
    stop = asyncio.Event()
    platform = Platform()
    # The first retry is a minute away; the alert is due after 0.2 s.
    loop = ReceiveLoop("test", context(redis, prefix, alerts), WATCHED,
                       Supervision(first_delay=60, max_delay=60, alert_after=0.2), stop)
    task = asyncio.create_task(loop.run(platform.session))
    try:
        await eventually(lambda: alerts)
        assert platform.rounds == 1 and loop.health()["status"] == "unreachable"
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)  # the minute's wait ends at once on stop


async def test_stop_ends_a_back_off_at_once(redis: Redis, prefix: str) -> None:
    stop = asyncio.Event()
    platform = Platform(error=RetryAfter(3600))
    loop = ReceiveLoop("test", context(redis, prefix, []), WATCHED, Supervision(first_delay=3600), stop)
    task = asyncio.create_task(loop.run(platform.session))
    await eventually(lambda: platform.rounds == 1 and loop.failures == 1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert platform.rounds == 1 and not loop.health()["connected"]


async def test_an_unexpected_error_does_not_end_receiving(redis: Redis, prefix: str) -> None:
    stop = asyncio.Event()
    calls: list[int] = []

    async def session() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug in a converter")
        await asyncio.sleep(0.01)

    loop = ReceiveLoop("test", context(redis, prefix, []), WATCHED, Supervision(first_delay=0.01), stop)
    task = asyncio.create_task(loop.run(session))
    try:
        await eventually(lambda: len(calls) >= 3)
        assert loop.health()["status"] == "ok"
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_errors_are_described_by_the_channel(redis: Redis, prefix: str) -> None:
    """A channel whose errors may carry a secret (a bot token in a URL) describes them itself."""
    alerts: list[str] = []
    stop = asyncio.Event()
    platform = Platform(error=OSError("POST https://api.example/bot123:SECRET/getUpdates failed"))
    loop = ReceiveLoop("test", context(redis, prefix, alerts), WATCHED, Supervision(first_delay=0.01, alert_after=0.05),
                       stop, describe=lambda error: str(error).replace("123:SECRET", "<token>"))
    task = asyncio.create_task(loop.run(platform.session))
    try:
        await eventually(lambda: alerts)
        assert "SECRET" not in alerts[0] and "<token>" in alerts[0]
        assert "SECRET" not in loop.health()["last_error"]
        assert all("SECRET" not in value for event in await events(redis, prefix) for value in event.values())
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
