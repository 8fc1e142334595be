"""Slack Socket Mode through the shared receive loop: health on /healthz and admin alerts when it is down."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from bot.app import Helpline
from channels.slack import create
from tests.slack.conftest import DM, EVE, TEAMS, event_body, message_event, slack_section
from tests.slack.fake_slack import Failure, FakeSlack


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return result


async def test_socket_mode_down_is_unreachable_and_alerted_then_recovers(fake: FakeSlack,
                                                                         desk_helpline: Helpline) -> None:
    alerts: list[str] = []

    async def alert(text: str) -> None:
        alerts.append(text)

    fake.fail("apps.connections.open", *[Failure(500, "internal_error")] * 1000)
    context = dataclasses.replace(desk_helpline.channel_context(), alert=alert)
    channel = create(slack_section(fake, unreachable_after_seconds=0.5), context, TEAMS)
    await channel.start()  # returns although Slack cannot be reached: receiving is retried, not fatal
    try:
        await eventually(lambda: channel.health()["status"] == "unreachable")
        await eventually(lambda: alerts)
        assert len(alerts) == 1 and "Slack (Socket Mode) has been unreachable" in alerts[0]
        assert "internal_error" in channel.health()["last_error"]
        fake.failures.clear()  # Slack is back
        await eventually(lambda: channel.health()["status"] == "ok")
        envelope = await fake.send_envelope("events_api", event_body(message_event(DM, EVE, "are you there?")))
        await fake.ack_of(envelope)
        await eventually(lambda: len(alerts) == 2)
        assert "reachable again" in alerts[1]
    finally:
        await channel.stop()


async def test_a_rejected_app_token_is_named_with_its_fix(fake: FakeSlack, desk_helpline: Helpline) -> None:
    channel = create(slack_section(fake, app_token="xapp-wrong"), desk_helpline.channel_context(), TEAMS)
    await channel.start()
    try:
        await eventually(lambda: channel.health()["failures"] >= 1)
        assert "check channels.slack.app_token" in channel.health()["last_error"]
    finally:
        await channel.stop()


async def test_http_mode_has_nothing_to_watch(fake: FakeSlack, desk_helpline: Helpline) -> None:
    channel = create(slack_section(fake, mode="http"), desk_helpline.channel_context(), TEAMS)
    assert channel.health()["status"] == "ok" and channel.health()["mode"] == "http"
