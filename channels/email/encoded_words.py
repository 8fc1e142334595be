"""RFC 2047 encoded words (`=?charset?Q?...?=`) decoded in linear time, whatever the header holds.

The standard library's `email.header.decode_header` takes quadratic time in the number of encoded
words (a subject of 200,000 of them: over a minute), so one hostile mail could stall a reader. This
decoder makes one pass: a regular expression whose encoded text cannot contain `?` (the RFC forbids
it, and it keeps every match attempt short), then one join. Adjacent encoded words of one charset are
decoded together, so a character split between two words (as mailers do with UTF-8) comes out whole.
Each charset, declared right, wrongly or not at all, goes through `decode_text` (a guess, never U+FFFD).
"""

from __future__ import annotations

import binascii
import re

from channels.email.charsets import decode_text

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def decode_encoded_words(value: str) -> str:
    """`value` with its encoded words decoded; whitespace between two encoded words dropped (RFC 2047 §6.2)."""
    value = _FOLD.sub("", value)
    pieces: list[str] = []
    run: list[bytes] = []  # bytes of adjacent encoded words in one charset, not decoded yet
    run_charset = ""
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 adds *language
        data = _word_bytes(match.group(2), match.group(3))
        adjacent = run and not between.strip(" \t\r\n")
        if data is None:  # not decodable: keep the word as written
            _flush(pieces, run, run_charset)
            pieces.append(between)
            pieces.append(match.group(0))
        elif adjacent and charset == run_charset:
            run.append(data)
        else:
            _flush(pieces, run, run_charset)
            if not adjacent:
                pieces.append(between)
            run_charset = charset
            run.append(data)
        position = match.end()
    _flush(pieces, run, run_charset)
    pieces.append(value[position:])
    return "".join(pieces)


def _flush(pieces: list[str], run: list[bytes], charset: str) -> None:
    if run:
        pieces.append(decode_text(b"".join(run), charset)[0])
        run.clear()


def _word_bytes(encoding: str, text: str) -> bytes | None:
    raw = text.encode("utf-8", "surrogateescape")
    if encoding in "Qq":
        return binascii.a2b_qp(raw, header=True)
    raw = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)  # padding and stray characters: mailers get it wrong
    raw += b"=" * (-len(raw) % 4)
    try:
        return binascii.a2b_base64(raw)
    except binascii.Error:  # a length no padding repairs (one character too many)
        return None
