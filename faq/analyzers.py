"""The n-gram analyzers of the matcher's feature space, without scikit-learn.

They are exactly TfidfVectorizer's `char_wb` (1-5) and `word` (1-2, token pattern \\S+) analyzers with
lowercase=False and no accent stripping (tests/faq/test_faq_build_cache.py checks them against
scikit-learn's `build_analyzer()` on random text), so a knowledge base trained with scikit-learn
matches, once loaded from its build cache (`buildcache`), in a process that never imports it:
scikit-learn costs ~1.5 s of start and ~68 MB of memory.
"""

from __future__ import annotations

import re

CHAR_NGRAMS = (1, 5)
WORD_NGRAMS = (1, 2)

_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's: runs of whitespace become one space
_TOKEN = re.compile(r"\S+")


def char_wb_ngrams(text: str, ngram_range: tuple[int, int] = CHAR_NGRAMS) -> list[str]:
    """Character n-grams inside words padded with one space each side (scikit-learn's `char_wb`)."""
    low, high = ngram_range
    grams: list[str] = []
    append = grams.append
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            offset = 0
            append(padded[offset:offset + n])
            while offset + n < length:
                offset += 1
                append(padded[offset:offset + n])
            if offset == 0:  # a word shorter than n: counted once, not again for every larger n
                break
    return grams


def word_ngrams(text: str, ngram_range: tuple[int, int] = WORD_NGRAMS) -> list[str]:
    """Tokens (runs of non-space) and runs of `n` tokens joined by one space (scikit-learn's `word`)."""
    low, high = ngram_range
    tokens = _TOKEN.findall(text)
    if high == 1:
        return tokens
    grams = list(tokens) if low == 1 else []
    first = max(low, 2)
    for n in range(first, min(high + 1, len(tokens) + 1)):
        for start in range(len(tokens) - n + 1):
            grams.append(" ".join(tokens[start:start + n]))
    return grams
