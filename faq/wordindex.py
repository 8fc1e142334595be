"""Compact lookup tables of words, for the large shipped lists every worker process holds (the word
vectors' 130,000 words, the spelling lists' 90,000): a dict of them costs ~100-200 bytes a word in
Python objects, these ~30-40.

A table is the words' hashes, sorted, beside one UTF-8 text of all the words; a lookup is a binary
search of the hash and a comparison of the bytes (a few microseconds, where a dict takes a tenth of
one: these lists are read per word of a message, behind caches or beside a sentence model's ~13 ms).
`hash` of a str differs between processes, and is only ever compared within the process that built it.
"""

from __future__ import annotations

import array
import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property

import numpy as np


class WordIndex:
    """Rows by word. Of equal words the first one's row is found, as `dict.setdefault` would keep."""

    def __init__(self, words: Sequence[str], rows: Sequence[int] | np.ndarray) -> None:
        if len(words) != len(rows):
            raise ValueError(f"{len(words)} words but {len(rows)} rows")
        hashes = np.fromiter((hash(word) for word in words), dtype=np.int64, count=len(words))
        text, starts, ends = _joined(words)
        self._build(text, hashes, (starts, ends), np.asarray(rows, dtype=np.int64))

    def _build(self, text: bytes, hashes: np.ndarray, bounds: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")  # equal words keep their order: the first one is found
        self._text = text
        # array.array, not numpy: bisect and indexing of one item are ~10x quicker on it.
        self._hashes = array.array("q", hashes[order].tobytes())
        self._rows = array.array("q", rows[order].tobytes())
        self._starts = array.array("q", bounds[0][order].tobytes())
        self._ends = array.array("q", bounds[1][order].tobytes())

    def __len__(self) -> int:
        return len(self._hashes)

    @cached_property
    def distinct(self) -> int:
        """How many different words the table holds (counted once: it reads them all)."""
        return sum(1 for _ in self.words())

    def words(self) -> Iterator[str]:
        """Each different word once (in no particular order)."""
        for index in range(len(self._hashes)):
            word = self._text[self._starts[index]:self._ends[index]].decode("utf-8", "surrogatepass")
            if self._find(word) == index:  # the first of equal words: the one found
                yield word

    def get(self, word: str) -> int:
        """The row of `word`; -1 if the table has none."""
        index = self._find(word)
        return self._rows[index] if index >= 0 else -1

    def _find(self, word: str) -> int:
        key = hash(word)
        index = bisect.bisect_left(self._hashes, key)
        encoded = word.encode("utf-8", "surrogatepass")
        while index < len(self._hashes) and self._hashes[index] == key:
            if self._text[self._starts[index]:self._ends[index]] == encoded:  # not another word of the same hash
                return index
            index += 1
        return -1


class WordMap(Mapping[str, str]):
    """Text by word (e.g. a spelling by folded form), held like WordIndex; the first of equal words wins."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        """From (word, text) pairs, read one at a time: no list of them all is ever held, so that loading a
        long list does not leave the process its transient Python objects' worth of memory."""
        words, values = _Texts(), _Texts()
        for word, value in pairs:
            words.add(word)
            values.add(value)
        self._index = WordIndex.__new__(WordIndex)
        self._index._build(words.text(), words.hashes(), words.bounds(), np.arange(words.count, dtype=np.int64))
        self._text = values.text()
        self._starts, self._ends = (array.array("q", bound.tobytes()) for bound in values.bounds())

    def get(self, word: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The text of `word`; `default` if the table has none."""
        row = self._index.get(word)
        if row < 0:
            return default
        return self._text[self._starts[row]:self._ends[row]].decode("utf-8", "surrogatepass")

    def __getitem__(self, word: str) -> str:
        value = self.get(word)
        if value is None:
            raise KeyError(word)
        return value

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._index.get(word) >= 0

    def __iter__(self) -> Iterator[str]:
        return self._index.words()

    def __len__(self) -> int:
        return self._index.distinct

    def __bool__(self) -> bool:  # asked per word of a message: not through __len__, which counts them all once
        return len(self._index) > 0


class _Texts:
    """Texts added one at a time into one UTF-8 text, with their hashes and where each ends."""

    def __init__(self) -> None:
        self._text = bytearray()
        self._hashes = array.array("q")
        self._ends = array.array("q")

    @property
    def count(self) -> int:
        return len(self._ends)

    def add(self, text: str) -> None:
        self._hashes.append(hash(text))
        self._text += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._text))

    def text(self) -> bytes:
        return bytes(self._text)

    def hashes(self) -> np.ndarray:
        return np.frombuffer(self._hashes.tobytes(), dtype=np.int64)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        ends = np.frombuffer(self._ends.tobytes(), dtype=np.int64)
        return np.concatenate([np.zeros(1, dtype=np.int64), ends[:-1]]), ends


def _joined(texts: Sequence[str]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """One UTF-8 text of `texts`, and where each of them starts and ends in it (int64 arrays)."""
    if not texts:
        return b"", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    joined = "\n".join(texts).encode("utf-8", "surrogatepass")  # one join: ~10x quicker than encoding each
    breaks = np.flatnonzero(np.frombuffer(joined, dtype=np.uint8) == ord("\n"))
    if len(breaks) == len(texts) - 1:  # no text holds a newline: the breaks are the boundaries
        return joined, np.concatenate([[0], breaks + 1]).astype(np.int64), \
            np.concatenate([breaks, [len(joined)]]).astype(np.int64)
    encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
    ends = np.cumsum([len(text) for text in encoded], dtype=np.int64)
    return b"".join(encoded), np.concatenate([np.zeros(1, dtype=np.int64), ends[:-1]]), ends
