"""Turning the bytes of real mail into text: declared charsets, wrong ones and missing ones.

Mail declares a charset that is wrong (UTF-8 labelled ISO-8859-1), unknown (`x-user-defined`) or
none at all (8-bit headers). Valid UTF-8 is trusted first — it almost never happens by accident —
then the legacy codecs of the languages we serve are scored by how plausible their text looks.
"""

from __future__ import annotations

import codecs
import unicodedata

SAMPLE_BYTES = 64 * 1024  # how much of a text is scored to guess its charset

# Single-byte codecs tried when the declared charset fails or is absent, most common first.
LEGACY_CANDIDATES = (
    "windows-1252", "windows-1250", "windows-1253", "windows-1257", "iso-8859-7", "iso-8859-2",
    "iso-8859-13", "iso-8859-4", "iso-8859-15", "koi8-r", "windows-1251",
)

# Labels mail software writes that Python does not know, and what they mean in practice.
_ALIASES = {
    "x-unknown": None, "unknown-8bit": None, "x-user-defined": None, "unknown": None, "default": None,
    "us-ascii": "ascii", "ansi_x3.4-1968": "ascii", "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949", "x-sjis": "shift_jis", "gb2312": "gb18030", "gbk": "gb18030",
    "windows-874": "cp874", "x-mac-roman": "mac_roman", "utf8": "utf-8", "iso8859-7": "iso-8859-7",
    "latin1": "iso-8859-1", "cp-850": "cp850",
}

# The non-ASCII letters of European languages written in Latin script. The right decoding of a
# message reads as one language; a wrong one mixes letters of several (Latvian ā read as â, ī as î,
# next to a Lithuanian į...). The languages Helpline serves from day one come first and break ties.
_LANGUAGE_LETTERS = {
    "lv": set("āčēģīķļņšūž"),
    "hu": set("áéíóöőúüű"),
    "lt": set("ąčęėįšųūž"),
    "et": set("äõöüšž"),
    "pl": set("ąćęłńóśźż"),
    "cs": set("áčďéěíňóřšťúůýž"),
    "sk": set("áäčďéíĺľňóôŕšťúýž"),
    "sl": set("čšž"),
    "hr": set("čćđšž"),
    "ro": set("ăâîșțşţ"),
    "de": set("äöüß"),
    "fr": set("àâæçéèêëîïôœùûüÿ"),
    "es": set("áéíñóúü"),
    "pt": set("áâãàçéêíóôõú"),
    "it": set("àèéìíîòóùú"),
    "nl": set("éëïöü"),
    "da": set("æøå"),
    "sv": set("åäö"),
    "fi": set("äöå"),
}
_SERVED = ("lv", "hu")
_WESTERN = {"iso8859-1", "cp1252", "iso8859-15", "latin-1"}


def normalise_charset(label: str | None) -> str | None:
    """A codec name Python knows for `label`, or None when the label says nothing usable."""
    if not label:
        return None
    label = label.strip().strip('"\'').lower()
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def plausibility(text: str) -> float:
    """How much `text` looks like human writing: letters of one script per word, no control codes."""
    score = 0.0
    latin_letters: list[str] = []
    for word in text.split():
        scripts = set()
        for char in word:
            code = ord(char)
            if code < 128:
                if char.isalpha():
                    scripts.add("latin")
                continue
            category = unicodedata.category(char)
            if category.startswith("L"):
                lower = char.lower()
                if "\u0370" <= lower <= "\u03ff" or "\u1f00" <= lower <= "\u1fff":
                    scripts.add("greek")
                    score += 1.0
                elif "\u0400" <= lower <= "\u04ff":
                    scripts.add("cyrillic")
                    score += 1.0
                else:
                    scripts.add("latin")
                    latin_letters.append(lower)
            elif category.startswith("C"):
                score -= 3.0
            elif category in ("So", "Sk", "Sc", "Sm", "No"):
                score -= 0.8
            else:
                score -= 0.3
        if len(scripts) > 1:
            score -= 2.0 * len(word)
    return score + _coherence(latin_letters)


def _coherence(letters: list[str]) -> float:
    """How well the text's accented Latin letters fit one language: fitting letters count, others cost."""
    if not letters:
        return 0.0
    best = -float(len(letters))
    for language, alphabet in _LANGUAGE_LETTERS.items():
        fitting = sum(1 for letter in letters if letter in alphabet)
        value = 2 * fitting - len(letters) + (0.5 if language in _SERVED and fitting else 0.0)
        best = max(best, value)
    return best


def guess_decode(data: bytes) -> tuple[str, str]:
    """Decode bytes of unknown charset: (text, codec used). Never raises.

    The codecs are scored on a sample (the first SAMPLE_BYTES): the work stays linear in the size of
    the mail, and a sample of that size tells the languages apart as well as the whole would.
    """
    try:
        text = data.decode("ascii")
        return text, "ascii"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:SAMPLE_BYTES]  # the candidates are single-byte codecs: any cut is a character boundary
    scored: list[tuple[float, int, str]] = []
    for rank, codec in enumerate(LEGACY_CANDIDATES):
        try:
            scored.append((plausibility(sample.decode(codec)), -rank, codec))
        except UnicodeDecodeError:
            continue
    for _, _, codec in sorted(scored, reverse=True):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:  # a byte the sample did not show
            continue
    return data.decode("utf-8", "replace"), "utf-8"


def decode_text(data: bytes, declared: str | None) -> tuple[str, str]:
    """Decode a body or header: the declared charset when it fits the bytes, else the best guess."""
    codec = normalise_charset(declared)
    if codec is None:
        return guess_decode(data)
    if codec in ("ascii", "latin-1") or codec.startswith(("iso8859", "cp125")):
        # A single-byte label on valid multi-byte UTF-8 is a mislabel (webmail forms, old gateways).
        if not data.isascii():
            try:
                return data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass
        if codec == "ascii" and not data.isascii():
            return guess_decode(data)
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return guess_decode(data)
    if codec in _WESTERN and not data.isascii():
        # Old Greek and Central European clients labelled their mail ISO-8859-1 all the same: when
        # another legacy codec reads clearly better, the label was wrong.
        guess, guessed = guess_decode(data)
        if guessed != codec and plausibility(guess[:SAMPLE_BYTES]) >= plausibility(text[:SAMPLE_BYTES]) + 2.0:
            return guess, guessed
    if codec == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]
    return text, codec
