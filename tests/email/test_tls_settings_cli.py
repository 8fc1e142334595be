"""IMAP over TLS and STARTTLS (self-signed certificate made here), the settings, and `helpline email parse`."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.cli import main
from bot.settings import parse_settings
from channels.email.imap import Mailbox
from channels.email.settings import EmailChannelSettings, ImapSettings
from tests.email.conftest import _dovecot_missing, mail
from tests.email.dovecot import Dovecot, make_dovecot


@pytest.fixture
def tls_dovecot() -> Iterator[Dovecot]:
    reason = _dovecot_missing()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    server = make_dovecot(root, tls=True)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_imap_tls_and_starttls_with_a_verified_certificate(tls_dovecot: Dovecot, security: str) -> None:
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port
    mailbox = Mailbox(ImapSettings(host="127.0.0.1", port=port, security=security, ca_file=str(tls_dovecot.cert),
                                   user=tls_dovecot.user, password=tls_dovecot.password, timeout_seconds=5))
    try:
        await mailbox.connect()
        assert await mailbox.select("INBOX") > 0
        assert "IDLE" in mailbox.capabilities
    finally:
        await mailbox.close()


async def test_imap_tls_refuses_an_unknown_certificate(tls_dovecot: Dovecot) -> None:
    mailbox = Mailbox(ImapSettings(host="127.0.0.1", port=tls_dovecot.tls_port, security="tls",
                                   user=tls_dovecot.user, password=tls_dovecot.password, timeout_seconds=5))
    try:
        with pytest.raises(OSError):  # ssl.SSLCertVerificationError
            await mailbox.connect()
    finally:
        await mailbox.close()


def test_email_settings_disabled_by_default_and_complete_when_enabled() -> None:
    settings = parse_settings("languages: [en]\n", "helpline.yaml", {})
    assert settings.channels.email.enabled is False
    with pytest.raises(Exception) as error:
        parse_settings("channels:\n  email: {enabled: true, address: support@example.com}\n", "helpline.yaml", {})
    assert "channels.email" in str(error.value) and "imap.host" in str(error.value)
    enabled = EmailChannelSettings(enabled=True, address="support@example.com",
                                   imap={"host": "imap.example.com", "user": "u", "password": "imap-secret"},
                                   smtp={"host": "smtp.example.com", "user": "u", "password": "smtp-secret"})
    assert "imap-secret" not in repr(enabled) and "smtp-secret" not in repr(enabled)
    assert enabled.domain == "example.com"
    with pytest.raises(ValidationError):
        EmailChannelSettings(enabled=True, address="support@example.com", imap={"host": "h", "user": "u",
                             "password": "p"}, smtp={"host": "s"}, typo_key=1)


def test_shipped_config_keeps_email_off_and_reads_secrets_from_the_environment() -> None:
    text = Path("config/helpline.yaml").read_text()
    settings = parse_settings(text, "config/helpline.yaml", {"HELPLINE_IMAP_PASSWORD": "from-env"})
    assert settings.channels.email.enabled is False
    assert settings.channels.email.imap.password is not None
    assert settings.channels.email.imap.password.get_secret_value() == "from-env"


def test_cli_email_parse_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config file here: built-in defaults
    path = tmp_path / "reply.eml"
    path.write_bytes(mail(subject="Re: Παραγγελία [#1042]", message_id="<x@customer.test>",
                          headers="In-Reply-To: <hl.1@example.com>\r\nReferences: <r@x> <hl.1@example.com>\r\n",
                          body="Ευχαριστώ πολύ!\r\n\r\nΣτις Δευ 4 Μαρ 2024 στις 10:15, ο/η Support "
                               "<support@example.com> έγραψε:\r\n> Καλησπέρα\r\n"))
    assert main(["email", "parse", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["text"] == "Ευχαριστώ πολύ!"
    assert shown["quoted"].startswith("Στις")
    assert shown["case_number"] == 1042
    assert shown["in_reply_to"] == "<hl.1@example.com>"
    assert shown["references"] == ["<r@x>", "<hl.1@example.com>"]
    assert shown["language"] == "el"
    assert shown["automatic"] is False
    assert shown["from"]["address"] == "ann@customer.test"
    assert main(["email", "parse", str(path)]) == 0
    assert "Ευχαριστώ πολύ!" in capsys.readouterr().out
    assert main(["email", "parse", str(tmp_path / "missing.eml")]) == 1

    # Latvian typed without accents and no Content-Language: the language the router will answer in.
    path.write_bytes(mail(subject="pasutijums", message_id="<y@customer.test>",
                          body="Labdien, kur ir mans pasutijums? Gaidu jau nedelu, ludzu palidziet.\r\n"))
    assert main(["email", "parse", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["language"] == "lv"
