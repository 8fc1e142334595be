"""Reading one e-mail: bytes in, a `ParsedMail` out. Pure, and never raises on any input.

Headers and bodies are decoded with charsets.py (wrong or missing charsets included); the body is
plain text when the mail has it, readable text from HTML otherwise; quotes.py splits off the quoted
history and signature. What could not be read is listed in `defects` instead of raising.
"""

from __future__ import annotations

import binascii
import email
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from channels.email.charsets import decode_text, guess_decode
from channels.email.encoded_words import decode_encoded_words
from channels.email.html import html_to_text
from channels.email.quotes import split_reply

# Bounds on what one mail makes us read (hostile mail is cut, and the cut is listed in `defects`).
MAX_HEADER_BYTES = 256 * 1024  # the whole header section; real mail has a few kilobytes
MAX_HEADER_CHARS = 64 * 1024  # one header's value as read
MAX_SUBJECT_CHARS = 998  # RFC 5322's line length; a longer subject is cut
MAX_NAME_CHARS = 200  # a display name

_LINE_BREAKS = re.compile(r"[\r\n]+[ \t]*")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
CASE_TAG = re.compile(r"\[#(\d{1,9})\]")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|antw|odp|ats|vá|ynt|απ|σχετ|atb|odg|r|rif|res|رد)\s*(\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|enc|doorst|vs|pd|i|pārs|továbbítás|προώθ|πρθ|dalje)\s*:",
                             re.IGNORECASE)
_AUTO_SUBJECT = re.compile(r"^\s*(auto(matic)? ?reply|autoreply|auto-reply|out of (the )?office|"
                           r"abwesenheitsnotiz|automatische antwort|réponse automatique|risposta automatica|"
                           r"respuesta automática|automatisch antwoord|αυτόματη απάντηση|automātiskā atbilde|"
                           r"automatikus válasz|undeliverable|undelivered mail|delivery status notification|"
                           r"mail delivery failed|returned mail|failure notice)\b", re.IGNORECASE)
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|noreply-dmarc-support)@",
                             re.IGNORECASE)
_UUENCODE = re.compile(r"^begin [0-7]{3,4} ([^\n]+)\n(.*?)\n(?:`\n)?end\s*$", re.MULTILINE | re.DOTALL)
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_LATVIAN = re.compile(r"[āēīūļņķģĀĒĪŪĻŅĶĢ]")
_HUNGARIAN = re.compile(r"[őűŐŰ]")
_HUNGARIAN_WORDS = re.compile(r"\b(és|hogy|nem|köszönöm|kérem|szia|üdvözlettel|tisztelt|számla|rendelés)\b",
                              re.IGNORECASE)
_LATVIAN_WORDS = re.compile(r"\b(labdien|paldies|sveiki|lūdzu|es|un|ar|nav|rēķins|pasūtījums)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MailAttachment:
    name: str
    media_type: str
    size: int
    content_id: str = ""
    part: str = ""  # the MIME part number (1, 1.2, ...) to fetch it again


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What Helpline reads in one message."""

    from_name: str = ""
    from_address: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: str = ""
    subject: str = ""
    date: str | None = None  # ISO 8601, or None when missing or unreadable
    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    content_language: str | None = None
    body: str = ""  # the whole body as text
    body_from_html: bool = False
    text: str = ""  # what the sender wrote this time
    quoted: str = ""
    signature: str = ""
    attachments: tuple[MailAttachment, ...] = ()
    case_number: int | None = None
    automatic: bool = False
    automatic_reason: str = ""
    forwarded: bool = False
    fingerprint: str = ""  # sha256 of the raw bytes: an id for mail without a Message-ID
    defects: tuple[str, ...] = field(default=())

    @property
    def language(self) -> str | None:
        return self.content_language or guess_language(self.text or self.body)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The messages this one answers, nearest first: In-Reply-To, then References newest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += [ref for ref in reversed(self.references) if ref not in ids]
        return tuple(ids)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of `helpline email parse --json`."""
        return {
            "from": {"name": self.from_name, "address": self.from_address}, "to": list(self.to), "cc": list(self.cc),
            "subject": self.subject, "date": self.date, "message_id": self.message_id,
            "in_reply_to": self.in_reply_to or None, "references": list(self.references),
            "language": self.language, "text": self.text, "quoted": self.quoted, "signature": self.signature,
            "attachments": [{"name": a.name, "type": a.media_type, "size": a.size} for a in self.attachments],
            "case_number": self.case_number, "automatic": self.automatic,
            "automatic_reason": self.automatic_reason or None, "forwarded": self.forwarded,
            "body_from_html": self.body_from_html, "defects": list(self.defects),
        }


def parse_mail(data: bytes) -> ParsedMail:
    """Read a message; malformed parts are read as well as they can be and listed in `defects`."""
    defects: list[str] = []
    fingerprint = hashlib.sha256(data).hexdigest()
    data = _bounded_headers(data, defects)
    try:
        message = email.message_from_bytes(data, policy=compat32)
    except Exception as error:  # noqa: BLE001 - the stdlib parser is lenient; this is the last guard
        return ParsedMail(body=guess_decode(data)[0], text=guess_decode(data)[0], fingerprint=fingerprint,
                          defects=(f"not parseable as MIME: {error}",))
    try:
        return _read(message, fingerprint, defects)
    except Exception as error:  # noqa: BLE001 - hostile MIME must never stop the reader
        defects.append(f"unreadable structure: {type(error).__name__}: {error}")
        text = guess_decode(data)[0]
        return ParsedMail(subject=_safe_header(message, "subject"), message_id=_first_id(_header(message, "message-id")),
                          body=text, text=text, fingerprint=fingerprint, defects=tuple(defects))


def _bounded_headers(data: bytes, defects: list[str]) -> bytes:
    """`data` with a header section of at most about MAX_HEADER_BYTES: each header cut to MAX_HEADER_CHARS,
    and the headers past the limit dropped (the body is kept whole)."""
    blank = _BLANK_LINE.search(data)
    end = blank.start() if blank else len(data)
    if end <= MAX_HEADER_BYTES:
        return data
    kept: list[bytes] = []
    total = header_size = cut = 0
    for line in data[:end].split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            header_size = 0
        piece = line[:max(0, MAX_HEADER_CHARS - header_size)].rstrip(b"\r")
        # A line is kept whole or not at all once the section is full: half a header name would read as body.
        if not piece or total + len(piece) > MAX_HEADER_BYTES:
            cut += 1
            total = MAX_HEADER_BYTES if piece else total
            continue
        kept.append(piece)
        header_size += len(piece)
        total += len(piece) + 2
    defects.append(f"header section of {end} bytes is over the {MAX_HEADER_BYTES}-byte limit; long headers cut"
                   + (f", {cut} header line(s) not read" if cut else ""))
    return b"\r\n".join(kept) + data[end:]


def _safe_header(message: Message, name: str) -> str:
    try:
        return decode_header_value(_header(message, name))
    except Exception:  # noqa: BLE001
        return ""


def _read(message: Message, fingerprint: str, defects: list[str]) -> ParsedMail:
    subject = _cut(decode_header_value(_header(message, "subject")), MAX_SUBJECT_CHARS, "subject", defects)
    from_name, from_address = _first_address(_header_all(message, "from") or [])
    from_name = _cut(from_name, MAX_NAME_CHARS, "sender's name", defects)
    defects += [f"header {name} of {size} characters; only the first {MAX_HEADER_CHARS} read"
                for name, size in _long_headers(message)]
    _, reply_address = _first_address(_header_all(message, "reply-to") or [])
    body, from_html, attachments = _body_and_attachments(message, defects)
    body, uuencoded = _extract_uuencoded(body)
    attachments += uuencoded
    split = split_reply(body)
    automatic, reason = _automatic(message, subject, from_address)
    case_match = CASE_TAG.search(subject)
    language = (decode_header_value(_header(message, "content-language")) or "").split(",")[0].strip()
    language = language.split("-")[0].lower() if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]+)*", language) else ""
    for defect in getattr(message, "defects", []):
        defects.append(type(defect).__name__)
    return ParsedMail(
        from_name=from_name, from_address=from_address,
        to=tuple(address for _, address in _addresses(_header_all(message, "to") or [])),
        cc=tuple(address for _, address in _addresses(_header_all(message, "cc") or [])),
        reply_to=reply_address, subject=subject, date=_date(_header(message, "date")),
        message_id=_first_id(_header(message, "message-id")), in_reply_to=_first_id(_header(message, "in-reply-to")),
        references=tuple(_MESSAGE_ID.findall(_raw(_header(message, "references")))),
        content_language=language or None, body=body, body_from_html=from_html,
        text=split.text, quoted=split.quoted, signature=split.signature, attachments=tuple(attachments),
        case_number=int(case_match.group(1)) if case_match else None, automatic=automatic, automatic_reason=reason,
        forwarded=bool(_FORWARD_PREFIX.match(_REPLY_PREFIX.sub("", subject))), fingerprint=fingerprint,
        defects=tuple(dict.fromkeys(defects)))


# --- headers -------------------------------------------------------------------------------------------

def _header(message: Message, name: str) -> str | None:
    """The raw value of a header as written (compat32 would hand 8-bit values back mangled)."""
    values = _header_all(message, name)
    return values[0] if values else None


def _header_all(message: Message, name: str) -> list[str]:
    """Every value of header `name`, each cut to MAX_HEADER_CHARS (address parsing is not linear)."""
    name = name.lower()
    try:
        return [value[:MAX_HEADER_CHARS] for key, value in message.raw_items() if key.lower() == name]
    except Exception:  # noqa: BLE001
        return []


def _long_headers(message: Message) -> list[tuple[str, int]]:
    try:
        return [(str(key), len(value)) for key, value in message.raw_items() if len(value) > MAX_HEADER_CHARS]
    except Exception:  # noqa: BLE001
        return []


def _cut(text: str, limit: int, what: str, defects: list[str]) -> str:
    if len(text) <= limit:
        return text
    defects.append(f"{what} of {len(text)} characters cut to {limit}")
    return text[:limit - 1] + "…"


def _raw(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value)


def _header_bytes(value: str) -> bytes:
    # compat32 keeps raw 8-bit header bytes as surrogate escapes: get the bytes back.
    return value.encode("ascii", "surrogateescape") if not value.isascii() else value.encode("ascii")


def decode_header_value(value: object) -> str:
    """A header as text: encoded words (any charset, even wrong ones) and raw 8-bit bytes decoded.

    Only the first MAX_HEADER_CHARS characters are read: the work per header stays bounded.
    """
    raw = _raw(value)[:MAX_HEADER_CHARS]
    if not raw:
        return ""
    try:
        raw_bytes = _header_bytes(raw)
    except UnicodeEncodeError:
        raw_bytes = raw.encode("utf-8", "surrogatepass")
    if not raw_bytes.isascii():
        raw = guess_decode(raw_bytes)[0]
    text = _LINE_BREAKS.sub(" ", decode_encoded_words(raw))
    return text.strip()


def _addresses(values: Sequence[object]) -> list[tuple[str, str]]:
    raw = [_raw(value) for value in values]
    try:
        pairs = getaddresses(raw)
    except Exception:  # noqa: BLE001
        pairs = []
    result = []
    for name, address in pairs:
        address = decode_header_value(address).strip().strip("<>").lower()
        if "@" not in address:
            continue
        result.append((decode_header_value(name).strip().strip('"'), address))
    return result


def _first_address(values: Sequence[object]) -> tuple[str, str]:
    found = _addresses(values)
    if found:
        return found[0]
    text = decode_header_value(values[0]) if values else ""
    match = re.search(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+", text)
    return (text if not match else text.replace(match.group(0), "").strip(" <>\""), match.group(0).lower() if match else "")


def _first_id(value: object) -> str:
    raw = _raw(value)
    found = _MESSAGE_ID.search(raw)
    if found:
        return found.group(0)
    raw = raw.strip()
    return f"<{raw}>" if raw and " " not in raw and "@" in raw else ""


def _date(value: object) -> str | None:
    raw = _raw(value).strip()
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# --- bodies and attachments -------------------------------------------------------------------------------

def _content_type(part: Message) -> str:
    try:
        value = part.get_content_type()
    except Exception:  # noqa: BLE001
        return "text/plain"
    return value if re.fullmatch(r"[\w.+-]+/[\w.+-]+", value) else "application/octet-stream"


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception as error:  # noqa: BLE001 - bad base64 and the like
        defects.append(f"undecodable part: {error}")
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("ascii", "surrogateescape") if not raw.isascii() else raw.encode("ascii")
        return b""
    return payload if isinstance(payload, bytes) else bytes(payload)


def _part_text(part: Message, defects: list[str]) -> str:
    data = _payload_bytes(part, defects)
    try:
        charset = part.get_param("charset")
    except Exception:  # noqa: BLE001
        charset = None
    if isinstance(charset, tuple):
        charset = charset[2]
    if not charset and _content_type(part) == "text/html":
        meta = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", data[:4096], re.IGNORECASE)
        charset = meta.group(1).decode("ascii") if meta else None
    text, _ = decode_text(data, charset if isinstance(charset, str) else None)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _filename(part: Message) -> str:
    name: object = None
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:  # noqa: BLE001
        name = None
    if isinstance(name, tuple):  # an RFC 2231 value get_filename could not collapse
        charset, _, value = name
        name = decode_text(_header_bytes(value) if isinstance(value, str) else bytes(value), charset)[0]
    if not name or "\ufffd" in str(name) or not str(name).isascii():
        name = _raw_filename(part) or name
    name = decode_header_value(name) if name else ""
    return name.replace("/", "_").replace("\\", "_").strip()


def _raw_filename(part: Message) -> str | None:
    # 8-bit bytes in a parameter (against the rules, but common): read them from the raw header.
    for header in ("content-disposition", "content-type"):
        raw = _header(part, header) or ""
        match = re.search(r'\b(?:file)?name\s*=\s*"([^"]*)"', raw, re.IGNORECASE) or \
            re.search(r"\b(?:file)?name\s*=\s*([^;\s]+)", raw, re.IGNORECASE)
        if match:
            value = match.group(1)
            return guess_decode(_header_bytes(value))[0] if not value.isascii() else value
    return None


def _is_attachment(part: Message) -> bool:
    disposition = _raw(part.get("content-disposition")).split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    if disposition == "inline" and _content_type(part).startswith("text/"):
        return bool(_filename(part)) and _content_type(part) not in ("text/plain", "text/html")
    return bool(_filename(part)) and not _content_type(part).startswith("text/")


def _body_and_attachments(message: Message, defects: list[str]) -> tuple[str, bool, list[MailAttachment]]:
    attachments: list[MailAttachment] = []
    text, from_html = _walk(message, "", attachments, defects, depth=0)
    return text.strip("\n"), from_html, attachments


def _walk(part: Message, number: str, attachments: list[MailAttachment], defects: list[str],
          depth: int) -> tuple[str, bool]:
    """The body text of `part` (and whether it came from HTML); attachments collected on the way."""
    if depth > 40:
        defects.append("MIME nesting deeper than 40 levels")
        return "", False
    media_type = _content_type(part)
    if part.is_multipart():
        children = part.get_payload()
        if not isinstance(children, list):
            return "", False
        numbered = [(child, f"{number}.{index}" if number else str(index)) for index, child in
                    enumerate(children, start=1) if isinstance(child, Message)]
        if media_type == "message/rfc822" or media_type == "message/global":
            inner = numbered[0][0] if numbered else None
            name = decode_header_value(_header(inner, "subject")) if inner is not None else ""
            size = len(inner.as_bytes()) if inner is not None and _safe_size(inner) else 0
            attachments.append(MailAttachment(f"{name or 'message'}.eml", media_type, size, part=number or "1"))
            return "", False
        if media_type == "multipart/alternative":
            bodies = [_walk(child, num, [], defects, depth + 1) + (child,) for child, num in numbered]
            plain = [body for body in bodies if body[0].strip() and not body[1]]
            html_bodies = [body for body in bodies if body[0].strip() and body[1]]
            chosen = plain[0] if plain else (html_bodies[-1] if html_bodies else None)
            # Attachments inside the chosen alternative (related images) still count.
            for child, num in numbered:
                if chosen is not None and child is chosen[2]:
                    _walk(child, num, attachments, defects, depth + 1)
            return (chosen[0], chosen[1]) if chosen else ("", False)
        if media_type == "multipart/related" and numbered:
            text, html = _walk(numbered[0][0], numbered[0][1], attachments, defects, depth + 1)
            for child, num in numbered[1:]:
                _walk(child, num, attachments, defects, depth + 1)
            return text, html
        if media_type == "multipart/report" and numbered:
            text, html = _walk(numbered[0][0], numbered[0][1], attachments, defects, depth + 1)
            for child, num in numbered[1:]:
                _add_attachment(child, num, attachments, defects)
            return text, html
        texts, any_html = [], False
        for child, num in numbered:
            text, html = _walk(child, num, attachments, defects, depth + 1)
            if text.strip():
                texts.append(text.strip("\n"))
                any_html = any_html or html
        return "\n\n".join(texts), any_html
    if media_type in ("text/plain", "text/html") and not _is_attachment(part):
        text = _part_text(part, defects)
        if media_type == "text/html":
            return html_to_text(text), True
        return text, False
    if media_type == "message/delivery-status" or (media_type.startswith("text/") and not _filename(part)
                                                  and not _is_attachment(part) and not attachments and depth == 0):
        return _part_text(part, defects), False
    _add_attachment(part, number or "1", attachments, defects)
    return "", False


def _safe_size(message: Message) -> bool:
    try:
        message.as_bytes()
    except Exception:  # noqa: BLE001
        return False
    return True


def _add_attachment(part: Message, number: str, attachments: list[MailAttachment], defects: list[str]) -> None:
    media_type = _content_type(part)
    if part.is_multipart():
        size = len(part.as_bytes()) if _safe_size(part) else 0
    else:
        size = len(_payload_bytes(part, defects))
    name = _filename(part) or f"attachment-{number}{_extension(media_type)}"
    content_id = _raw(part.get("content-id")).strip().strip("<>")
    attachments.append(MailAttachment(name, media_type, size, content_id, number))


def _extension(media_type: str) -> str:
    import mimetypes

    return mimetypes.guess_extension(media_type) or ".bin"


def _extract_uuencoded(body: str) -> tuple[str, list[MailAttachment]]:
    """Old clients put uuencoded files in the text: take them out as attachments."""
    found: list[MailAttachment] = []

    def take(match: re.Match[str]) -> str:
        data = bytearray()
        for line in match.group(2).split("\n"):
            if not line.strip() or line.strip() == "`":
                continue
            try:
                data += binascii.a2b_uu(line)
            except binascii.Error:
                continue
        name = match.group(1).strip()
        import mimetypes

        found.append(MailAttachment(name, mimetypes.guess_type(name)[0] or "application/octet-stream", len(data)))
        return ""

    if "begin " not in body:
        return body, found
    return _UUENCODE.sub(take, body).strip("\n"), found


# --- noise ------------------------------------------------------------------------------------------------

def _automatic(message: Message, subject: str, from_address: str) -> tuple[bool, str]:
    """Whether a person wrote this: auto-replies, bounces, reports and bulk mail get no answer."""
    auto_submitted = _raw(_header(message, "auto-submitted")).split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True, f"Auto-Submitted: {auto_submitted}"
    precedence = _raw(_header(message, "precedence")).strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return True, f"Precedence: {precedence}"
    media_type = _content_type(message)
    if media_type == "multipart/report":
        return True, "delivery or read report"
    if _BOUNCE_SENDERS.match(from_address):
        return True, f"bounce from {from_address}"
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated"):
        if _header(message, name) is not None:
            return True, name
    if _header(message, "list-id") is not None or _header(message, "list-unsubscribe") is not None:
        return True, "mailing list"
    if _AUTO_SUBJECT.match(subject):
        return True, "automatic reply subject"
    return False, ""


def guess_language(text: str) -> str | None:
    """A rough guess from letters only (Greek, Latvian, Hungarian); None when unsure."""
    if not text:
        return None
    sample = text[:2000]
    if len(_GREEK.findall(sample)) >= 3:
        return "el"
    if _LATVIAN.search(sample) or len(_LATVIAN_WORDS.findall(sample)) >= 3:
        return "lv"
    if _HUNGARIAN.search(sample) or len(_HUNGARIAN_WORDS.findall(sample)) >= 2:
        return "hu"
    return None


def strip_subject_prefixes(subject: str) -> str:
    """The subject without Re:/Fwd: prefixes and without our case tag."""
    previous = None
    while previous != subject:
        previous = subject
        subject = _REPLY_PREFIX.sub("", subject)
        subject = re.sub(r"^\s*(fwd?|fw)\s*:\s*", "", subject, flags=re.IGNORECASE)
    return CASE_TAG.sub("", subject).strip()


def part_bytes(data: bytes, number: str) -> bytes | None:
    """The decoded content of MIME part `number` (as in `MailAttachment.part`), or None when absent."""
    try:
        node: Message = email.message_from_bytes(data, policy=compat32)
        if not node.is_multipart():
            return _payload_bytes(node, []) if number == "1" else None
        for index in number.split("."):
            children = node.get_payload()
            position = int(index) - 1
            if not isinstance(children, list) or not 0 <= position < len(children):
                return None
            child = children[position]
            if not isinstance(child, Message):
                return None
            node = child
        if node.is_multipart():
            return node.as_bytes()
        return _payload_bytes(node, [])
    except Exception:  # noqa: BLE001 - a damaged message: nothing to hand out
        return None
