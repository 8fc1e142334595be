"""A customer sending 1,000 messages a minute: told to slow down once, nothing lost, others still answered."""

from __future__ import annotations

import time

from bot.app import Helpline
from router.messages import InboundMessage, Sender, inbox_fields, new_id
from router.worker import StreamWorker
from tests.drivers import Customer

FLOOD = 1_000


async def transcript_of(helpline: Helpline, customer: Customer) -> list[dict[str, str]]:
    conversation = await helpline.redis.get(helpline.keys.address("console", customer.address))
    return [fields for _, fields in await helpline.redis.xrange(helpline.keys.transcript(conversation))]


async def test_a_flood_is_kept_answered_once_with_slow_down_and_others_go_on(helpline: Helpline,
                                                                              worker: StreamWorker) -> None:
    flooder, other = Customer(helpline, worker, name="Flo"), Customer(helpline, worker, name="Olga")
    start = time.time()
    async with helpline.redis.pipeline(transaction=False) as pipe:
        for index in range(FLOOD):  # 1,000 messages within 50 seconds, all waiting in the inbox at once
            message = InboundMessage(id=new_id(), channel="console", address=flooder.address,
                                     sender=Sender(id=flooder.address, name="Flo"), text=f"spam number {index}",
                                     received_at=start + index * 0.05)
            pipe.xadd(helpline.keys.inbox, inbox_fields(message))
        await pipe.execute()
    answers_to_other = await other.say("How long does delivery take?")
    assert answers_to_other and "day" in answers_to_other[0].text.lower()  # not starved: answered from the FAQ

    replies = [message.text for message in await flooder.inbox()]
    assert sum("slow down" in text for text in replies) == 1
    assert len(replies) < 100  # about one reply per answered message, not a thousand in the outbox
    said = [line["text"] for line in await transcript_of(helpline, flooder) if line["role"] == "customer"]
    assert said == [f"spam number {index}" for index in range(FLOOD)]  # nothing lost

    # A customer at a normal pace is never told to slow down.
    for text in ("hello", "How long does delivery take?", "thanks"):
        assert all("slow down" not in reply.text for reply in await other.say(text))


async def test_a_redelivered_message_is_not_counted_twice(helpline: Helpline, worker: StreamWorker) -> None:
    customer = Customer(helpline, worker)
    limit = helpline.router.config.flood_per_minute
    message = InboundMessage(id=new_id(), channel="console", address=customer.address,
                             sender=Sender(id=customer.address, name="Ann"), text="hello", received_at=time.time())
    for _ in range(limit + 5):  # the same message again and again (a receiver's retry): one in the count
        await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(message))
    await worker.drain()
    assert all("slow down" not in reply.text for reply in await customer.inbox())
