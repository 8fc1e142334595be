"""What the customer wrote this time: reply text apart from the quoted history and the signature.

Pure functions over plain text. The quoted history starts at the earliest of: a reply header ("On ...
wrote:" in many languages, split over up to three lines), an "Original Message" or forward divider,
an Outlook header block (From:/Sent:/To:/Subject: in many languages), or a run of `>` lines that
lasts to the end. A signature is what follows a `-- ` line or a trailing "Sent from my phone" line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "On <date>, <name> wrote:" and its translations; the header starts the line, the verb ends it.
_WROTE = (
    r"wrote|writes|schrieb|a écrit|a ecrit|ha scritto|escribió|escribio|escreveu|schreef|skrev|kirjoitti|"
    r"napisał\(a\)|napisał|napisala|napisal|napsal\(a\)|napsal|napísal|написал\(а\)|написал|написала|написа|"
    r"написав|έγραψε|rakstīja|írta|rašė|kirjutas|yazdı|a scris|je napisao|je napisala|je napisal|"
    r"ha escrito|va escriure|idatzi zuen|kirjoitti seuraavaa|skrev følgende|skrev följande|"
    r"写道|寫道|書きました|のメッセージ|작성"
)
_VERB_AT_END = re.compile(r"(?:" + _WROTE + r")(?:[^\n:：]{0,80})?\s*[:：]\s*$", re.IGNORECASE)
_VERB_NO_COLON = re.compile(r"(?:" + _WROTE + r")\s*[:：]?\s*$", re.IGNORECASE)
_OPENER = re.compile(r"^(?:On|Am|Le|Il|El|Em|Op|Den|Dne|Dňa|Dnia|Στις|Στην|W dniu|In data|Pe|Dana|Kun|\d)\b",
                     re.IGNORECASE)
_TIME_OR_YEAR = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b(?:19|20)\d{2}\b")
_ADDRESS = re.compile(r"<?[^<>\s]+@[^<>\s]+>?|<\s*$")
# "<date>, <name> <addr>:" (Yandex, Gmail in many locales), "... от X <a@b>:" (mail.ru): no verb needed.
_ADDRESS_COLON = re.compile(r"^[^\n>]{0,300}(?:<[^>\n\s]+@[^>\n\s]+>|[^\s<>]+@[^\s<>]+\s*>|\)\s*)\s*:\s*$")
_DIVIDER = re.compile(
    r"^\s*[-_=*\s]*(?:original message|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|"
    r"message d'origine|message transféré|messaggio originale|messaggio inoltrato|mensaje original|"
    r"mensaje reenviado|mensagem original|mensagem encaminhada|oorspronkelijk bericht|origineel bericht|"
    r"doorgestuurd bericht|oprindelig meddelelse|videresendt meddelelse|opprinnelig melding|"
    r"ursprungligt meddelande|oprindelig besked|vidarebefordrat meddelande|alkuperäinen viesti|välitetty viesti|"
    r"исходное сообщение|пересылаемое сообщение|пересланное сообщение|αρχικό μήνυμα|προωθημένο μήνυμα|"
    r"eredeti üzenet|továbbított üzenet|sākotnējā ziņa|oriģinālā ziņa|pārsūtītā ziņa|pārsūtīta ziņa|"
    r"originali žinutė|persiųstas laiškas|wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość|"
    r"původní zpráva|přeposlaná zpráva|pôvodná správa|orijinal ileti|iletilen ileti|mesaj original)"
    r"\s*[-_=*\s]*:?\s*$",
    re.IGNORECASE)
_BEGIN_FORWARDED = re.compile(r"^\s*(?:begin forwarded message|anfang der weitergeleiteten nachricht|"
                              r"début du message réexpédié|inizio messaggio inoltrato)\s*:\s*$", re.IGNORECASE)
# Outlook-style header lines: From / Sent / Date / To / Cc / Subject in the languages of our customers.
_FROM_FIELD = (r"from|von|de|da|van|fra|från|från|lähettäjä|от|od|feladó|από|no|nuo|kimden|saatja|"
               r"expéditeur|mittente|remitente|afzender|nadawca|odesílatel")
_OTHER_FIELD = (r"sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|date|à|objet|inviato|data|a|oggetto|"
                r"enviado|fecha|para|asunto|assunto|verzonden|aan|onderwerp|sendt|dato|til|emne|skickat|till|ämne|"
                r"lähetetty|päivämäärä|vastaanottaja|aihe|отправлено|дата|кому|тема|wysłano|wysłane|do|temat|"
                r"odesláno|komu|předmět|küldve|dátum|címzett|tárgy|copie à|objet|sujet|message du|στάλθηκε|ημερομηνία|προς|θέμα|"
                r"nosūtīts|datums|kam|temats|tēma|išsiųsta|kam|tema|gönderildi|tarih|kime|konu")
_FROM_LINE = re.compile(r"^\s*\**(?:" + _FROM_FIELD + r")\s*\**\s*:\s*\S", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^\s*\**(?:" + _OTHER_FIELD + r"|" + _FROM_FIELD + r")\s*\**\s*:", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*(?:[-_=*]{4,}|-{2,}[^-]{1,40}-{2,})\s*$")
_UNDERSCORES = re.compile(r"^\s*(?:_{10,}|-{10,})\s*$")

_SIG_DASHES = re.compile(r"^-- ?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:envoyé à partir de [\w ]{1,30}|gesendet von [\w ]{1,30} für [\w ]{1,20}|sent from (?:my |the )?[\w .'’-]{1,40}|sent with [\w ]{1,30}|sent via [\w .]{1,30}|"
    r"get outlook for [\w ]{1,20}|sent from mail for windows(?: 10)?|"
    r"von meinem [\w ]{1,30} gesendet|gesendet von [\w ]{1,30}|envoyé de mon [\w ]{1,30}|envoyé depuis [\w ]{1,30}|"
    r"inviato da [\w ]{1,30}|enviado desde mi [\w ]{1,30}|enviado do meu [\w ]{1,30}|verzonden vanaf mijn [\w ]{1,30}|"
    r"sendt fra min [\w ]{1,30}|skickat från min [\w ]{1,30}|lähetetty [\w ]{1,30}|"
    r"отправлено с [\w ]{1,30}|отправлено из [\w ]{1,30}|στάλθηκε από [\w ]{1,40}|"
    r"nosūtīts no [\w ]{1,40}|küldve [\w -]{1,30}|az? [\w -]{1,30} küldve|wysłane z [\w ]{1,30}|"
    r"odesláno z [\w ]{1,30})\s*[.!]?\s*(?:<https?://[^>\s]+>)?\s*$",
    re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReplySplit:
    text: str  # what the customer wrote this time
    quoted: str  # the quoted history, as it stood
    signature: str  # the signature taken off the text


def split_reply(body: str) -> ReplySplit:
    """Split a plain-text body into new text, quoted history and signature."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    if cut is None:
        new, quoted = lines, []
    else:
        new, quoted = lines[:cut], lines[cut:]
        new = new + _answers_between_quotes(quoted) if "\n".join(new).strip() else new
        if not "\n".join(new).strip():
            # Bottom-posting: the customer answered below the quote; keep what is not quoted.
            new = [line for line in quoted[1:] if not line.lstrip().startswith(">")]
            new = _drop_headers(new)
    text, signature = _split_signature(new)
    return ReplySplit(_tidy("\n".join(text)), _tidy("\n".join(quoted)), _tidy("\n".join(signature)))


def _answers_between_quotes(quoted: list[str]) -> list[str]:
    """Text written below or between `>` quotes (inline answers) after a reply header: the customer's too."""
    first = _next_nonblank(quoted, 1)
    if first is None or not quoted[first].lstrip().startswith(">"):
        return []  # an Outlook-style quote: everything below it is history
    tail = quoted[first:]
    unquoted = [index for index, line in enumerate(tail) if line.strip() and not line.lstrip().startswith(">")]
    if not unquoted or not any(line.lstrip().startswith(">") for line in tail[unquoted[0]:]):
        return []  # only a footer below the quote (a list's, a forgotten signature): not an answer
    answer = [line for line in tail[unquoted[0]:] if not line.lstrip().startswith(">")]
    return [""] + answer


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def _drop_headers(lines: list[str]) -> list[str]:
    index = 0
    while index < len(lines) and (_HEADER_LINE.match(lines[index]) or not lines[index].strip()):
        index += 1
    return lines[index:]


def _quote_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _DIVIDER.match(stripped) or _BEGIN_FORWARDED.match(stripped):
            return index
        if _is_reply_header(lines, index):
            return index
        if _MOBILE_SIGNATURE.match(line) and index > 0 and _next_nonblank(lines, index + 1) is not None:
            # "Sent from my phone" and then more: the phone put the original message under the signature.
            return _next_nonblank(lines, index + 1)
        if _FROM_LINE.match(stripped) and _header_block(lines, index):
            # Separators ("_____", "-- Original --", "====") and stray header lines above belong to the quote.
            start = index
            previous = _previous_nonblank(lines, start)
            while previous is not None and start - previous <= 3 and (
                    _SEPARATOR.match(lines[previous]) or _HEADER_LINE.match(lines[previous])):
                start = previous
                previous = _previous_nonblank(lines, start)
            return start
        if _UNDERSCORES.match(stripped):
            following = _next_nonblank(lines, index + 1)
            if following is not None and _HEADER_LINE.match(lines[following]) and _header_block(lines, following):
                return index
        if stripped.startswith(">") and _quoted_to_end(lines, index):
            start = index
            previous = _previous_nonblank(lines, index)
            if previous is not None and lines[previous].rstrip().endswith(":") and index - previous <= 2:
                start = previous  # the header of the quote, in whatever language
            return start
    return None


def _is_reply_header(lines: list[str], index: int) -> bool:
    if lines[index].lstrip().startswith(">"):
        return False
    joined = ""
    for offset in range(3):
        if index + offset >= len(lines):
            break
        part = lines[index + offset].strip()
        if not part or (offset and (joined.rstrip().endswith((".", "!", "?")) or (part.startswith(">") and not re.match(r">\s*:\s*$", part)))):
            break  # a sentence ended: what follows is a new line, not the rest of this header
        joined = f"{joined} {part}".strip() if joined else part
        if len(joined) > 400:
            break
        if _looks_like_header(joined, lines, index + offset + 1):
            # "Hi,\nOn ... wrote:": the header starts on the next line, this one is the customer's.
            return offset == 0 or not (_OPENER.match(lines[index + 1].strip()) and _is_reply_header(lines, index + 1))
    return False


def _looks_like_header(text: str, lines: list[str], next_index: int) -> bool:
    dashed = text.startswith("--") and text.endswith("--")
    text = text.strip("-* ").strip()
    # A date, a time or an address: "On Monday I wrote:" in a customer's own text is not a header.
    context = bool(_TIME_OR_YEAR.search(text) or _ADDRESS.search(text))
    if _VERB_AT_END.search(text) and context:
        return True
    if (dashed or _ADDRESS.search(text)) and _VERB_NO_COLON.search(text) and context:
        return True
    return bool(_ADDRESS_COLON.match(text) and (_TIME_OR_YEAR.search(text) or _followed_by_quote(lines, next_index)))


def _followed_by_quote(lines: list[str], index: int) -> bool:
    following = _next_nonblank(lines, index)
    return following is not None and lines[following].lstrip().startswith(">")


def _header_block(lines: list[str], index: int) -> bool:
    """At least two header lines among the five after `index`: the top of a quoted Outlook message."""
    found = 0
    for line in lines[index + 1:index + 7]:
        if _HEADER_LINE.match(line):
            found += 1
    return found >= 2


def _quoted_to_end(lines: list[str], index: int) -> bool:
    """The `>` block at `index` runs to the end, but for blank lines and a trailing signature."""
    rest = [line for line in lines[index:] if line.strip()]
    unquoted = [line for line in rest if not line.lstrip().startswith(">")]
    if not unquoted:
        return True
    # Inline answers between quoted parts are the customer's text: no single cut then.
    return all(_SIG_DASHES.match(line.strip()) or _MOBILE_SIGNATURE.match(line) for line in unquoted[:1]) and \
        len(unquoted) <= 4


def _previous_nonblank(lines: list[str], index: int) -> int | None:
    for previous in range(index - 1, -1, -1):
        if lines[previous].strip():
            return previous
    return None


def _next_nonblank(lines: list[str], index: int) -> int | None:
    for following in range(index, len(lines)):
        if lines[following].strip():
            return following
    return None


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    # The last "-- " line: a dashed line higher up may be part of the text (lists, tables).
    for index in range(len(lines) - 1, -1, -1):
        if _SIG_DASHES.match(lines[index].rstrip("\n")) and index > 0 and len(lines) - index <= 12:
            return lines[:index], lines[index:]
    nonblank = [index for index, line in enumerate(lines) if line.strip()]
    for index in nonblank[-2:]:
        if _MOBILE_SIGNATURE.match(lines[index]) and index != nonblank[0]:
            return lines[:index], lines[index:]
    return lines, []
