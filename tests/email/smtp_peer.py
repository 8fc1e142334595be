"""An aiosmtpd SMTP server on a free loopback port, in the test's own event loop, recording every mail."""

from __future__ import annotations

import asyncio
import email
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.data_reply = "250 OK"  # set to "451 ..." or "550 ..." to refuse
        self.rcpt_reply: str | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply

    @property
    def messages(self) -> list[Message]:
        return [email.message_from_bytes(e.content, policy=default_policy) for e in self.envelopes]  # type: ignore[arg-type]


class SmtpPeer:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: SMTP(self.recorder, hostname="smtp.test"), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def settings(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "timeout_seconds": 5}
