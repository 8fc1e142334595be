"""TLS contexts for IMAP and SMTP from the channel settings."""

from __future__ import annotations

import ssl


def tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client context: the system's CAs (or `ca_file`); `verify=False` only for tests and local relays."""
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
