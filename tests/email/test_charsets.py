"""Legacy charsets declared wrongly or not at all: the text our customers wrote, not mojibake."""

from __future__ import annotations

import pytest

from channels.email.charsets import decode_text
from channels.email.parse import parse_mail

LATVIAN = "Labdien! Mans pasūtījums nav atnācis, lūdzu palīdziet. Paldies, Jānis Ķirsis"
HUNGARIAN = "Szeretném visszaküldeni a terméket, mert hibás. Hogyan kérhetek visszatérítést? Üdvözlettel"
GREEK = "Καλημέρα, η παραγγελία μου δεν έχει φτάσει ακόμα."
FRENCH = "Bonjour, très bien reçu, merci. À bientôt, Hélène"
GERMAN = "Guten Tag, die Lieferung ist nicht angekommen. Grüße, Jürgen Müßig"


@pytest.mark.parametrize("text, codec", [
    (LATVIAN, "windows-1257"), (LATVIAN, "iso-8859-13"), (LATVIAN, "iso-8859-4"),
    (HUNGARIAN, "iso-8859-2"), (HUNGARIAN, "windows-1250"),
    (GREEK, "iso-8859-7"), (GREEK, "windows-1253"),
    (FRENCH, "windows-1252"), (GERMAN, "iso-8859-1"),
])
@pytest.mark.parametrize("declared", ["right", "none", "iso-8859-1"])
def test_legacy_text_is_read_right(text: str, codec: str, declared: str) -> None:
    label = {"right": codec, "none": None, "iso-8859-1": "iso-8859-1"}[declared]
    decoded, _ = decode_text(text.encode(codec), label)
    assert decoded == text


def test_a_latvian_mail_without_charset_is_parsed_right() -> None:
    raw = ("From: Janis <janis@example.lv>\r\nTo: support@example.com\r\nSubject: pasutijums\r\n"
           "Message-ID: <lv-1@example.lv>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n").encode("ascii") + LATVIAN.encode("windows-1257") + b"\r\n"
    parsed = parse_mail(raw)
    assert parsed.text.strip() == LATVIAN
