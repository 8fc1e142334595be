"""The parser on every shared fixture, on legacy charsets and on whatever bytes hypothesis makes up."""

from __future__ import annotations

import re
import urllib.parse
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.parse import parse_mail, strip_subject_prefixes

DATA = Path("/work/shared/data/email")
FIXTURES = sorted(path for path in DATA.rglob("*") if path.is_file() and path.suffix != ".md") if DATA.exists() else []
TALON = DATA / "replies" / "talon"

needs_data = pytest.mark.skipif(not DATA.exists(), reason=f"shared mail fixtures not found at {DATA}")


@needs_data
@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: str(path.relative_to(DATA)))
def test_every_shared_message_parses(path: Path) -> None:
    parsed = parse_mail(path.read_bytes())
    assert isinstance(parsed.text, str) and isinstance(parsed.body, str)
    assert parsed.to_dict()["attachments"] is not None


@needs_data
@pytest.mark.parametrize("name", ["iphone", "sparrow"])
def test_talon_replies_match_their_expected_text(name: str) -> None:
    parsed = parse_mail((TALON / "standard_replies" / f"{name}.eml").read_bytes())
    expected = (TALON / "standard_replies" / f"{name}_reply_text.txt").read_text()
    # talon keeps the signature in its expected reply; we keep it apart.
    assert _squash(parsed.text + parsed.signature) == _squash(expected)
    assert parsed.text.strip() == "Hello"
    assert "> Hi" in parsed.quoted or "Hi" in parsed.quoted


@needs_data
@pytest.mark.parametrize("path", sorted((TALON / "html_replies").glob("*.html")) if DATA.exists() else [],
                         ids=lambda path: path.name)
def test_talon_html_replies_keep_only_the_answer(path: Path) -> None:
    message = EmailMessage()
    message["From"] = "alex@example.com"
    message["Subject"] = "Re: Test message"
    message.set_content(path.read_text(encoding="utf-8", errors="replace"), subtype="html")
    parsed = parse_mail(message.as_bytes())
    assert parsed.body_from_html
    # talon's own expectation for these files, compared without whitespace.
    assert _squash(parsed.text) == "Hi.Iamfine.Thanks,Alex"
    assert "Hello! How are you?" in parsed.quoted


@needs_data
@pytest.mark.parametrize("name", sorted(path.stem for path in (TALON / "standard_replies").glob("*.eml"))
                         if DATA.exists() else [])
def test_talon_standard_replies_lose_their_quote(name: str) -> None:
    parsed = parse_mail((TALON / "standard_replies" / f"{name}.eml").read_bytes())
    assert parsed.text, name
    assert parsed.quoted, name
    assert not any(line.startswith(">") for line in parsed.text.splitlines())


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- legacy charsets -------------------------------------------------------------------------------------

GREEK = "Καλησπέρα, η παραγγελία μου δεν έχει φτάσει ακόμα. Ευχαριστώ!"
HUNGARIAN = "Jó napot! A rendelésem még nem érkezett meg, árvíztűrő tükörfúrógép. Köszönöm!"
LATVIAN = "Labdien! Mans pasūtījums vēl nav pienācis, lūdzu pārbaudiet. Paldies, Jānis Ķēniņš"


def _raw_mail(body: bytes, charset: str | None, subject: bytes = b"Hello", cte: str = "8bit",
              extra: bytes = b"") -> bytes:
    content_type = b"text/plain" + (f"; charset={charset}".encode() if charset else b"")
    return (b"From: Customer <customer@example.com>\r\nTo: support@example.com\r\nSubject: " + subject +
            b"\r\nMessage-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: " + content_type +
            f"\r\nContent-Transfer-Encoding: {cte}\r\n".encode() + extra + b"\r\n" + body + b"\r\n")


@pytest.mark.parametrize("text,charset,language", [
    (GREEK, "iso-8859-7", "el"), (GREEK, "windows-1253", "el"),
    (HUNGARIAN, "iso-8859-2", "hu"), (HUNGARIAN, "windows-1250", "hu"),
    (LATVIAN, "iso-8859-13", "lv"), (LATVIAN, "windows-1257", "lv"), (LATVIAN, "iso-8859-4", "lv"),
])
def test_legacy_charsets_declared(text: str, charset: str, language: str) -> None:
    parsed = parse_mail(_raw_mail(text.encode(charset), charset))
    assert parsed.text == text
    assert parsed.language == language


@pytest.mark.parametrize("text,charset", [
    (GREEK, "windows-1253"), (GREEK, "iso-8859-7"), (HUNGARIAN, "iso-8859-2"), (HUNGARIAN, "windows-1250"),
    (LATVIAN, "windows-1257"), (LATVIAN, "iso-8859-13"),
])
def test_legacy_charsets_undeclared_are_guessed(text: str, charset: str) -> None:
    parsed = parse_mail(_raw_mail(text.encode(charset), None))
    # Sister codecs differ in a letter or two; the words a customer wrote must read right.
    assert _letters_match(parsed.text, text) >= 0.97


def _letters_match(got: str, want: str) -> float:
    same = sum(1 for a, b in zip(got, want) if a == b)
    return same / max(len(want), len(got))


def test_utf8_labelled_latin1_is_read_as_utf8() -> None:
    parsed = parse_mail(_raw_mail(GREEK.encode("utf-8"), "iso-8859-1"))
    assert parsed.text == GREEK


# (Baltic text labelled ISO-8859-1 still reads as Latin-1: its letters look like plausible Western ones.)
@pytest.mark.parametrize("text,actual", [(GREEK, "windows-1253"), (GREEK, "iso-8859-7"), (HUNGARIAN, "iso-8859-2")])
def test_legacy_mail_labelled_latin1_is_read_in_its_real_charset(text: str, actual: str) -> None:
    parsed = parse_mail(_raw_mail(text.encode(actual), "iso-8859-1"))
    assert _letters_match(parsed.text, text) >= 0.97


def test_western_mail_labelled_latin1_stays_latin1() -> None:
    for text in ("Die Hasen und die Frösche, mißliche Lage, außerordentliche Getöse.",
                 "Ça va très bien, merci. À bientôt, señor Muñoz!", "Tack så mycket för hjälpen, vänliga hälsningar."):
        assert parse_mail(_raw_mail(text.encode("iso-8859-1"), "iso-8859-1")).text == text


def test_unknown_charset_label_falls_back() -> None:
    parsed = parse_mail(_raw_mail(HUNGARIAN.encode("utf-8"), "x-no-such-charset"))
    assert parsed.text == HUNGARIAN


def test_quoted_printable_and_base64_in_legacy_charsets() -> None:
    import base64
    import quopri

    qp = quopri.encodestring(GREEK.encode("iso-8859-7"))
    assert parse_mail(_raw_mail(qp, "iso-8859-7", cte="quoted-printable")).text == GREEK
    b64 = base64.encodebytes(LATVIAN.encode("windows-1257"))
    assert parse_mail(_raw_mail(b64, "windows-1257", cte="base64")).text == LATVIAN


def test_encoded_word_headers_and_raw_8bit_headers() -> None:
    subject = b"=?iso-8859-7?B?" + __import__("base64").b64encode("Παραγγελία".encode("iso-8859-7")) + b"?= [#1042]"
    parsed = parse_mail(_raw_mail(b"x", "us-ascii", subject=subject))
    assert parsed.subject == "Παραγγελία [#1042]"
    assert parsed.case_number == 1042
    raw = parse_mail(_raw_mail(b"x", None, subject="Számla kérdés".encode("windows-1250")))
    assert raw.subject == "Számla kérdés"


def test_rfc2231_and_encoded_word_filenames() -> None:
    latvian_name = urllib.parse.quote("Rēķins.pdf".encode("iso-8859-13")).encode()
    attachment = (b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee file\r\n"
                  b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
                  b"Content-Disposition: attachment; filename*=iso-8859-13''" + latvian_name + b"\r\n\r\nAAAA\r\n"
                  b"--b\r\nContent-Type: application/pdf; name=\"=?utf-8?B?zqPPhM6/zrnPh861zq/OsS5wZGY=?=\"\r\n"
                  b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment\r\n\r\nAAAAAA==\r\n--b--\r\n")
    mail = (b"From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + attachment)
    parsed = parse_mail(mail)
    assert parsed.text == "see file"
    assert [(a.name, a.media_type, a.size) for a in parsed.attachments] == [
        ("Rēķins.pdf", "application/pdf", 3), ("Στοιχεία.pdf", "application/pdf", 4)]


def test_html_only_mail_becomes_text() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("<html><body><p>Hello <b>there</b></p><p>Line&nbsp;two</p><script>x()</script>"
                        "</body></html>", subtype="html")
    parsed = parse_mail(message.as_bytes())
    assert parsed.text == "Hello there\n\nLine two"


def test_content_language_is_the_hint() -> None:
    parsed = parse_mail(_raw_mail(b"hello", "us-ascii", extra=b"Content-Language: el-GR\r\n"))
    assert parsed.content_language == "el"


@pytest.mark.parametrize("header,automatic", [
    (b"Auto-Submitted: auto-replied\r\n", True), (b"Auto-Submitted: no\r\n", False),
    (b"Precedence: bulk\r\n", True), (b"Precedence: list\r\n", True), (b"Precedence: junk\r\n", True),
    (b"List-Unsubscribe: <mailto:x@example.com>\r\n", True), (b"", False),
])
def test_automatic_mail_is_recognised(header: bytes, automatic: bool) -> None:
    assert parse_mail(_raw_mail(b"hi", "us-ascii", extra=header)).automatic is automatic


def test_bounces_are_automatic() -> None:
    bounce = (b"From: Mail Delivery Subsystem <MAILER-DAEMON@example.com>\r\nSubject: Undelivered\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"
              b"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
              b"--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--r--\r\n")
    parsed = parse_mail(bounce)
    assert parsed.automatic and parsed.text.startswith("Your message could not")


def test_subject_prefixes_and_forwards() -> None:
    assert strip_subject_prefixes("Re: RE: Aw: Order late [#1042]") == "Order late"
    assert parse_mail(_raw_mail(b"see below", "us-ascii", subject=b"Fwd: Order late")).forwarded
    assert not parse_mail(_raw_mail(b"thanks", "us-ascii", subject=b"Re: Order late")).forwarded


def test_threading_headers() -> None:
    extra = b"In-Reply-To: <a@x>\r\nReferences: <root@x>\r\n <a@x>\r\n"
    parsed = parse_mail(_raw_mail(b"hi", "us-ascii", extra=extra))
    assert parsed.in_reply_to == "<a@x>"
    assert parsed.references == ("<root@x>", "<a@x>")
    assert parsed.thread_ids == ("<a@x>", "<root@x>")


# --- nothing ever raises ---------------------------------------------------------------------------------

MIME_PIECES = st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=x\r\n", b"--x\r\n", b"--x--\r\n", b"\r\n",
    b"Content-Type: text/plain; charset=iso-8859-7\r\n", b"Content-Type: text/html; charset=bogus\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Subject: =?utf-8?B?broken?=\r\n", b"From: <<@@>>\r\n", b"Content-Disposition: attachment; filename*=x''%ZZ\r\n",
    b"\xe1\xe2\xe3\xff\xfe", b"begin 644 f.bin\n#0V%T\n`\nend\n", b"<blockquote>", b"=?iso-8859-7?Q?=E1?=",
    b"Content-Type: message/rfc822\r\n", b"Date: not a date\r\n", b"References: <a@b> <c@d\r\n",
])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parsed = parse_mail(data)
    parsed.to_dict()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(MIME_PIECES, st.binary(max_size=40)), max_size=40))
def test_mime_shaped_garbage_never_raises(pieces: list[bytes]) -> None:
    parsed = parse_mail(b"".join(pieces))
    parsed.to_dict()
