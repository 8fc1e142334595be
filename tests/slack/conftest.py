"""Fixtures for the Slack channel: a fake Slack on loopback, the router in-process with the desk on."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Helpline
from channels.slack import create
from channels.slack.adapter import SlackChannel
from tests.slack.fake_slack import FakeSlack

SUPPORT, BILLING, CUSTOMERS = "C0SUPPORT1", "C0BILLING1", "C0CUSTOMER1"
ANN, BOB, EVE, CAROL = "U0ANN0001", "U0BOB0001", "U0EVE0001", "U0CAROL01"  # EVE is in no team
DM = "D0DIRECT01"
SECRET = "test-signing-secret"
TEAMS = {
    "support": {"name": "Customer Support", "slack_channel": SUPPORT, "slack_users": [], "slack_usergroups": []},
    "billing": {"name": "Billing", "slack_channel": BILLING, "slack_users": [CAROL], "slack_usergroups": ["S0BILLING"]},
}
_ids = itertools.count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(members={SUPPORT: [ANN, BOB], BILLING: [BOB]}, usergroups={"S0BILLING": [ANN]},
                       names={ANN: "Ann", BOB: "Bob", EVE: "Eve", CAROL: "Carol"})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def desk_helpline(helpline: Helpline) -> Helpline:
    helpline.router.config = dataclasses.replace(helpline.router.config, desk=True)
    return helpline


def slack_section(fake: FakeSlack, **overrides: Any) -> dict[str, Any]:
    return {"enabled": True, "bot_token": "xoxb-test", "app_token": "xapp-test", "signing_secret": SECRET,
            "mode": "socket", "api_base_url": fake.base_url, "customer_channels": [CUSTOMERS], **overrides}


@pytest.fixture
async def slack(fake: FakeSlack, desk_helpline: Helpline) -> AsyncIterator[SlackChannel]:
    channel = create(slack_section(fake), desk_helpline.channel_context(), TEAMS)
    await channel._identify()
    yield channel
    await channel.stop()


async def dispatch(channel: SlackChannel, body: dict[str, Any]) -> Any:
    """Hand a payload to the bolt app as Socket Mode would; returns bolt's response."""
    return await channel.app().async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))


def event_body(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {"token": "x", "team_id": "T0TEST", "api_app_id": "A0TEST", "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": "T0TEST", "user_id": "UBOT0001", "is_bot": True}]}


def message_event(channel: str, user: str, text: str, thread_ts: str | None = None, **extra: Any) -> dict[str, Any]:
    event = {"type": "message", "channel": channel, "user": user, "text": text,
             "ts": f"{time.time():.6f}", "channel_type": "im" if channel.startswith("D") else "channel", **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_action(user: str, channel: str, action_id: str, value: str, message_ts: str = "1.000001",
                 thread_ts: str | None = None, select: bool = False) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "action_ts": f"{time.time():.6f}"}
    if select:
        action.update(type="static_select", selected_option={"text": {"type": "plain_text", "text": "x"},
                                                              "value": value})
    else:
        action.update(type="button", value=value, text={"type": "plain_text", "text": "x"})
    message: dict[str, Any] = {"ts": message_ts, "type": "message", "text": ""}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {"type": "block_actions", "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "api_app_id": "A0TEST", "token": "x", "team": {"id": "T0TEST"}, "trigger_id": "t",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel}, "message": message, "actions": [action]}


def slash(user: str, channel: str, text: str) -> dict[str, Any]:
    return {"token": "x", "team_id": "T0TEST", "channel_id": channel, "user_id": user, "user_name": user.lower(),
            "command": "/helpline", "text": text, "api_app_id": "A0TEST", "response_url": "", "trigger_id": "t"}


@pytest.fixture
async def http_slack(fake: FakeSlack, desk_helpline: Helpline) -> AsyncIterator[tuple[SlackChannel, str]]:
    channel = create(slack_section(fake, mode="http"), desk_helpline.channel_context(), TEAMS)
    app = web.Application()
    for method, path, handler in channel.routes():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await channel.start()
    yield channel, f"http://127.0.0.1:{port}/slack/events"
    await channel.stop()
    await runner.cleanup()
