"""Receiving from a real Dovecot: IDLE, polling, crash before marking, UIDVALIDITY change, outages."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from channels.email.channel import EmailChannel
from channels.email.imap import Mailbox
from tests.email.conftest import Harness, ImapPeer, email_settings, eventually, mail


async def test_idle_delivers_new_mail(dovecot, imap_peer: ImapPeer, harness: Harness) -> None:
    channel = harness.channel(email_settings(dovecot))
    await channel.start()
    try:
        await eventually(lambda: channel.health()["connected"])
        await asyncio.sleep(0.3)  # in IDLE now
        await imap_peer.deliver(mail(body="Where is my parcel?", message_id="<idle-1@customer.test>"))
        [message] = await harness.wait_inbox(1, timeout=5)
        assert message.text == "Where is my parcel?"
        assert message.platform_id == "<idle-1@customer.test>"
        assert message.address == "<idle-1@customer.test>"
        assert message.sender.address == "ann@customer.test"
        assert any("\\Seen" in flags for flags in await eventually(imap_peer.flags))
    finally:
        await channel.stop()


async def test_polling_when_idle_is_off_and_processed_folder(dovecot, imap_peer: ImapPeer, harness: Harness) -> None:
    await imap_peer.deliver(mail(body="Waiting before start", message_id="<poll-0@customer.test>"))
    settings = email_settings(dovecot, imap={"idle": False, "poll_seconds": 0.2, "processed_folder": "Done"})
    channel = harness.channel(settings)
    await channel.start()
    try:
        await harness.wait_inbox(1)
        await imap_peer.deliver(mail(body="Second", message_id="<poll-1@customer.test>"))
        messages = await harness.wait_inbox(2)
        assert [m.text for m in messages] == ["Waiting before start", "Second"]
        await eventually(lambda: imap_peer.count("Done"), timeout=5)
        assert await imap_peer.count("Done") == 2
        assert await imap_peer.count("INBOX") == 0
    finally:
        await channel.stop()


async def test_crash_after_fetch_before_marking_handles_it_once(dovecot, imap_peer: ImapPeer, harness: Harness,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    await imap_peer.deliver(mail(body="Only once please", message_id="<crash-1@customer.test>"))
    real = Mailbox.mark_processed
    crashes = []

    async def crash_once(self: Mailbox, uid: int, folder: str | None) -> None:
        if not crashes:
            crashes.append(uid)
            raise ConnectionResetError("connection lost before STORE")
        await real(self, uid, folder)

    monkeypatch.setattr(Mailbox, "mark_processed", crash_once)
    channel = harness.channel(email_settings(dovecot))
    await channel.start()
    try:
        await eventually(lambda: channel.fetched >= 2)  # fetched again after the crash
        await eventually(lambda: _seen(imap_peer))
        messages = await harness.inbox()
        assert [m.platform_id for m in messages] == ["<crash-1@customer.test>"]
        assert crashes
    finally:
        await channel.stop()
    assert any("\\Seen" in flags for flags in await imap_peer.flags())


async def test_uidvalidity_change_resynchronises_without_duplicates(dovecot, imap_peer: ImapPeer,
                                                                    harness: Harness) -> None:
    settings = email_settings(dovecot, imap={"folder": "Support", "idle": False, "poll_seconds": 0.2})
    first = mail(body="First", message_id="<uv-1@customer.test>")
    await imap_peer.deliver(first, "Support")
    channel = harness.channel(settings)
    await channel.start()
    await harness.wait_inbox(1)
    await channel.stop()
    cursor_before = await channel.threads.cursor()
    # The folder is rebuilt (a restore, a migration): same mail again, unseen, under a new UIDVALIDITY.
    await imap_peer.recreate("Support")
    await imap_peer.deliver(first, "Support")
    await imap_peer.deliver(mail(body="After the change", message_id="<uv-2@customer.test>"), "Support")
    channel = harness.channel(settings)
    await channel.start()
    try:
        messages = await harness.wait_inbox(2)
        await asyncio.sleep(0.5)
        messages = await harness.inbox()
        assert [m.text for m in messages] == ["First", "After the change"]
        cursor = await channel.threads.cursor()
        assert cursor is not None and cursor_before is not None and cursor.uidvalidity != cursor_before.uidvalidity
    finally:
        await channel.stop()


async def test_unreachable_mailbox_is_reported_and_missed_mail_fetched(dovecot, imap_peer: ImapPeer,
                                                                        harness: Harness) -> None:
    alerts: list[str] = []

    async def alert(text: str) -> None:
        alerts.append(text)

    context = dataclasses.replace(harness.context(), alert=alert)
    channel = EmailChannel(email_settings(dovecot, imap={"idle": False, "poll_seconds": 0.2}), context)
    dovecot.stop()
    await channel.start()
    try:
        await eventually(lambda: channel.health()["status"] == "unreachable", timeout=10)
        events = await harness.events()
        assert [e["type"] for e in events] == ["mailbox_unreachable"]
        assert len(alerts) == 1 and "unreachable" in alerts[0]
        dovecot.start()
        await imap_peer.deliver(mail(body="Sent while you were down", message_id="<down-1@customer.test>"))
        [message] = await harness.wait_inbox(1, timeout=10)
        assert message.text == "Sent while you were down"
        assert channel.health()["status"] == "ok"
        assert "mailbox_recovered" in [e["type"] for e in await harness.events()]
        await eventually(lambda: len(alerts) == 2, timeout=5)
        assert "reachable again" in alerts[1]
    finally:
        await channel.stop()


async def test_automatic_mail_is_marked_but_not_submitted(dovecot, imap_peer: ImapPeer, harness: Harness) -> None:
    await imap_peer.deliver(mail(body="I am out of office", headers="Auto-Submitted: auto-replied\r\n"))
    await imap_peer.deliver(mail(body="Undeliverable", sender="MAILER-DAEMON@customer.test"))
    await imap_peer.deliver(mail(body="Echo", sender="support@example.com"))
    await imap_peer.deliver(mail(body="A real question", message_id="<real@customer.test>"))
    channel = harness.channel(email_settings(dovecot))
    await channel.start()
    try:
        [message] = await harness.wait_inbox(1)
        assert message.text == "A real question"
        await eventually(lambda: channel.fetched == 4)
        flags = await eventually(imap_peer.flags)
        await eventually(lambda: _all_seen(imap_peer))
    finally:
        await channel.stop()
    assert len(flags) == 4


async def _seen(peer: ImapPeer) -> bool:
    return any("\\Seen" in flags for flags in await peer.flags())


async def _all_seen(peer: ImapPeer) -> bool:
    flags = await peer.flags()
    return len(flags) == 4 and all("\\Seen" in f for f in flags)


async def test_unparseable_mail_is_moved_and_reported(dovecot, imap_peer: ImapPeer, harness: Harness) -> None:
    await imap_peer.deliver(b"Subject: no sender at all\r\n\r\n\xff\xfe garbage\r\n")
    channel = harness.channel(email_settings(dovecot, imap={"unprocessable_folder": "Unreadable"}))
    await channel.start()
    try:
        await eventually(lambda: imap_peer.count("Unreadable"))
        assert await harness.inbox() == []
        assert "email_unprocessable" in [e["type"] for e in await harness.events()]
    finally:
        await channel.stop()


async def test_attachments_are_listed_and_fetched_again_after_the_move(dovecot, imap_peer: ImapPeer,
                                                                       harness: Harness) -> None:
    from email.message import EmailMessage

    from router.messages import Attachment

    message = EmailMessage()
    message["From"] = "Ann <ann@customer.test>"
    message["To"] = "support@example.com"
    message["Subject"] = "Photo of the damage"
    message["Message-ID"] = "<att-1@customer.test>"
    message.set_content("See the photo.")
    photo = bytes(range(256)) * 20
    message.add_attachment(photo, maintype="image", subtype="jpeg", filename="Bojājums.jpg")
    message.add_attachment(b"x" * 10000, maintype="application", subtype="pdf", filename="big.pdf")
    await imap_peer.deliver(message.as_bytes())
    channel = harness.channel(email_settings(dovecot, imap={"processed_folder": "Done"}, max_attachment_bytes=8000))
    await channel.start()
    try:
        [received] = await harness.wait_inbox(1)
        await eventually(lambda: imap_peer.count("Done"))
    finally:
        await channel.stop()
    small, big = received.attachments
    assert (small.name, small.media_type, small.size) == ("Bojājums.jpg", "image/jpeg", len(photo))
    assert (big.name, big.size, big.ref) == ("big.pdf", 10000, "")
    assert await channel.fetch_attachment(small) == photo
    assert await channel.fetch_attachment(big) is None
    from channels.base import PermanentDeliveryError

    with pytest.raises(PermanentDeliveryError):
        await channel.fetch_attachment(Attachment("gone.jpg", "image/jpeg", 10, "imap:2:<gone@customer.test>"))


async def test_mail_is_not_seen_on_the_server_until_it_is_in_the_inbox(dovecot, imap_peer: ImapPeer,
                                                                      harness: Harness) -> None:
    """Fetching must PEEK: a plain BODY[] fetch sets \\Seen before the inbox XADD, and a crash loses the mail."""
    await imap_peer.deliver(mail(body="Peek only", message_id="<peek-1@customer.test>"))
    flags_at_submit: list[list[str]] = []
    context = harness.context()
    submit = context.submit

    async def looking_submit(message):  # type: ignore[no-untyped-def]
        flags_at_submit.append(await imap_peer.flags())
        await submit(message)

    channel = EmailChannel(email_settings(dovecot), dataclasses.replace(context, submit=looking_submit))
    await channel.start()
    try:
        await harness.wait_inbox(1)
        await eventually(lambda: _seen(imap_peer))
    finally:
        await channel.stop()
    [flags] = flags_at_submit
    assert len(flags) == 1 and "\\Seen" not in flags[0]
