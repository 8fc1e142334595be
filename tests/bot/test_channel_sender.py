"""The outbox sender around a channel: once only, failures dead-lettered and shown on the case."""

from __future__ import annotations

import json

from bot.app import Helpline
from channels.base import PermanentDeliveryError, Route
from router.messages import ActionKind, OutboundMessage, from_json
from tests.drivers import Agent, Customer


class FlakyChannel:
    """A channel that records what it sends and refuses messages containing 'refuse'."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def routes(self) -> list[Route]:
        return []

    async def deliver(self, message: OutboundMessage) -> str | None:
        if "refuse" in message.text:
            raise PermanentDeliveryError("403 Forbidden: bot was blocked by the user", close_conversation=True)
        self.sent.append(message)
        return f"p{len(self.sent)}"


async def test_failed_agent_reply_is_dead_lettered_and_noted_on_the_case(
        helpline: Helpline, customer: Customer, agent: Agent, worker) -> None:
    channel = FlakyChannel()
    sender = helpline.channel_sender(channel, block_ms=10)
    number = int((await customer.say("human"))[-1].text.split("#")[1].split()[0].rstrip(".,"))
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.REPLY, number, text="Here is your answer")
    await agent.act(ActionKind.REPLY, number, text="please refuse this one")
    await sender.drain()
    assert [message.text for message in channel.sent][-1] == "Maria: Here is your answer"

    # Redelivery of everything: nothing is sent twice.
    count = len(channel.sent)
    outbox = helpline.keys.outbox("console")
    for entry_id, fields in await helpline.redis.xrange(outbox):
        await sender._process(entry_id, fields)
    assert len(channel.sent) == count

    dead = await helpline.redis.xrange(helpline.keys.dead_letters)
    assert len(dead) == 1 and "blocked" in dead[0][1]["reason"], [from_json(OutboundMessage, f["data"]).text for _, f in dead]
    assert "refuse" in from_json(OutboundMessage, dead[0][1]["data"]).text

    await worker.drain()  # the router takes the delivery reports
    details = await helpline.redis.xrange(helpline.keys.transcript(
        await helpline.redis.get(helpline.keys.address("console", customer.address))))
    system_lines = [fields["text"] for _, fields in details if fields["role"] == "system"]
    assert any("not delivered" in line and "blocked" in line for line in system_lines)
    events = [fields for _, fields in await helpline.redis.xrange(helpline.keys.events)]
    delivered = [event for event in events if event["type"] == "message_delivered"]
    failed = [event for event in events if event["type"] == "delivery_failed"]
    assert len(delivered) == 1 and delivered[0]["platform_id"].startswith("p")
    assert len(failed) == 1 and failed[0]["unreachable"] == "1"
    assert json.loads(dead[0][1]["data"])["author"] == "agent"
