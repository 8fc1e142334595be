"""Sending over SMTP (aiosmtplib): TLS, STARTTLS or plain, with auth; errors typed for the retry loop.

4xx replies and network trouble are temporary (`TemporaryDeliveryError`); 5xx replies are permanent.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from channels.base import PermanentDeliveryError, TemporaryDeliveryError
from channels.email.settings import SmtpSettings
from channels.email.tls import tls_context

log = logging.getLogger(__name__)


class SmtpSender:
    """Sends one message per connection: support mail is light, and no idle connection goes stale."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, mail: EmailMessage) -> None:
        settings = self.settings
        context = tls_context(settings.verify_tls, settings.ca_file) if settings.security != "none" else None
        try:
            errors, _ = await aiosmtplib.send(
                mail, hostname=settings.host, port=settings.port,
                username=settings.user, password=settings.password.get_secret_value() if settings.password else None,
                use_tls=settings.security == "tls", start_tls=settings.security == "starttls",
                tls_context=context, timeout=settings.timeout_seconds)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise _by_code(min(codes) if codes else 550, "; ".join(str(r) for r in error.recipients)) from None
        except aiosmtplib.SMTPResponseException as error:
            raise _by_code(error.code, error.message) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as error:
            raise TemporaryDeliveryError(f"SMTP {settings.host}:{settings.port}: {type(error).__name__}: {error}") from None
        if errors:
            # Some recipients refused while others took it: the customer is the only recipient we send to.
            log.warning("SMTP refused some recipients: %s", errors)


def _by_code(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryDeliveryError(f"SMTP {code}: {text}")
    return PermanentDeliveryError(f"SMTP {code}: {text}")
