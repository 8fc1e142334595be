"""Messages to read with both intents readers: real questions, the vocabulary's own phrases, and variants.

Shared by tests/router/test_intents_same.py (the readers must agree on every one) and bench/intents.py
(CPU time per read). Deterministic: the same list on every run.
"""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path

import yaml

from faq.normalize import latin_key, normalize, strip_accents, transliterate_greek

REPO = Path(__file__).resolve().parents[2]
VOCABULARY = REPO / "router" / "vocabulary"
DEV_SETS = Path("/work/shared/data/faq")  # the shared data sets; absent on a machine without them
LANGUAGES = ["en", "el", "lv", "hu"]
# Endings a stem ("άνθρωπ*", "cilvēk*") is typed with, so the stems are read inflected too.
_ENDINGS = ("", "os", "ος", "ο", "ου", "a", "u", "s", "am", "ot", "nak", "e")
# Words put around a phrase: a negation, a question, a request, small talk, filler.
_AROUND = ("not", "no", "δεν", "nav", "nem", "please", "παρακαλώ", "lūdzu", "kérem", "hello", "ok", "thanks",
           "and", "και", "un", "és", "my", "μου", "mans", "az")


def dev_texts() -> list[str]:
    """The customers' questions of every shared dev set (none when the data sets are not on this machine)."""
    texts = []
    for file in sorted(DEV_SETS.glob("*/dev.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(str(json.loads(line)["text"]))
    return texts


def test_messages() -> list[str]:
    """Every string literal with a letter in it in the router's tests: the messages they send."""
    texts = []
    for file in sorted((REPO / "tests" / "router").rglob("test_*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) <= 300 \
                    and any(char.isalpha() for char in node.value):
                texts.append(node.value)
    return texts


def vocabulary_phrases() -> list[str]:
    """Every phrase of every vocabulary list, as listed (a stem's * dropped, or given an ending)."""
    phrases = []
    for language in LANGUAGES:
        data = yaml.safe_load((VOCABULARY / f"{language}.yaml").read_text(encoding="utf-8"))
        for key, value in data.items():
            entries = [word for words in value.values() for word in words] if key == "rating" else value
            for entry in entries:
                text = str(entry)
                if "*" in text:
                    phrases.extend(text.replace("*", ending) for ending in _ENDINGS)
                else:
                    phrases.append(text)
    return phrases


def variants(text: str) -> list[str]:
    """`text` as carelessly typed: without accents, in capitals, in Greeklish, with punctuation."""
    plain = strip_accents(text)
    return [plain, text.upper(), plain.upper(), transliterate_greek(normalize(text)), latin_key(normalize(text)),
            text.capitalize() + "?"]


def typos(text: str, rng: random.Random) -> list[str]:
    """`text` with one letter dropped, doubled, swapped with the next one or changed (two of those)."""
    if len(text) < 2:
        return []
    cut = rng.randrange(len(text) - 1)
    mistyped = [text[:cut] + text[cut + 1:], text[:cut] + text[cut] + text[cut:],
                text[:cut] + text[cut + 1] + text[cut] + text[cut + 2:],
                text[:cut] + rng.choice("aeiouxsnrtlkαεοιυ") + text[cut + 1:]]
    return rng.sample(mistyped, 2)


def corpus(with_dev_sets: bool = True) -> list[str]:
    """The messages both readers are run over, without repeats, in a fixed order."""
    rng = random.Random(14)
    phrases = vocabulary_phrases()
    texts: list[str] = [*(dev_texts() if with_dev_sets else []), *test_messages()]
    for phrase in phrases:
        texts.append(phrase)
        texts.extend(variants(phrase))
        texts.extend(typos(phrase, rng))
        texts.append(f"{rng.choice(_AROUND)} {phrase}")
        texts.append(f"{phrase} {rng.choice(_AROUND)}")
    # Phrases of different lists and languages together ("ok thanks, bye", "not solved, I want a person").
    for _ in range(1500):
        picked = rng.sample(phrases, rng.randint(2, 4))
        texts.append(rng.choice((" ", ", ", " and ", ". ")).join(picked))
    # Real questions with small talk, a request or a complaint before or after them.
    questions = texts[:2000]
    for _ in range(500):
        texts.append(f"{rng.choice(phrases)}, {rng.choice(questions)}")
        texts.append(f"{rng.choice(questions)} {rng.choice(phrases)}")
    return list(dict.fromkeys(texts))
