"""An aiosmtpd SMTP server on a free loopback port, in the test's own event loop, recording every mail."""

from __future__ import annotations

import asyncio
import email
import ssl
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


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
    """Plain SMTP by default; with `tls_context`, STARTTLS and AUTH (user `support`, password `smtp-pw`) required."""

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.recorder = Recorder()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.tls_context = tls_context
        self.logins: list[str] = []

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"support" and data.password == b"smtp-pw"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=ok)  # not handled: aiosmtpd answers 535 itself

    def _protocol(self) -> SMTP:
        if self.tls_context is None:
            return SMTP(self.recorder, hostname="smtp.test")
        return SMTP(self.recorder, hostname="smtp.test", tls_context=self.tls_context, require_starttls=True,
                    auth_required=True, authenticator=self._authenticate, auth_exclude_mechanism=["LOGIN"])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._protocol, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def settings(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "timeout_seconds": 5}
