"""The email channel: a support mailbox read over IMAP, answered over SMTP.

Receiving: new mail (UID above the cursor kept in Redis) is fetched, parsed, threaded and submitted to
the inbox; only then is it marked \\Seen (or moved) and the cursor moved on. A crash in between
fetches it again; the `done` mark and the router's dedupe on Message-ID keep it from counting twice.
Automatic mail (auto-replies, bounces, lists) and our own echoes are marked handled, never submitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from channels.base import (
    ChannelContext,
    PermanentDeliveryError,
    ReceiveLoop,
    Route,
    Supervision,
    TemporaryDeliveryError,
    Watched,
    sleep_unless_stopped,
)
from channels.email.compose import ThreadInfo, compose_reply, message_id_for
from channels.email.imap import Mailbox, MailboxError
from channels.email.parse import ParsedMail, parse_mail, part_bytes
from channels.email.settings import EmailChannelSettings
from channels.email.smtp import SmtpSender
from channels.email.threads import Cursor, ThreadStore
from router.messages import Attachment, InboundMessage, OutboundMessage, Sender, new_id

CHANNEL = "email"
log = logging.getLogger(__name__)

try:  # aioimaplib's own errors, when the library is present
    from aioimaplib import AioImapException as _ImapLibError
except ImportError:  # pragma: no cover
    _ImapLibError = MailboxError

MAILBOX_ERRORS = (MailboxError, _ImapLibError, OSError, asyncio.TimeoutError, ConnectionError)


@dataclass(frozen=True, slots=True)
class Received:
    outcome: str  # submitted, duplicate, ignored, unprocessable
    reason: str = ""
    message: InboundMessage | None = None


class EmailChannel:
    name = CHANNEL

    def __init__(self, settings: EmailChannelSettings, context: ChannelContext,
                 retention_days: float | None = None) -> None:
        self.settings = settings
        self.context = context
        self.threads = ThreadStore(context.redis, context.key, retention_days)
        self.sender = SmtpSender(settings.smtp)
        self.address = (settings.address or "").lower()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._mailbox: Mailbox | None = None
        host = settings.imap.host or "?"
        self.receiving = ReceiveLoop(
            CHANNEL, context,
            Watched(subject=f"The support mailbox {host}",
                    while_down="Mail is not being read; it will be fetched once the mailbox is back.",
                    on_recovery="fetching the mail that came meanwhile.",
                    unreachable_event="mailbox_unreachable", recovered_event="mailbox_recovered"),
            Supervision(first_delay=1.0, max_delay=settings.imap.reconnect_max_seconds,
                        alert_after=settings.imap.unreachable_after_seconds),
            self._stop, expected=MAILBOX_ERRORS)
        self.fetched = 0  # counters for health and tests
        self.submitted = 0

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin reading the mailbox in the background; a mailbox that is down is retried, not fatal."""
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="email-imap")

    async def stop_receiving(self) -> None:
        """Stop reading (mail is sent over a connection of its own per message, so this is all `stop` does)."""
        await self.stop()

    async def stop(self) -> None:
        """Stop reading; the message in hand is finished first."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.settings.imap.timeout_seconds + 5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    def routes(self) -> list[Route]:
        return []

    def health(self) -> dict[str, Any]:
        """Whether the mailbox is reachable (the shared receive loop's health), and what was read."""
        return {**self.receiving.health(), "fetched": self.fetched, "submitted": self.submitted}

    # --- receiving -----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        await self.receiving.run(self._read_mailbox)

    async def _read_mailbox(self) -> None:
        """One connection: connect, then read (IDLE or polling) until stopped; a failure ends it."""
        imap = self.settings.imap
        mailbox = Mailbox(imap)
        self._mailbox = mailbox
        try:
            await mailbox.connect()
            for folder in (imap.processed_folder, imap.unprocessable_folder):
                if folder:
                    await mailbox.ensure_folder(folder)
            await self.receiving.up()
            while not self._stop.is_set():
                await self.sync(mailbox)
                await self.receiving.up()
                if imap.idle and mailbox.can_idle:
                    await mailbox.wait_for_news(imap.idle_seconds, self._stop)
                else:
                    await sleep_unless_stopped(self._stop, imap.poll_seconds)
        finally:
            await mailbox.close()

    async def _event(self, kind: str, **fields: str) -> None:
        await self.context.redis.xadd(self.context.key("events"), {
            "type": kind, "channel": CHANNEL, "at": f"{time.time():.3f}", "mailbox": self.settings.imap.host or "",
            **fields}, maxlen=100_000, approximate=True)

    async def sync(self, mailbox: Mailbox) -> None:
        """Handle every message not handled yet, oldest first."""
        imap = self.settings.imap
        validity = await mailbox.select(imap.folder)
        cursor = await self.threads.cursor()
        if cursor is not None and cursor.uidvalidity == validity:
            uids = [uid for uid in await mailbox.search(f"UID {cursor.uid + 1}:*") if uid > cursor.uid]
        else:
            if cursor is not None:
                log.warning("email: UIDVALIDITY of %s changed (%s → %s); resynchronising", imap.folder,
                            cursor.uidvalidity, validity)
            # Without a valid cursor, what is unhandled is what is unseen (or, with a processed folder,
            # what is still here and not flagged); Message-ID marks keep anything from coming twice.
            uids = await mailbox.search("UNFLAGGED" if imap.processed_folder else "UNSEEN")
            await self.threads.set_cursor(Cursor(validity, cursor.uid if cursor and cursor.uidvalidity == validity else 0))
        for uid in uids:
            if self._stop.is_set():
                return
            await self._handle(mailbox, uid, validity)

    async def _handle(self, mailbox: Mailbox, uid: int, validity: int) -> None:
        imap = self.settings.imap
        fetched = await mailbox.fetch_mail(uid, self.settings.max_message_bytes)
        if fetched is not None:
            self.fetched += 1
            received = await self.receive(fetched.data, ref=f"imap:{validity}:{uid}", size=fetched.size)
            if received.outcome == "unprocessable":
                await mailbox.mark_unprocessable(uid, imap.unprocessable_folder)
            else:
                await mailbox.mark_processed(uid, imap.processed_folder)
        await self.threads.set_cursor(Cursor(validity, uid))

    async def receive(self, raw: bytes, ref: str = "", size: int | None = None) -> Received:
        """One message from the mailbox: into the inbox, or recognised as noise or unreadable (and said so).

        `size` is the whole message's size when `raw` is only its beginning (a mail over max_message_bytes).
        """
        try:
            # In a thread: a hostile mail may take a while to read, and the event loop serves every channel.
            parsed = await asyncio.to_thread(parse_mail, raw)
        except Exception as error:  # noqa: BLE001 - parse_mail does not raise; if it ever does, keep the mail
            return await self._unprocessable(ref, f"parser failed: {type(error).__name__}: {error}", "")
        message_id = parsed.message_id or f"<{parsed.fingerprint[:40]}@helpline.invalid>"
        if not parsed.from_address:
            return await self._unprocessable(ref, "no sender address to answer", message_id)
        if parsed.from_address == self.address:
            log.info("email: %s is from our own address; not answered", message_id)
            return Received("ignored", "own address")
        if parsed.automatic:
            log.info("email: %s from %s is automatic (%s); not answered", message_id, parsed.from_address,
                     parsed.automatic_reason)
            await self._event("email_ignored", message_id=message_id, sender=parsed.from_address,
                              reason=parsed.automatic_reason)
            return Received("ignored", parsed.automatic_reason)
        if await self.threads.is_done(message_id):
            return Received("duplicate")
        root = await self._thread_root(parsed, message_id)
        # Contact forms send from their own address with the customer's in Reply-To: answer there.
        await self.threads.add(message_id, root, subject=parsed.subject,
                               customer=parsed.reply_to or parsed.from_address, customer_name=parsed.from_name)
        text = parsed.text
        if parsed.forwarded or not text.strip():
            text = "\n\n".join(part for part in (parsed.text, parsed.quoted) if part.strip()) or parsed.body
        option = await self.threads.take_option(root, parsed.text) if parsed.text else None
        cut_at = size if size is not None and size > len(raw) else None
        if cut_at is not None:
            log.warning("email: %s (%s) from %s is %d bytes, over max_message_bytes (%d): only its beginning is "
                        "read, its attachments cannot be fetched; the whole mail stays in the mailbox",
                        message_id, ref or "?", parsed.from_address, cut_at, self.settings.max_message_bytes)
            await self._event("email_oversized", message_id=message_id, ref=ref, size=str(cut_at))
        text = self._bounded_text(text, message_id, cut_at)
        message = InboundMessage(
            id=new_id(), channel=CHANNEL, address=root,
            sender=Sender(id=parsed.from_address, name=parsed.from_name, address=parsed.from_address),
            text=text, attachments=self._attachments(parsed, message_id, fetchable=cut_at is None),
            platform_id=message_id,
            received_at=time.time(), language_hint=parsed.content_language, option=option, reply_to=parsed.in_reply_to or None)
        await self.context.submit(message)
        await self.threads.mark_done(message_id)
        self.submitted += 1
        return Received("submitted", message=message)

    async def _thread_root(self, parsed: ParsedMail, message_id: str) -> str:
        """The conversation this mail joins: a thread or tagged case of the same customer, else its own.

        Threading headers and the subject tag are written by the sender, so they only point at a
        conversation; the mail joins it only when its From is that conversation's customer. Reply-To
        never counts here: anyone can write any address into it.
        """
        if parsed.forwarded:
            return message_id  # a forward is a new matter for its sender
        root = await self.threads.root_of(parsed.thread_ids)
        if root is not None:
            if await self._is_customer_of(root, parsed.from_address):
                return root
            log.info("email: %s answers a thread of another customer; not joined to it", parsed.from_address)
        if parsed.case_number is not None:
            owner = await self.threads.case_owner(parsed.case_number)
            if owner is not None and owner[1] == parsed.from_address:
                return owner[0]
            if owner is not None:
                log.info("email: %s uses the tag of case #%d but is not its customer; new conversation",
                         parsed.from_address, parsed.case_number)
        return message_id

    async def _is_customer_of(self, root: str, address: str) -> bool:
        conversation = await self.threads.conversation(root)
        return conversation is not None and conversation.customer.lower() == address.lower()

    def _bounded_text(self, text: str, message_id: str, cut_at: int | None) -> str:
        """`text` within max_text_chars, with a note for the agent when it was cut here or at fetching."""
        limit = self.settings.max_text_chars
        notes = []
        if len(text) > limit:
            log.warning("email: the text of %s is %d characters, over max_text_chars (%d); the inbox gets the "
                        "first %d, the whole mail stays in the mailbox", message_id, len(text), limit, limit)
            notes.append(f"[cut: the text is {len(text)} characters, here are the first {limit}; "
                         "the whole mail is in the support mailbox]")
            text = text[:limit]
        if cut_at is not None:
            notes.append(f"[cut: the mail is {cut_at} bytes, over the limit of {self.settings.max_message_bytes}; "
                         "only its beginning was read, the whole mail is in the support mailbox]")
        return "\n\n".join([text, *notes]) if notes else text

    def _attachments(self, parsed: ParsedMail, message_id: str, fetchable: bool = True) -> tuple[Attachment, ...]:
        limit = self.settings.max_attachment_bytes
        listed = parsed.attachments[:self.settings.max_attachments]
        if len(parsed.attachments) > len(listed):
            log.warning("email: %s has %d attachments, over max_attachments (%d); the first %d are listed, all stay "
                        "in the mailbox", message_id, len(parsed.attachments), len(listed), len(listed))
        result = []
        for item in listed:
            too_big = item.size > limit
            if too_big:
                log.info("email: attachment %s (%d bytes) is over the %d-byte limit", item.name, item.size, limit)
            # Found again by Message-ID, so a move to the processed folder does not lose it. A part of a
            # mail read only in part may itself be cut: not offered for fetching.
            result.append(Attachment(item.name[:200], item.media_type, item.size,
                                     "" if too_big or not fetchable or not item.part
                                     else f"imap:{item.part}:{message_id}"))
        return tuple(result)

    async def _unprocessable(self, ref: str, reason: str, message_id: str) -> Received:
        log.error("email: message %s (%s) cannot be processed: %s", message_id or "?", ref or "?", reason)
        with contextlib.suppress(Exception):
            await self._event("email_unprocessable", message_id=message_id, ref=ref, reason=reason[:500])
        return Received("unprocessable", reason)

    async def fetch_attachment(self, attachment: Attachment) -> bytes | None:
        """A customer's file again, from the mailbox (found by Message-ID in the folders we use)."""
        kind, _, rest = attachment.ref.partition(":")
        part, _, message_id = rest.partition(":")
        if kind != "imap" or not part or not message_id.startswith("<"):
            return None
        if attachment.size > self.settings.max_attachment_bytes:
            raise PermanentDeliveryError(f"{attachment.name} is over the {self.settings.max_attachment_bytes}-byte limit")
        imap = self.settings.imap
        mailbox = Mailbox(imap)  # its own connection: the receiving one may be in IDLE
        try:
            await mailbox.connect()
            for folder in dict.fromkeys(f for f in (imap.processed_folder, imap.folder, imap.unprocessable_folder) if f):
                await mailbox.select(folder)
                quoted = message_id.replace("\\", "").replace('"', "")
                for uid in reversed(await mailbox.search(f'HEADER Message-ID "{quoted}"')):
                    raw = await mailbox.fetch(uid)
                    data = await asyncio.to_thread(part_bytes, raw, part) if raw is not None else None
                    if data is not None:
                        return data
        except MAILBOX_ERRORS as error:
            raise TemporaryDeliveryError(f"mailbox {imap.host}: {type(error).__name__}: {error}") from None
        finally:
            await mailbox.close()
        raise PermanentDeliveryError(f"{attachment.name}: the mail {message_id} is no longer in the mailbox")

    # --- sending ---------------------------------------------------------------------------------------------

    async def deliver(self, message: OutboundMessage) -> str | None:
        """Send `message` into its thread; returns our Message-ID."""
        root = message.address
        conversation = await self.threads.conversation(root)
        if conversation is None:
            raise PermanentDeliveryError(f"no e-mail thread {root!r} known: nobody to send to")
        if message.author == "bot" and not await self.threads.allow_auto_reply(
                conversation.customer, message.id, self.settings.auto_reply_limit,
                self.settings.auto_reply_window_seconds):
            log.warning("email: automatic answers to %s over the limit (%d per %.0fs); %s not sent",
                        conversation.customer, self.settings.auto_reply_limit,
                        self.settings.auto_reply_window_seconds, message.id)
            await self._event("auto_reply_suppressed", customer=conversation.customer, message=message.id)
            return None
        message_id = message_id_for(message.id, self.settings.domain)
        case = message.case if message.case is not None else conversation.case
        # Remembered before sending: a customer's instant answer must find its thread.
        await self.threads.add(message_id, root)
        if case is not None:
            await self.threads.learn_case(case, root, conversation.customer)
        await self.threads.set_options(root, message.options)
        mail = compose_reply(
            message, ThreadInfo(conversation.customer, conversation.customer_name, conversation.subject, case,
                                conversation.references),
            from_address=self.settings.address or "", display_name=self.settings.display_name,
            agent_display_name=self.settings.agent_display_name, message_id=message_id)
        await self.sender.send(mail)
        return message_id
