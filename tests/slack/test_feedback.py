"""Feedback for a customer who writes via Slack: requests signed as Slack signs them on the HTTP
transport, Block Kit buttons for the rating and NPS whose presses come back as the options."""

from __future__ import annotations

import dataclasses
import json

import aiohttp

from bot.app import Helpline
from channels.slack.adapter import SlackChannel
from router.config import FeedbackConfig
from router.messages import ActionKind
from router.worker import StreamWorker
from tests.drivers import Agent, events
from tests.slack.conftest import DM, EVE, SECRET, block_action, event_body, message_event
from tests.slack.fake_slack import FakeSlack, form_body, signed_headers


async def signed_post(url: str, body: bytes, content_type: str) -> int:
    async with aiohttp.ClientSession() as session:
        headers = {**signed_headers(body, SECRET), "Content-Type": content_type}
        async with session.post(url, data=body, headers=headers) as response:
            return response.status


async def customer_writes(url: str, text: str) -> None:
    body = json.dumps(event_body(message_event(DM, EVE, text))).encode()
    assert await signed_post(url, body, "application/json") == 200


async def customer_presses(url: str, value: str, message_ts: str) -> None:
    body = form_body(block_action(EVE, DM, "hl_option", value, message_ts=message_ts))
    assert await signed_post(url, body, "application/x-www-form-urlencoded") == 200


def buttons(post: dict) -> list[str]:
    return [element["value"] for element in post["blocks"][-1]["elements"]]


async def test_the_rating_and_nps_as_slack_buttons(desk_helpline: Helpline, worker: StreamWorker,
                                                   http_slack: tuple[SlackChannel, str], fake: FakeSlack) -> None:
    helpline = desk_helpline
    helpline.router.config = dataclasses.replace(helpline.router.config, feedback=FeedbackConfig(nps=True))
    channel, url = http_slack
    sender = helpline.channel_sender(channel, block_ms=10)
    await customer_writes(url, "I want to talk to a human")
    await worker.drain()
    await sender.drain()
    number = int(next(e["case"] for e in await events(helpline) if e["type"] == "case_opened"))
    agent = Agent(helpline, worker, "Maria")
    assert (await agent.act(ActionKind.CLAIM, number))["ok"]
    assert (await agent.act(ActionKind.RESOLVE, number))["ok"]
    await sender.drain()
    prompt = fake.posts(DM)[-1]
    assert "How would you rate" in prompt["text"] and buttons(prompt) == [f"rate:{n}" for n in range(1, 6)]
    assert all(element["type"] == "button" and element["action_id"] == "hl_option"
               for element in prompt["blocks"][-1]["elements"])

    await customer_presses(url, "rate:5", message_ts="7.000001")
    await worker.drain()
    await sender.drain()
    nps = fake.posts(DM)[-1]
    assert "recommend us" in nps["text"]
    assert buttons(nps) == [*(f"nps:{n}" for n in range(11)), "skip"]

    await customer_presses(url, "nps:7", message_ts="7.000002")
    await customer_presses(url, "rate:1", message_ts="7.000001")  # the same buttons again: one press a message
    await customer_writes(url, "2")  # a second rating typed
    await worker.drain()
    await sender.drain()
    assert "Thank you for your feedback" in fake.posts(DM)[-2]["text"]
    assert f"already rated case #{number}" in fake.posts(DM)[-1]["text"]
    happened = await events(helpline)
    assert [(e["csat"], e["channel"], e["round"]) for e in happened if e["type"] == "case_rated"] == [
        ("5", "slack", "0")]
    assert [(e["nps"], e["channel"]) for e in happened if e["type"] == "nps_rated"] == [("7", "slack")]
