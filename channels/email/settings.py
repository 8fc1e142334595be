"""The email channel's settings (`channels.email` in helpline.yaml), checked at start.

Everything but `enabled` may be left out while the channel is off; once it is on, the mailbox
address and the IMAP and SMTP servers must be given. Passwords are SecretStr.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from channels.delivery_settings import DeliverySettings

Security = Literal["tls", "starttls", "none"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImapSettings(_Section):
    host: str | None = None
    port: int = Field(993, ge=0, le=65535)
    security: Security = "tls"  # tls: port 993; starttls: port 143 upgraded; none: tests and local relays only
    verify_tls: bool = True
    ca_file: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    folder: str = "INBOX"
    processed_folder: str | None = None  # move handled mail here; when absent it is marked \Seen
    unprocessable_folder: str | None = None  # move mail that cannot be read here; when absent it is flagged
    idle: bool = True  # use IDLE when the server offers it, else poll
    idle_seconds: float = Field(600.0, gt=0, le=1740)  # renew IDLE before servers drop it (29 minutes)
    poll_seconds: float = Field(30.0, gt=0)
    timeout_seconds: float = Field(30.0, gt=0)
    reconnect_max_seconds: float = Field(60.0, gt=0)  # backoff ceiling between reconnects
    unreachable_after_seconds: float = Field(300.0, gt=0)  # report the mailbox down after this long


class SmtpSettings(_Section):
    host: str | None = None
    port: int = Field(587, ge=0, le=65535)
    security: Security = "starttls"  # starttls: 587; tls: 465
    verify_tls: bool = True
    ca_file: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(30.0, gt=0)


class EmailChannelSettings(_Section, DeliverySettings):
    enabled: bool = False
    address: str | None = None  # the support mailbox: From of our replies, and the echo guard
    display_name: str = "Support"
    agent_display_name: str | None = "$agent_name ($display_name)"  # From name of agents' replies; null: display_name
    message_id_domain: str | None = None  # right-hand side of our Message-IDs; default: the address's domain
    imap: ImapSettings = ImapSettings()
    smtp: SmtpSettings = SmtpSettings()
    max_attachment_bytes: int = Field(25 * 1024 * 1024, ge=0)  # larger ones are listed, not kept for fetching
    max_attachments: int = Field(50, ge=0)  # listed per mail; the rest are counted in the log
    max_message_bytes: int = Field(50 * 1024 * 1024, ge=64 * 1024)  # only this much of a bigger mail is read
    max_text_chars: int = Field(20_000, ge=1000)  # a longer text goes to the inbox cut, with a note saying so
    auto_reply_limit: int = Field(5, ge=0)  # bot answers to one sender per window; more go unanswered
    auto_reply_window_seconds: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailChannelSettings:
        if not self.enabled:
            return self
        missing = [name for name, value in (
            ("address", self.address), ("imap.host", self.imap.host), ("imap.user", self.imap.user),
            ("imap.password", self.imap.password), ("smtp.host", self.smtp.host)) if not value]
        if missing:
            raise ValueError(f"the email channel is enabled but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'}"
                             " not set")
        if self.address and "@" not in self.address:
            raise ValueError(f"address {self.address!r} is not an e-mail address")
        if self.smtp.user and self.smtp.password is None:
            raise ValueError("smtp.user is set but smtp.password is not")
        return self

    @property
    def domain(self) -> str:
        return self.message_id_domain or (self.address or "helpline.invalid").rpartition("@")[2]
