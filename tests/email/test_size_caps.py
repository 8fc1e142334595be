"""Size caps on mail: text, attachments listed, whole message fetched. Cut with a note and a log line; the
mail itself stays in the mailbox, so nothing is lost."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import pytest

from tests.email.conftest import Harness, ImapPeer, email_settings, eventually, mail


async def test_a_long_text_is_cut_with_a_note_and_a_log_line(harness: Harness,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    channel = harness.channel(email_settings(None, max_text_chars=1000))
    body = "Please help. " + "word " * 3000
    with caplog.at_level(logging.WARNING, logger="channels.email.channel"):
        received = await channel.receive(mail(body=body, message_id="<long@customer.test>"))
    assert received.message is not None
    text = received.message.text
    assert text.startswith("Please help. word word")
    assert text.endswith("[cut: the text is 15012 characters, here are the first 1000; "
                         "the whole mail is in the support mailbox]")
    assert len(text) < 1200
    [submitted] = await harness.inbox()
    assert submitted.text == text
    assert any("<long@customer.test>" in r.getMessage() and "max_text_chars" in r.getMessage() for r in caplog.records)


async def test_a_short_text_is_untouched(harness: Harness) -> None:
    received = await harness.channel(email_settings(None, max_text_chars=1000)).receive(
        mail(body="x" * 1000, message_id="<exact@customer.test>"))
    assert received.message is not None and received.message.text == "x" * 1000


def _with_attachments(count: int, message_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Ann <ann@customer.test>"
    message["To"] = "support@example.com"
    message["Subject"] = "Many files"
    message["Message-ID"] = message_id
    message.set_content("See the files.")
    for number in range(count):
        message.add_attachment(b"%d" % number, maintype="application", subtype="octet-stream",
                               filename=f"file-{number}.bin")
    return message.as_bytes()


async def test_only_max_attachments_are_listed(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    channel = harness.channel(email_settings(None, max_attachments=5))
    with caplog.at_level(logging.WARNING, logger="channels.email.channel"):
        received = await channel.receive(_with_attachments(60, "<files@customer.test>"))
    assert received.message is not None
    assert [a.name for a in received.message.attachments] == [f"file-{n}.bin" for n in range(5)]
    assert any("60 attachments" in r.getMessage() for r in caplog.records)


async def test_a_mail_over_max_message_bytes_is_read_in_part_and_kept(dovecot, imap_peer: ImapPeer, harness: Harness,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    big = EmailMessage()
    big["From"] = "Ann <ann@customer.test>"
    big["To"] = "support@example.com"
    big["Subject"] = "Scan of the invoice"
    big["Message-ID"] = "<big@customer.test>"
    big.set_content("The invoice is attached.")
    big.add_attachment(bytes(range(256)) * 1024, maintype="image", subtype="png", filename="scan.png")  # 256 KiB
    raw = big.as_bytes()
    await imap_peer.deliver(raw)
    channel = harness.channel(email_settings(dovecot, imap={"processed_folder": "Done"}, max_message_bytes=64 * 1024))
    with caplog.at_level(logging.WARNING, logger="channels.email.channel"):
        await channel.start()
        try:
            [message] = await harness.wait_inbox(1)
            await eventually(lambda: imap_peer.count("Done"))
        finally:
            await channel.stop()
    assert message.text.startswith("The invoice is attached.")
    assert "[cut: the mail is" in message.text and "the whole mail is in the support mailbox" in message.text
    assert all(attachment.ref == "" for attachment in message.attachments)  # a part read in part is not offered
    assert any("<big@customer.test>" in r.getMessage() and "max_message_bytes" in r.getMessage()
               for r in caplog.records)
    assert "email_oversized" in [event["type"] for event in await harness.events()]
    assert await imap_peer.count("Done") == 1  # the whole mail is kept
