"""The email channel inside Helpline: wired from settings, through the real router and sender, to SMTP."""

from __future__ import annotations

from bot.app import Helpline
from bot.channel_setup import build_channels
from bot.settings import Settings
from channels.email.channel import EmailChannel
from tests.email.conftest import mail
from tests.email.smtp_peer import SmtpPeer


async def test_customer_mail_is_answered_in_its_thread(settings: Settings, helpline: Helpline, worker,
                                                       smtp: SmtpPeer) -> None:
    data = settings.model_dump()
    data["channels"]["email"] = {
        "enabled": True, "address": "support@example.com",
        "imap": {"host": "127.0.0.1", "port": 1, "security": "none", "user": "u", "password": "p"},
        "smtp": smtp.settings()}
    settings = Settings.model_validate(data)
    [channel] = build_channels(settings, helpline.channel_context())
    assert isinstance(channel, EmailChannel)
    question = mail(subject="Returns", body="How long do I have to return an item?\r\n\r\n-- \r\nAnn",
                    message_id="<q1@customer.test>")
    assert (await channel.receive(question)).outcome == "submitted"
    await worker.drain()
    sender = helpline.channel_sender(channel, block_ms=50)
    await sender.drain()
    answer, follow_up = smtp.recorder.messages
    assert "30 days" in answer.get_body(("plain",)).get_content()
    assert answer["In-Reply-To"] == "<q1@customer.test>"
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["Subject"].startswith("Re: Returns")
    # The same mail fetched again (a crash before \Seen) is not answered twice.
    assert (await channel.receive(question)).outcome == "duplicate"
    await worker.drain()
    await sender.drain()
    assert len(smtp.recorder.messages) == 2
    # "Did this answer your question?" came with numbered options; answering "1" picks the first.
    assert "1) " in follow_up.get_body(("plain",)).get_content()
    picked = await channel.receive(mail(subject="Re: Returns", body="1", message_id="<q2@customer.test>",
                                        headers=f"In-Reply-To: {follow_up['Message-ID']}\r\n"))
    assert picked.message is not None and picked.message.option is not None
    assert picked.message.address == "<q1@customer.test>"
