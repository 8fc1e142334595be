"""Legacy charsets declared wrongly or not at all: the text our customers wrote, not mojibake."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("text, codec", [
    (LATVIAN, "windows-1257"), (HUNGARIAN, "iso-8859-2"), (GREEK, "iso-8859-7"), (FRENCH, "windows-1252"),
])
@pytest.mark.parametrize("declared", ["utf-8", "shift_jis", "euc-kr", "iso-2022-jp"])
def test_a_declared_charset_that_fails_is_replaced_by_a_guess(text: str, codec: str, declared: str) -> None:
    """A label the bytes do not decode in: the text is guessed, never filled with U+FFFD."""
    data = text.encode(codec)
    try:
        data.decode(declared)
    except UnicodeDecodeError:
        pass
    else:
        pytest.skip(f"{codec} bytes of this text happen to decode as {declared}")
    decoded, used = decode_text(data, declared)
    assert decoded == text and used != declared


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc ĀāĒēĪīŠšŽžőűáéΩαβγ€", min_size=1, max_size=80),
       st.sampled_from(["windows-1257", "iso-8859-2", "iso-8859-7", "windows-1250"]))
def test_undecodable_bytes_under_a_utf8_label_never_become_replacement_characters(text: str, codec: str) -> None:
    try:
        data = text.encode(codec)
        data.decode("utf-8")
    except UnicodeEncodeError:
        return  # the codec cannot write these letters
    except UnicodeDecodeError:
        pass
    decoded, _ = decode_text(data, "utf-8")
    assert "\ufffd" not in decoded
    assert len(decoded) == len(data) or decoded == data.decode("utf-8", "strict")


def test_a_mail_with_a_failing_declared_charset_reads_in_its_real_one() -> None:
    raw = ("From: Janis <janis@example.lv>\r\nTo: support@example.com\r\nSubject: pasutijums\r\n"
           "Message-ID: <lv-2@example.lv>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n").encode("ascii") + LATVIAN.encode("windows-1257") + b"\r\n"
    parsed = parse_mail(raw)
    assert parsed.text.strip() == LATVIAN
