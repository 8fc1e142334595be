"""RFC 2047 encoded words: decoded right, in linear time, off the event loop (review point 4)."""

from __future__ import annotations

import base64
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email import channel as channel_module
from channels.email.encoded_words import decode_encoded_words
from channels.email.parse import MAX_SUBJECT_CHARS, parse_mail
from tests.email.conftest import Harness, email_settings, mail

CHARSETS = ("utf-8", "iso-8859-7", "windows-1257", "iso-8859-2")
# Letters each of CHARSETS can write. Their legacy bytes are all 0xC0 or above (never a UTF-8 continuation
# byte), so the charset checks in decode_text cannot take them for mislabelled UTF-8.
LETTERS = {"utf-8": "aéőāΩж€ 🙂?_=", "iso-8859-7": "aαβγδε ?_=", "windows-1257": "aāēīķļņšž ?_=",
           "iso-8859-2": "aőűáé ?_="}


@st.composite
def encoded_word(draw: st.DrawFn) -> tuple[str, str]:
    """(the word as a mailer writes it, the text it stands for)."""
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(st.text(alphabet=LETTERS[charset], min_size=1, max_size=12))
    data = text.encode(charset)
    if draw(st.booleans()):
        payload = base64.b64encode(data).decode("ascii")
        return f"=?{charset}?{draw(st.sampled_from('bB'))}?{payload}?=", text
    payload = "".join("_" if byte == 0x20 else chr(byte) if chr(byte).isalnum() and byte < 128 else f"={byte:02X}"
                      for byte in data)
    return f"=?{charset}?{draw(st.sampled_from('qQ'))}?{payload}?=", text


PLAIN_WORD = st.text(alphabet="abcXYZ019.,:;!()[]#-", min_size=1, max_size=10)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(encoded_word(), PLAIN_WORD.map(lambda word: (word, word))), min_size=1, max_size=12),
       st.lists(st.sampled_from([" ", "  ", "\t", "\r\n ", "\r\n\t"]), min_size=12, max_size=12))
def test_any_mix_of_encoded_and_plain_words_decodes_to_its_text(words: list[tuple[str, str]],
                                                                 spaces: list[str]) -> None:
    header, expected = "", ""
    previous_encoded = False
    for index, (written, meant) in enumerate(words):
        encoded = written.startswith("=?")
        space = spaces[index] if index else ""
        header += space + written
        if index and not (encoded and previous_encoded):  # whitespace between encoded words is dropped
            expected += space.replace("\r\n", "")
        expected += meant
        previous_encoded = encoded
    assert decode_encoded_words(header) == expected


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_decodes_without_raising_and_plain_text_stays(value: str) -> None:
    decoded = decode_encoded_words(value)
    if "=?" not in value:
        assert decoded == value.replace("\r\n ", " ").replace("\r\n\t", "\t").replace("\n ", " ").replace("\n\t", "\t")


@pytest.mark.parametrize("header, text", [
    ("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=", "café"),  # one character split over two words
    ("=?UTF-8?B?zrHOsg==?=", "αβ"),
    ("=?utf-8?b?zrHOsg?=", "αβ"),  # padding left out
    ("=?utf-8*en?q?hello_world?=", "hello world"),  # RFC 2231 language
    ("=?iso-8859-1?q?=C3=A9t=C3=A9?=", "été"),  # UTF-8 labelled Latin-1
    ("=?utf-8?q?J=E2nis?=", "Jānis"),  # windows-1257 labelled UTF-8: guessed, not U+FFFD
    ("=?x-unknown?q?Sz=E1mla?=", "Számla"),
    ("Re: =?utf-8?q?Bestellung?= [#1042]", "Re: Bestellung [#1042]"),
    ("=?utf-8?q?a?= =?iso-8859-7?q?=E1?=", "aα"),
    ("=?utf-8?q?broken", "=?utf-8?q?broken"),
    ("=?utf-8?b?a?=", "=?utf-8?b?a?="),  # one base64 character: no bytes in it, kept as written
    ("=?", "=?"),
])
def test_real_world_encoded_words(header: str, text: str) -> None:
    assert decode_encoded_words(header) == text
    assert "\ufffd" not in decode_encoded_words(header)


@pytest.mark.timeout(30)  # the standard library's decoder takes minutes here; this one a fraction of a second
def test_a_subject_of_200k_encoded_words_is_read_and_cut() -> None:
    subject = " ".join(f"=?utf-8?q?w{index}?=" for index in range(200_000))
    parsed = parse_mail(mail(subject=subject, message_id="<many-words@customer.test>"))
    assert parsed.subject.startswith("w0w1w2w3")
    assert len(parsed.subject) <= MAX_SUBJECT_CHARS
    assert parsed.message_id == "<many-words@customer.test>"
    assert any("subject" in defect for defect in parsed.defects)
    assert any("header section" in defect for defect in parsed.defects)


async def test_mail_is_parsed_off_the_event_loop(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = channel_module.parse_mail

    def recording(raw: bytes):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return real(raw)

    monkeypatch.setattr(channel_module, "parse_mail", recording)
    received = await harness.channel(email_settings(None)).receive(mail(message_id="<off-loop@customer.test>"))
    assert received.outcome == "submitted"
    assert threads and threads[0] is not threading.current_thread()
