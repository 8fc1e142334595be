"""Header bounds: however many and however long the headers, the body is read whole and the work is bounded."""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email import parse
from channels.email.parse import parse_mail

HEADER_NAMES = st.sampled_from(["Subject", "X-Junk", "Received", "From", "References", "Comments"])
HEADER_VALUE = st.text(alphabet="ab =?Q_:<>@.\t", max_size=300)
FOLDED = st.lists(HEADER_VALUE, min_size=1, max_size=4).map("\r\n ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(HEADER_NAMES, FOLDED), max_size=30), st.text(alphabet="xyz .\n", min_size=1, max_size=200))
def test_the_body_survives_any_header_section_and_the_headers_stay_bounded(headers: list[tuple[str, str]],
                                                                            body: str) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    raw = ("From: Ann <ann@customer.test>\r\nMessage-ID: <h@customer.test>\r\n" + head
           + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    with mock.patch.object(parse, "MAX_HEADER_BYTES", 400), mock.patch.object(parse, "MAX_HEADER_CHARS", 120):
        bounded = parse._bounded_headers(raw, [])
        parsed = parse_mail(raw)
    header_section = bounded.split(b"\r\n\r\n", 1)[0]
    assert len(header_section) <= 400 + 2 * (len(headers) + 4)  # each kept line may add its CRLF
    assert all(len(line) <= 120 for line in header_section.split(b"\r\n"))
    assert bounded.endswith(raw[raw.index(b"\r\n\r\n"):])  # the body, byte for byte
    assert parsed.from_address == "ann@customer.test" and parsed.message_id == "<h@customer.test>"
    assert len(parsed.subject) <= parse.MAX_SUBJECT_CHARS


def test_a_flood_of_headers_is_cut_and_listed() -> None:
    raw = (b"From: ann@customer.test\r\nMessage-ID: <flood@customer.test>\r\n" + b"X-Junk: aaaaaaaaaa\r\n" * 50_000
           + b"\r\nThe question.\r\n")
    parsed = parse_mail(raw)
    assert parsed.text.strip() == "The question."
    assert parsed.message_id == "<flood@customer.test>"
    assert any("header line(s) not read" in defect for defect in parsed.defects)
