"""Threading (References, In-Reply-To, case tags, forwards), replies over SMTP, options, noise and errors."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from channels.base import PermanentDeliveryError, TemporaryDeliveryError
from channels.email.channel import EmailChannel
from router.messages import OutboundMessage, QuickReply, new_id
from tests.email.conftest import SUPPORT, Harness, email_settings, mail
from tests.email.smtp_peer import SmtpPeer


@pytest.fixture
def channel(harness: Harness, smtp: SmtpPeer) -> EmailChannel:
    return harness.channel(email_settings(None, smtp=smtp.settings()))


def reply(root: str, text: str = "Thanks, we are on it.", case: int | None = 1042, author: str = "bot",
          options: tuple[QuickReply, ...] = (), reply_to: str | None = None, agent_name: str = "") -> OutboundMessage:
    return OutboundMessage(id=new_id(), channel="email", address=root, text=text, options=options, case=case,
                           author=author, agent_name=agent_name, reply_to=reply_to or root)


async def start_conversation(channel: EmailChannel, smtp: SmtpPeer) -> tuple[str, str]:
    """Ann writes, the bot answers with case #1042: (root Message-ID, our reply's Message-ID)."""
    received = await channel.receive(mail(subject="Order late", body="Where is my order?",
                                          message_id="<first@customer.test>"))
    assert received.outcome == "submitted" and received.message is not None
    root = received.message.address
    ours = await channel.deliver(reply(root))
    assert ours is not None
    return root, ours


async def test_bot_reply_threads_and_is_marked_automatic(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, ours = await start_conversation(channel, smtp)
    assert root == "<first@customer.test>"
    [sent] = smtp.recorder.messages
    assert sent["Subject"] == "Re: Order late [#1042]"
    assert sent["Message-ID"] == ours
    assert sent["In-Reply-To"] == "<first@customer.test>"
    assert sent["References"] == "<first@customer.test>"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["To"].addresses[0].addr_spec == "ann@customer.test"
    assert sent["From"].addresses[0].addr_spec == SUPPORT
    assert {part.get_content_type() for part in sent.iter_parts()} == {"text/plain", "text/html"}
    assert smtp.recorder.envelopes[0].rcpt_tos == ["ann@customer.test"]


async def test_agent_reply_has_the_agents_name_and_no_auto_submitted(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, _ = await start_conversation(channel, smtp)
    await channel.deliver(reply(root, "Hello, Maria here.", author="agent", agent_name="Maria"))
    sent = smtp.recorder.messages[-1]
    assert sent["Auto-Submitted"] is None
    assert sent["From"].addresses[0].display_name == "Maria (Support)"
    assert sent["References"].split()[0] == root


async def test_outlook_reply_with_references_only_joins_the_thread(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, ours = await start_conversation(channel, smtp)
    outlook = mail(subject="RE: Order late [#1042]", message_id="<outlook@customer.test>",
                   headers=f"References: {root} {ours}\r\n",
                   body="Still nothing.\r\n\r\n-----Original Message-----\r\nFrom: Support <support@example.com>\r\n"
                        "Sent: Monday, March 4, 2024 10:15 AM\r\nTo: Ann\r\nSubject: Re: Order late [#1042]\r\n\r\n"
                        "Thanks, we are on it.")
    received = await channel.receive(outlook)
    assert received.message is not None
    assert received.message.address == root
    assert received.message.text == "Still nothing."


async def test_reply_with_a_changed_subject_joins_by_in_reply_to(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, ours = await start_conversation(channel, smtp)
    received = await channel.receive(mail(subject="another thing entirely", headers=f"In-Reply-To: {ours}\r\n",
                                          body="Also, can I change the address?"))
    assert received.message is not None and received.message.address == root
    assert received.message.reply_to == ours


async def test_case_tag_joins_only_for_the_cases_customer(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, _ = await start_conversation(channel, smtp)
    own = await channel.receive(mail(subject="About [#1042]", body="New mail, same case", message_id="<tag@c.test>"))
    assert own.message is not None and own.message.address == root
    stranger = await channel.receive(mail(subject="Re: Order late [#1042]", body="I am someone else",
                                          sender="eve@elsewhere.test", message_id="<eve@elsewhere.test>"))
    assert stranger.message is not None and stranger.message.address == "<eve@elsewhere.test>"


async def test_a_forward_starts_a_new_conversation(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, ours = await start_conversation(channel, smtp)
    forwarded = await channel.receive(mail(subject="Fwd: Re: Order late [#1042]", headers=f"In-Reply-To: {ours}\r\n",
                                           message_id="<fwd@customer.test>",
                                           body="See below\r\n\r\n---------- Forwarded message ---------\r\n"
                                                "From: Support <support@example.com>\r\nSubject: Re: Order late\r\n\r\n"
                                                "Thanks, we are on it."))
    assert forwarded.message is not None
    assert forwarded.message.address == "<fwd@customer.test>" != root
    assert "Thanks, we are on it." in forwarded.message.text  # the forwarded mail is the matter at hand


async def test_options_are_numbered_and_a_number_maps_back(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, _ = await start_conversation(channel, smtp)
    options = (QuickReply("refund", "Refund"), QuickReply("resend", "Send it again"))
    ours = await channel.deliver(reply(root, "What would you like?", options=options))
    text = smtp.recorder.messages[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "1) Refund\n2) Send it again" in text
    answer = await channel.receive(mail(subject="Re: Order late [#1042]", headers=f"In-Reply-To: {ours}\r\n",
                                        body=f"2\r\n\r\nOn Mon, 4 Mar 2024 at 10:15, Support <{SUPPORT}> wrote:\r\n"
                                             "> What would you like?\r\n> 1) Refund\r\n"))
    assert answer.message is not None and answer.message.option == "resend"


async def test_auto_replies_bounces_and_our_own_mail_are_not_submitted(channel: EmailChannel,
                                                                       harness: Harness) -> None:
    assert (await channel.receive(mail(headers="Auto-Submitted: auto-replied\r\n"))).outcome == "ignored"
    assert (await channel.receive(mail(headers="Precedence: bulk\r\n"))).outcome == "ignored"
    assert (await channel.receive(mail(sender="mailer-daemon@customer.test"))).outcome == "ignored"
    assert (await channel.receive(mail(sender=SUPPORT))).outcome == "ignored"
    assert await harness.inbox() == []


async def test_the_same_message_twice_is_submitted_once(channel: EmailChannel, harness: Harness) -> None:
    raw = mail(message_id="<twice@customer.test>")
    assert (await channel.receive(raw)).outcome == "submitted"
    assert (await channel.receive(raw)).outcome == "duplicate"
    assert len(await harness.inbox()) == 1


async def test_bot_answers_to_one_sender_are_rate_limited(harness: Harness, smtp: SmtpPeer) -> None:
    channel = harness.channel(email_settings(None, smtp=smtp.settings(), auto_reply_limit=2))
    root, _ = await start_conversation(channel, smtp)
    await channel.deliver(reply(root, "second"))
    assert await channel.deliver(reply(root, "third")) is None
    await channel.deliver(reply(root, "an agent is never limited", author="agent", agent_name="Maria"))
    assert len(smtp.recorder.messages) == 3


@pytest.mark.parametrize("where,answer,error", [
    ("data", "451 4.3.0 try again later", TemporaryDeliveryError),
    ("data", "554 5.7.1 rejected", PermanentDeliveryError),
    ("rcpt", "550 5.1.1 no such user", PermanentDeliveryError),
    ("rcpt", "450 4.2.0 mailbox busy", TemporaryDeliveryError),
])
async def test_smtp_errors_are_typed(channel: EmailChannel, smtp: SmtpPeer, where: str, answer: str,
                                     error: type[Exception]) -> None:
    received = await channel.receive(mail(message_id="<err@customer.test>"))
    assert received.message is not None
    if where == "data":
        smtp.recorder.data_reply = answer
    else:
        smtp.recorder.rcpt_reply = answer
    with pytest.raises(error):
        await channel.deliver(reply(received.message.address))


async def test_unreachable_smtp_is_temporary(harness: Harness) -> None:
    from tests.email.dovecot import free_port

    channel = harness.channel(email_settings(None, smtp={"port": free_port(), "timeout_seconds": 2}))
    received = await channel.receive(mail(message_id="<down@customer.test>"))
    assert received.message is not None
    with pytest.raises(TemporaryDeliveryError):
        await channel.deliver(reply(received.message.address))


async def test_unknown_thread_is_a_permanent_failure(channel: EmailChannel) -> None:
    with pytest.raises(PermanentDeliveryError):
        await channel.deliver(reply("<nobody@nowhere.test>"))


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


async def test_smtp_starttls_and_auth(harness: Harness, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    peer = SmtpPeer(tls_context=server_tls)
    await peer.start()
    try:
        settings = {**peer.settings(), "security": "starttls", "ca_file": str(cert), "user": "support",
                    "password": "smtp-pw"}
        channel = harness.channel(email_settings(None, smtp=settings))
        received = await channel.receive(mail(message_id="<tls@customer.test>"))
        assert received.message is not None
        await channel.deliver(reply(received.message.address))
        assert peer.logins == ["support"] and len(peer.recorder.messages) == 1
        wrong = harness.channel(email_settings(None, smtp={**settings, "password": "wrong"}))
        with pytest.raises(PermanentDeliveryError):  # 535: a password problem does not fix itself
            await wrong.deliver(reply(received.message.address))
    finally:
        await peer.stop()


async def test_a_retried_bot_answer_counts_once_against_the_limit(harness: Harness, smtp: SmtpPeer) -> None:
    channel = harness.channel(email_settings(None, smtp=smtp.settings(), auto_reply_limit=1))
    received = await channel.receive(mail(message_id="<retry@customer.test>"))
    assert received.message is not None
    answer = reply(received.message.address)
    smtp.recorder.data_reply = "451 4.3.0 later"
    with pytest.raises(TemporaryDeliveryError):
        await channel.deliver(answer)
    smtp.recorder.data_reply = "250 OK"
    assert await channel.deliver(answer) is not None  # the same message again: not a second answer


async def test_contact_form_mail_is_answered_at_its_reply_to(channel: EmailChannel, smtp: SmtpPeer) -> None:
    received = await channel.receive(mail(sender="noreply@shop.test", message_id="<form@shop.test>",
                                          headers="Reply-To: Bob <bob@customer.test>\r\n"))
    assert received.message is not None
    await channel.deliver(reply(received.message.address))
    assert smtp.recorder.envelopes[-1].rcpt_tos == ["bob@customer.test"]


# --- who may join a conversation (review point 3) ---------------------------------------------------------

_EVE = "eve@elsewhere.test"


@pytest.mark.parametrize("tag", [False, True])
@pytest.mark.parametrize("reply_to", ["", "ann@customer.test", "Ann Customer <ANN@customer.test>"])
@pytest.mark.parametrize("threading", ["none", "in-reply-to ours", "in-reply-to root", "references",
                                       "references among others"])
async def test_a_stranger_never_joins_a_customers_conversation(channel: EmailChannel, smtp: SmtpPeer, tag: bool,
                                                                reply_to: str, threading: str) -> None:
    """The case tag, Reply-To: <the customer> and the thread's Message-IDs are all written by the sender."""
    root, ours = await start_conversation(channel, smtp)
    headers = f"Reply-To: {reply_to}\r\n" if reply_to else ""
    headers += {"none": "", "in-reply-to ours": f"In-Reply-To: {ours}\r\n",
                "in-reply-to root": f"In-Reply-To: {root}\r\n", "references": f"References: {root} {ours}\r\n",
                "references among others": f"References: <a@x.test> {ours} <b@x.test>\r\n"}[threading]
    subject = "Re: Order late [#1042]" if tag else "Re: Order late"
    received = await channel.receive(mail(subject=subject, body="Please send the refund to my account instead",
                                          sender=_EVE, message_id="<eve-1@elsewhere.test>", headers=headers))
    assert received.message is not None
    assert received.message.address == "<eve-1@elsewhere.test>"  # a conversation of her own
    assert received.message.sender.address == _EVE


async def test_the_customer_still_joins_by_every_thread_header(channel: EmailChannel, smtp: SmtpPeer) -> None:
    root, ours = await start_conversation(channel, smtp)
    for number, headers in enumerate((f"In-Reply-To: {ours}\r\n", f"References: {root} {ours}\r\n", "")):
        received = await channel.receive(mail(subject="Re: Order late [#1042]", sender="Ann@Customer.test",
                                              message_id=f"<ann-{number}@customer.test>", headers=headers))
        assert received.message is not None and received.message.address == root


async def test_a_contact_form_customer_joins_by_replying_from_the_reply_to_address(channel: EmailChannel,
                                                                                     smtp: SmtpPeer) -> None:
    received = await channel.receive(mail(sender="noreply@shop.test", message_id="<form-2@shop.test>",
                                          headers="Reply-To: Bob <bob@customer.test>\r\n"))
    assert received.message is not None
    ours = await channel.deliver(reply(received.message.address))
    answer = await channel.receive(mail(sender="bob@customer.test", headers=f"In-Reply-To: {ours}\r\n"))
    assert answer.message is not None and answer.message.address == "<form-2@shop.test>"
    # The form's own address is not the customer: it cannot write into Bob's conversation.
    form = await channel.receive(mail(sender="noreply@shop.test", message_id="<form-3@shop.test>",
                                      headers=f"In-Reply-To: {ours}\r\n"))
    assert form.message is not None and form.message.address == "<form-3@shop.test>"


async def test_a_mail_whose_submit_failed_is_submitted_when_read_again(harness: Harness) -> None:
    """The done mark comes after the inbox XADD: a failed XADD leaves the mail to be read again, not lost."""
    failures: list[str] = []

    def fail_once(message: object) -> None:
        if not failures:
            failures.append("inbox unreachable")
            raise ConnectionError("Redis went away during XADD")

    harness.submit_hook = fail_once
    channel = harness.channel(email_settings(None))
    raw = mail(message_id="<submit-fails@customer.test>", body="Is my order on its way?")
    with pytest.raises(ConnectionError):
        await channel.receive(raw)
    assert await harness.inbox() == []
    again = await channel.receive(raw)  # the mailbox hands it out again: it was never marked \Seen
    assert again.outcome == "submitted"
    assert [m.platform_id for m in await harness.inbox()] == ["<submit-fails@customer.test>"]


async def test_a_customer_answering_someone_elses_thread_with_her_own_tag_joins_her_case(channel: EmailChannel,
                                                                                          smtp: SmtpPeer) -> None:
    root, _ = await start_conversation(channel, smtp)  # Ann's case #1042
    bob = await channel.receive(mail(sender="bob@customer.test", message_id="<bob-1@customer.test>"))
    assert bob.message is not None
    bobs_reply = await channel.deliver(reply(bob.message.address, case=2001))
    # Ann was in copy of Bob's thread and answers it, with her own case tag in the subject.
    received = await channel.receive(mail(subject="Re: [#1042]", headers=f"In-Reply-To: {bobs_reply}\r\n",
                                          message_id="<ann-cc@customer.test>"))
    assert received.message is not None and received.message.address == root
