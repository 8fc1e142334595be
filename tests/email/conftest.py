"""Fixtures for the email channel: a private Dovecot, an aiosmtpd server, the channel on a test prefix."""

from __future__ import annotations

import asyncio
import imaplib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.base import ChannelContext
from channels.email.channel import EmailChannel
from channels.email.settings import EmailChannelSettings
from router.messages import InboundMessage, from_json, inbox_fields
from tests.email.dovecot import DOVECOT, Dovecot, make_dovecot

SUPPORT = "support@example.com"


def _dovecot_missing() -> str | None:
    if not Path(DOVECOT).exists():
        return f"{DOVECOT} is not installed (apt-get install dovecot-imapd; scripts/setup does it)"
    if os.geteuid() != 0:
        return "a private dovecot needs root to start"
    return None


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    reason = _dovecot_missing()
    if reason:
        pytest.skip(reason)
    # Not under tmp_path: Dovecot's unprivileged processes must reach the files, and pytest's dirs are 0700.
    root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    server = make_dovecot(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


class ImapPeer:
    """The test's own IMAP client (stdlib, in a thread): delivers mail and looks at flags and folders."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=10)
        client.login(self.server.user, self.server.password)
        return client

    async def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        def run() -> None:
            client = self._client()
            try:
                client.create(folder)
                status, _ = client.append(folder, None, None, raw)
                assert status == "OK"
            finally:
                client.logout()

        await asyncio.to_thread(run)

    async def flags(self, folder: str = "INBOX") -> list[str]:
        def run() -> list[str]:
            client = self._client()
            try:
                client.select(folder)
                _, data = client.uid("fetch", "1:*", "(FLAGS)")
                return [item.decode() for item in data if isinstance(item, bytes)]
            finally:
                client.logout()

        return await asyncio.to_thread(run)

    async def count(self, folder: str) -> int:
        def run() -> int:
            client = self._client()
            try:
                status, data = client.select(folder)
                return int(data[0]) if status == "OK" else 0
            finally:
                client.logout()

        return await asyncio.to_thread(run)

    async def recreate(self, folder: str) -> None:
        """Delete and create `folder`: the server gives it a new UIDVALIDITY."""
        def run() -> None:
            client = self._client()
            try:
                client.delete(folder)
                client.create(folder)
            finally:
                client.logout()

        await asyncio.to_thread(run)


@pytest.fixture
def imap_peer(dovecot: Dovecot) -> ImapPeer:
    return ImapPeer(dovecot)


def email_settings(server: Dovecot | None, **overrides: Any) -> EmailChannelSettings:
    imap = {"host": "127.0.0.1", "port": server.port if server else 1, "security": "none",
            "user": server.user if server else "x", "password": server.password if server else "x",
            "poll_seconds": 0.3, "idle_seconds": 30, "timeout_seconds": 5, "reconnect_max_seconds": 0.5,
            "unreachable_after_seconds": 1.0, **overrides.pop("imap", {})}
    smtp = {"host": "127.0.0.1", "port": 1, "security": "none", **overrides.pop("smtp", {})}
    return EmailChannelSettings.model_validate({"enabled": True, "address": SUPPORT, "imap": imap, "smtp": smtp,
                                                **overrides})


class Harness:
    """The channel on the test's key prefix, and what it put in the inbox."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.submit_hook: Callable[[InboundMessage], Any] | None = None

    def context(self) -> ChannelContext:
        async def submit(message: InboundMessage) -> None:
            if self.submit_hook is not None:
                self.submit_hook(message)
            await self.redis.xadd(f"{self.prefix}inbox", inbox_fields(message))

        return ChannelContext(submit=submit, redis=self.redis, key=lambda name: f"{self.prefix}{name}")

    def channel(self, settings: EmailChannelSettings) -> EmailChannel:
        return EmailChannel(settings, self.context())

    async def inbox(self) -> list[InboundMessage]:
        entries = await self.redis.xrange(f"{self.prefix}inbox")
        return [from_json(InboundMessage, fields["data"]) for _, fields in entries]

    async def events(self) -> list[dict[str, str]]:
        return [fields for _, fields in await self.redis.xrange(f"{self.prefix}events")]

    async def wait_inbox(self, count: int, timeout: float = 10.0) -> list[InboundMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = await self.inbox()
            if len(messages) >= count:
                return messages
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} inbox messages, got {len(await self.inbox())}")


@pytest.fixture
async def harness(redis: Redis, prefix: str) -> AsyncIterator[Harness]:
    yield Harness(redis, prefix)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def mail(subject: str = "Help", body: str = "My order is late.", sender: str = "ann@customer.test",
         message_id: str | None = None, headers: str = "") -> bytes:
    message_id = message_id or f"<{time.monotonic_ns()}@customer.test>"
    return (f"From: Ann Customer <{sender}>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Mon, 4 Mar 2024 10:15:00 +0000\r\nMIME-Version: 1.0\r\n{headers}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
