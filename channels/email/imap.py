"""The IMAP side (aioimaplib): connect with TLS or STARTTLS, select, search, fetch, mark, and IDLE.

`Mailbox` is a thin typed layer over one IMAP connection; the channel decides what to do with mail.
Every failure surfaces as `MailboxError` (or OSError / TimeoutError from the network).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

import aioimaplib

from channels.email.settings import ImapSettings
from channels.email.tls import tls_context

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_LITERAL = re.compile(rb"\{(\d+)\}$")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass(frozen=True, slots=True)
class FetchedMail:
    data: bytes  # the message, or its first bytes when it is over the fetch limit
    size: int  # the whole message's size on the server


class MailboxError(Exception):
    """The IMAP server refused a command or the connection is gone."""


class Mailbox:
    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.client: aioimaplib.IMAP4 | None = None
        self.capabilities: set[str] = set()
        self._plain_transport: asyncio.Transport | None = None  # under STARTTLS's TLS layer
        self._lost = asyncio.Event()

    async def connect(self) -> None:
        """Connect, secure the connection as configured, log in."""
        settings = self.settings
        timeout = settings.timeout_seconds
        if settings.security == "tls":
            self.client = aioimaplib.IMAP4_SSL(settings.host or "", settings.port, timeout=timeout,
                                               ssl_context=tls_context(settings.verify_tls, settings.ca_file))
        else:
            self.client = aioimaplib.IMAP4(settings.host or "", settings.port, timeout=timeout)
        lost = self._lost = asyncio.Event()
        self.client.protocol.conn_lost_cb = lambda error: lost.set()
        await self.client.wait_hello_from_server()
        if settings.security == "starttls":
            await self._starttls()
        password = settings.password.get_secret_value() if settings.password else ""
        response = await self.client.login(settings.user or "", password)
        if response.result != "OK":
            raise MailboxError(f"IMAP login as {settings.user} refused: {_text(response)}")
        await self._refresh_capabilities()

    async def _starttls(self) -> None:
        # aioimaplib has no STARTTLS helper: send the command, then upgrade the transport in place.
        client = self.client
        assert client is not None
        protocol = client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise MailboxError("the IMAP server does not offer STARTTLS")
        response = await asyncio.wait_for(
            protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)),
            self.settings.timeout_seconds)
        if response.result != "OK":
            raise MailboxError(f"STARTTLS refused: {_text(response)}")
        loop = asyncio.get_running_loop()
        context = tls_context(self.settings.verify_tls, self.settings.ca_file)
        self._plain_transport = protocol.transport
        protocol.transport = await loop.start_tls(protocol.transport, protocol, context,
                                                  server_hostname=self.settings.host)
        await asyncio.wait_for(protocol.capability(), self.settings.timeout_seconds)

    async def _refresh_capabilities(self) -> None:
        assert self.client is not None
        await asyncio.wait_for(self.client.protocol.capability(), self.settings.timeout_seconds)
        self.capabilities = {str(c).upper() for c in self.client.protocol.capabilities}

    @property
    def can_idle(self) -> bool:
        return "IDLE" in self.capabilities

    @property
    def connected(self) -> bool:
        client = self.client
        if client is None:
            return False
        transport = client.protocol.transport
        return transport is not None and not transport.is_closing() and client.get_state() in ("AUTH", "SELECTED")

    async def ensure_folder(self, name: str) -> None:
        """Create `name` unless it exists (a failure here shows up later, when mail is moved)."""
        assert self.client is not None
        response = await self.client.create(_quote(name))
        if response.result != "OK" and b"ALREADYEXISTS" not in b" ".join(_lines(response)).upper() \
                and b"EXISTS" not in b" ".join(_lines(response)).upper():
            log.warning("could not create IMAP folder %s: %s", name, _text(response))

    async def select(self, folder: str) -> int:
        """Select `folder`; returns its UIDVALIDITY."""
        assert self.client is not None
        response = await self.client.select(_quote(folder))
        if response.result != "OK":
            raise MailboxError(f"cannot select {folder}: {_text(response)}")
        for line in _lines(response):
            match = _UIDVALIDITY.search(line)
            if match:
                return int(match.group(1))
        raise MailboxError(f"{folder}: the server gave no UIDVALIDITY")

    async def search(self, criteria: str) -> list[int]:
        assert self.client is not None
        response = await self.client.uid_search(criteria, charset=None)
        if response.result != "OK":
            raise MailboxError(f"UID SEARCH {criteria} failed: {_text(response)}")
        uids: list[int] = []
        for line in _lines(response)[:-1]:  # the last line is the status text
            tokens = line.split()
            if tokens and tokens[0].upper() == b"SEARCH":  # aioimaplib usually strips it, not always
                tokens = tokens[1:]
            if tokens and all(token.isdigit() for token in tokens):
                uids += [int(token) for token in tokens]
        return sorted(set(uids))

    async def fetch(self, uid: int) -> bytes | None:
        """The raw message with `uid` (not marking it \\Seen), or None when it is gone."""
        fetched = await self.fetch_mail(uid)
        return fetched.data if fetched is not None else None

    async def fetch_mail(self, uid: int, limit: int | None = None) -> FetchedMail | None:
        """The message with `uid`, at most its first `limit` bytes, and its whole size; None when it is gone.

        PEEK: the message is marked \\Seen only once it is in the inbox (mark_processed), never by fetching.
        """
        assert self.client is not None
        part = f"BODY.PEEK[]<0.{limit}>" if limit is not None else "BODY.PEEK[]"
        response = await self.client.uid("fetch", str(uid), f"(RFC822.SIZE {part})")
        if response.result != "OK":
            raise MailboxError(f"UID FETCH {uid} failed: {_text(response)}")
        lines = response.lines
        for index, line in enumerate(lines):
            if isinstance(line, (bytes, bytearray)) and _LITERAL.search(bytes(line)) and index + 1 < len(lines):
                data = bytes(lines[index + 1])
                size = _SIZE.search(bytes(line))
                return FetchedMail(data, int(size.group(1)) if size else len(data))
        return None

    async def mark_processed(self, uid: int, folder: str | None) -> None:
        """Handled: \\Seen, and moved to `folder` when one is configured."""
        await self._store(uid, "+FLAGS.SILENT (\\Seen)")
        if folder:
            await self._move(uid, folder)

    async def mark_unprocessable(self, uid: int, folder: str | None) -> None:
        """Could not be read: moved to `folder`, or flagged where it is for a person to look at."""
        await self._store(uid, "+FLAGS.SILENT (\\Seen \\Flagged)")
        if folder:
            await self._move(uid, folder)

    async def _store(self, uid: int, flags: str) -> None:
        assert self.client is not None
        command, _, value = flags.partition(" ")
        response = await self.client.uid("store", str(uid), command, value)
        if response.result != "OK":
            raise MailboxError(f"UID STORE {uid} {flags} failed: {_text(response)}")

    async def _move(self, uid: int, folder: str) -> None:
        assert self.client is not None
        if "MOVE" in self.capabilities:
            response = await self.client.uid("move", str(uid), _quote(folder))
            if response.result != "OK":
                raise MailboxError(f"UID MOVE {uid} {folder} failed: {_text(response)}")
            return
        response = await self.client.uid("copy", str(uid), _quote(folder))
        if response.result != "OK":
            raise MailboxError(f"UID COPY {uid} {folder} failed: {_text(response)}")
        await self._store(uid, "+FLAGS.SILENT (\\Deleted)")
        if "UIDPLUS" in self.capabilities:
            await self.client.uid("expunge", str(uid))
        else:
            await self.client.expunge()

    async def wait_for_news(self, seconds: float, stop: asyncio.Event) -> None:
        """IDLE until the server reports new mail, `seconds` pass, or `stop` is set."""
        client = self.client
        assert client is not None
        idle = await client.idle_start(timeout=seconds + 30)
        deadline = time.monotonic() + seconds
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    push = await client.wait_server_push(timeout=min(1.0, max(0.05, deadline - time.monotonic())))
                except TimeoutError:
                    if not self.connected:
                        raise MailboxError("the IMAP connection closed during IDLE") from None
                    continue
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                lines = push if isinstance(push, list) else [push]
                if any(b"EXISTS" in bytes(line) or b"BYE" in bytes(line) for line in lines
                       if isinstance(line, (bytes, bytearray))):
                    break
        finally:
            if self.connected:
                client.idle_done()
                try:
                    await asyncio.wait_for(idle, self.settings.timeout_seconds)
                except TimeoutError:
                    raise MailboxError("the IMAP server did not end IDLE") from None

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.protocol.transport is not None and not client.protocol.transport.is_closing():
                await asyncio.wait_for(client.logout(), 5)
        except Exception as error:  # noqa: BLE001 - closing a broken connection: nothing left to save
            log.debug("IMAP logout failed: %s", error)
        finally:
            transport = client.protocol.transport
            if transport is not None:
                transport.close()
            # A TLS layer closes the socket under it only after its shutdown: wait for that, then cut.
            if transport is not None:
                try:
                    await asyncio.wait_for(self._lost.wait(), 1.0)
                except TimeoutError:
                    transport.abort()
            plain, self._plain_transport = self._plain_transport, None
            if plain is not None and not plain.is_closing():
                plain.abort()
            await asyncio.sleep(0)


def _lines(response: aioimaplib.Response) -> list[bytes]:
    return [bytes(line) for line in response.lines if isinstance(line, (bytes, bytearray))]


def _text(response: aioimaplib.Response) -> str:
    return " ".join(line.decode("utf-8", "replace") for line in _lines(response))[:300]


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
