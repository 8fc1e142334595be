"""Word vectors shipped with Helpline: what words mean, so the default matcher sees that "give me my
cash back" asks for a refund without a language model at run time.

`faq/data/word_vectors.npz` holds the most frequent words of English, Greek, Latvian and Hungarian
(wordfreq's lists), each embedded on its own by the multilingual-e5-small sentence model, centred,
reduced and stored as int8 by `scripts/build-word-vectors` (see there for how and why). At run time a
message's vector is the weighted mean of its words' vectors: numpy and a dict lookup, microseconds.

Words are looked up in their matching form (`normalize`: no case, no accents), so "Πώς", "πως",
"Rendelés" and "rendeles" find the same vector; Greek words are also found by their Latin spelling
("epistrepso"), so Greeklish means what Greek means. A word not in the table (an inflected form, a
compound, a typo: "szenzornak", "ajtozar") gets a guess from its character n-grams: each n-gram has the
mean vector of the table's words that contain it, as in fastText's subword vectors.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
import zipfile
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .normalize import has_greek, has_latin, latin_key, normalize
from .wordindex import WordIndex

log = logging.getLogger(__name__)

TABLE = Path(__file__).with_name("data") / "word_vectors.npz"
FORMAT = 1  # bumped when the file's layout changes; the loader refuses other layouts
GRAM_SIZES = (3, 4, 5)  # character n-grams of "<word>", the markers telling beginnings and endings

# How much the words' mean vector weighs beside the unit-length n-gram vector in the classifier's
# input, and how much the closest question by word vectors adds to an entry's ranking value. Chosen on
# the bench sets together (`bench/faq.py`); top-1 moves by about a point between 1 and 2 / 0.25 and 1.
FEATURE_WEIGHT = 1.5
NEAREST_WEIGHT = 0.5


class WordVectorsError(ValueError):
    """The word-vector table cannot be read; the message names the file and what is wrong."""


class WordVectors:
    """A table of word vectors (int8 rows with a scale each) with a weight per word, plus vectors of
    hashed character n-grams for words it lacks. Rare words weigh more, as in smooth inverse frequency
    weighting: "the" and "my" say little about what is asked."""

    feature_weight = FEATURE_WEIGHT
    nearest_weight = NEAREST_WEIGHT

    def __init__(self, keys: Sequence[str], vectors: np.ndarray, scales: np.ndarray, weights: np.ndarray,
                 grams: np.ndarray, gram_scales: np.ndarray, gram_idf: np.ndarray, gram_weight: float,
                 aliases: Sequence[str] = (), alias_rows: Sequence[int] = ()) -> None:
        if vectors.ndim != 2 or grams.ndim != 2:
            raise WordVectorsError(f"word vectors: tables of {vectors.ndim} and {grams.ndim} dimensions, not 2")
        if not (len(keys) == vectors.shape[0] == scales.shape[0] == weights.shape[0]):
            raise WordVectorsError(f"word vectors: {len(keys)} words but {vectors.shape[0]} vectors, "
                                   f"{scales.shape[0]} scales and {weights.shape[0]} weights")
        if not (grams.shape[0] == gram_scales.shape[0] == gram_idf.shape[0] > 0 and grams.shape[1] == vectors.shape[1]):
            raise WordVectorsError(f"word vectors: n-gram table {grams.shape} with {gram_scales.shape[0]} scales and "
                                   f"{gram_idf.shape[0]} weights does not fit {vectors.shape[1]}-dimensional words")
        if len(aliases) != len(alias_rows):
            raise WordVectorsError(f"word vectors: {len(aliases)} aliases but {len(alias_rows)} alias rows")
        self.dimension = int(vectors.shape[1])
        self._vectors = np.ascontiguousarray(vectors, dtype=np.int8)
        # The weight and the int8 scale are both per word: folded into one factor applied at lookup.
        self._factors = np.asarray(scales, dtype=np.float32) * np.asarray(weights, dtype=np.float32)
        self._grams = np.ascontiguousarray(grams, dtype=np.int8)
        self._gram_factors = np.asarray(gram_scales, dtype=np.float32) * np.asarray(gram_idf, dtype=np.float32)
        self._gram_weight = float(gram_weight)
        # A word's own spelling wins over another's alias (the first of equal words is found).
        self._index = WordIndex([*keys, *aliases], np.concatenate([np.arange(len(keys), dtype=np.int64),
                                                                   np.asarray(alias_rows, dtype=np.int64)]))
        # Messages repeat words; a few thousand cached words hold nearly all of them (16k x 0.5 KB).
        self.word = lru_cache(maxsize=16_384)(self._word_vector)
        # What a matcher build's key says of this table (see `buildcache`); `load` gives the file's.
        self.identity = f"format {FORMAT}, {self.size} words x {self.dimension}"

    @property
    def size(self) -> int:
        """How many words the table knows (aliases not counted)."""
        return self._vectors.shape[0]

    @classmethod
    def load(cls, path: Path = TABLE) -> WordVectors:
        """The table in `path` (a file written by `scripts/build-word-vectors`); raises WordVectorsError."""
        try:
            with np.load(path, allow_pickle=False) as data:
                layout = int(data["format"])
                if layout != FORMAT:
                    raise WordVectorsError(f"{path}: word-vector format {layout}, this Helpline reads {FORMAT}")
                mapped = _mapped(path, MAPPED)
                arrays = (
                    _split(data["keys"]), mapped.get("vectors", data["vectors"]), data["scales"], data["weights"],
                    mapped.get("grams", data["grams"]), data["gram_scales"], data["gram_idf"],
                    float(data["gram_weight"]), _split(data["aliases"]), data["alias_rows"],
                )
            table = cls(*arrays)
            table.identity = f"format {FORMAT}, {table_digest(path)}"
            return table
        except WordVectorsError as exc:
            raise exc if str(exc).startswith(str(path)) else WordVectorsError(f"{path}: {exc}") from None
        except (OSError, KeyError, ValueError, UnicodeDecodeError, zipfile.BadZipFile, struct.error) as exc:
            raise WordVectorsError(f"{path}: cannot read the word-vector table: {exc}") from None

    def row(self, word: str) -> int:
        """The table's row for a normalised word, or for its Latin spelling (Greeklish); -1 if it has none."""
        row = self._index.get(word)
        if row < 0 and has_latin(word) and not has_greek(word):
            row = self._index.get(latin_key(word))
        return row

    def _word_vector(self, word: str) -> np.ndarray | None:
        """A normalised word's weighted vector: from the table, else guessed from its n-grams; None for
        words with digits (order numbers, amounts: their n-grams mean nothing) and for empty words."""
        row = self.row(word)
        if row >= 0:
            return self._factors[row] * self._vectors[row].astype(np.float32)
        if not word or any(char.isdigit() for char in word):
            return None
        buckets = np.fromiter({gram_bucket(gram, self._grams.shape[0]) for gram in grams_of(word)}, dtype=np.int64)
        guess = self._gram_factors[buckets] @ self._grams[buckets].astype(np.float32)
        norm = float(np.sqrt(guess @ guess))
        return guess * (self._gram_weight / norm) if norm > 0 else None

    def embed_one(self, text: str) -> np.ndarray:
        """Unit-length weighted mean of the vectors of the words of `text`; zeros when none has one."""
        vectors = [v for v in map(self.word, normalize(text).split()) if v is not None]
        if not vectors:
            return np.zeros(self.dimension, dtype=np.float32)
        # ndarray.sum, not np.sum: numpy's stubs type np.sum(..., axis=0) as scalar-or-array; rows summed give a row.
        vector: np.ndarray = np.stack(vectors).sum(axis=0, dtype=np.float32)
        norm = float(np.sqrt(vector @ vector))
        return vector / norm if norm > 0 else vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """`embed_one` of each text, as rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.embed_one(text) for text in texts])


# The two large tables (13.5 MB of word vectors, 8.4 MB of n-gram vectors) are stored uncompressed in the
# file and memory-mapped: a process then holds only the pages of the words its messages use, and the
# processes of one machine share them (read into each, they were 22 MB of private memory per worker).
MAPPED = ("vectors", "grams")


def _mapped(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The members `names` of an .npz file that are stored uncompressed, as read-only memory maps of the
    file (a compressed member is left out: the caller reads it as usual)."""
    mapped: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as file:
        for name in names:
            info = archive.getinfo(f"{name}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                continue
            file.seek(info.header_offset)
            local = file.read(30)  # the member's local header: signature, ..., name and extra field lengths
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"{name}: no local zip header at {info.header_offset}")
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            file.seek(info.header_offset + 30 + name_length + extra_length)
            version = np.lib.format.read_magic(file)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0(file) if version == (1, 0)
                                     else np.lib.format.read_array_header_2_0(file))
            if dtype.hasobject:
                raise ValueError(f"{name}: an array of objects")
            offset = file.tell()
            if offset + int(np.prod(shape)) * dtype.itemsize > info.header_offset + 30 + name_length \
                    + extra_length + info.file_size:
                raise ValueError(f"{name}: {shape} {dtype} values do not fit the member's {info.file_size} bytes")
            mapped[name] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                     order="F" if fortran else "C")
    return mapped


def table_digest(path: Path) -> str:
    """A digest of the table file's content from its zip directory (each member's name, size and CRC-32),
    so that telling one table from another costs no read of its 19 MB."""
    with zipfile.ZipFile(path) as archive:
        members = sorted((info.filename, info.file_size, info.CRC) for info in archive.infolist())
    return hashlib.sha256(repr(members).encode()).hexdigest()[:32]


def grams_of(word: str) -> list[str]:
    """The character n-grams of a normalised word that its guessed vector is made of."""
    marked = f"<{word}>"
    return [marked[i:i + n] for n in GRAM_SIZES for i in range(len(marked) - n + 1)]


def gram_bucket(gram: str, buckets: int) -> int:
    """The n-gram table row of `gram`: a hash that is the same in every process (str hashes are not)."""
    return zlib.crc32(gram.encode("utf-8")) % buckets


def _split(joined: np.ndarray) -> list[str]:
    """Words stored as one UTF-8 byte array joined by newlines (no pickles in the file)."""
    text = joined.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def join_words(words: Sequence[str]) -> np.ndarray:
    """The storage form `_split` reads back."""
    return np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)


_builtin: WordVectors | None = None
_builtin_lock = threading.Lock()
_builtin_loaded = False


def builtin_word_vectors() -> WordVectors | None:
    """The shipped table, loaded once per process; None (and one error logged) if the install lacks it,
    so matching still works, on n-grams alone, instead of the service failing to start."""
    global _builtin, _builtin_loaded
    with _builtin_lock:
        if not _builtin_loaded:
            try:
                _builtin = WordVectors.load(TABLE)
            except WordVectorsError as exc:
                log.error("FAQ matching runs without word vectors (fewer paraphrases are recognised): %s", exc)
            _builtin_loaded = True
        return _builtin
