"""'status' in a reply by email asks for the case's status: the router answers with the place in the queue."""

from __future__ import annotations

import pytest

from bot.app import Helpline
from channels.email.channel import EmailChannel
from router.messages import OutboundMessage, from_json
from router.worker import StreamWorker
from tests.email.conftest import SUPPORT, Harness, email_settings, mail
from tests.email.smtp_peer import SmtpPeer
from tests.router.test_flow import case_number_in


async def answers(helpline: Helpline) -> list[OutboundMessage]:
    entries = await helpline.redis.xrange(helpline.keys.outbox("email"))
    return [from_json(OutboundMessage, fields["data"]) for _, fields in entries]


@pytest.mark.parametrize(("ask", "status", "expected"), [
    ("I would like to talk to a human please", "Status", "Your position in the queue: 1"),
    ("θέλω να μιλήσω με άνθρωπο", "κατάσταση;", "Η θέση σας στην ουρά είναι 1"),
    ("szeretnék egy ügyintézővel beszélni", "állapot?", "Helye a sorban: 1"),
    ("gribu runāt ar cilvēku", "statuss", "Jūsu vieta rindā: 1"),
])
async def test_status_by_email(helpline: Helpline, worker: StreamWorker, harness: Harness, smtp: SmtpPeer,
                               ask: str, status: str, expected: str) -> None:
    channel: EmailChannel = harness.channel(email_settings(None, smtp=smtp.settings()))
    first = await channel.receive(mail(subject="Help", body=ask, message_id="<first@customer.test>"))
    assert first.outcome == "submitted"
    await worker.drain()
    opened = (await answers(helpline))[-1]
    number = case_number_in(opened.text)
    ours = await channel.deliver(opened)
    reply = await channel.receive(mail(subject="Re: Help", headers=f"In-Reply-To: {ours}\r\n",
                                       body=f"{status}\r\n\r\nOn Mon, 4 Mar 2024 at 10:15, Support <{SUPPORT}> "
                                            f"wrote:\r\n> {opened.text[:60]}\r\n"))
    assert reply.outcome == "submitted"
    await worker.drain()
    answer = (await answers(helpline))[-1]
    assert answer.address == opened.address
    assert f"#{number}" in answer.text and expected in answer.text
