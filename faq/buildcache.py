"""The matcher's trained state on disk, so that a worker start or a reload of an unchanged FAQ is a load.

Training a knowledge base (TF-IDF vocabularies, a linear SVM per entry, the sentence embeddings' centre
and axes) takes seconds and needs scikit-learn; loading what it produced takes milliseconds and needs
numpy and scipy.sparse only. A build is saved in one .npz file (arrays only: read with
allow_pickle=False, so a file cannot run code) beside the embedding cache, under a key: the SHA-256 of
everything the build depends on (the entries' ids and questions in order, the encoder's identity, the
calibration, the training constants, this code). A file for another key (an edited FAQ, another model,
another release) is stale and is replaced by the next build; a corrupt or foreign file is ignored,
logged, and replaced too. Files are written whole to a temporary file and renamed, so a reader never
sees half a file and two processes writing at once leave one complete file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .filelock import exclusive
from .langprofile import samples_digest
from .model import Entry
from .sparse import sp

log = logging.getLogger(__name__)

BUILD_FORMAT = 3  # the file's layout and the meaning of its arrays; a file of another format is ignored
# The modules whose code shapes a build: a release that changes any of them retrains, whatever BUILD_FORMAT says.
_CODE = ("analyzers", "buildcache", "calibration", "coverage", "encoder", "features", "langprofile", "matcher",
         "normalize", "quick", "reach", "scope", "scope_fit", "training", "wordindex", "wordvectors")
# How long a process waits for another one's training of the same knowledge base before it trains itself:
# far above a 10,000-question build (~10 s), so only a hung process makes anyone wait this long.
TRAINING_WAIT_SECONDS = 180.0
MAX_FILE_BYTES = 2 << 30  # far above any FAQ's build (10,000 questions: ~40 MB); bounds what a read allocates


@dataclass(frozen=True, eq=False)
class MatcherBuild:
    """What `matcher.ClassifierMatcher` learns from its entries: everything matching needs, nothing else."""

    entry_ids: tuple[str, ...]
    latin: bool  # questions and messages are matched in the Latin spelling (a Greek knowledge base)
    owners: np.ndarray  # entry index of each question row (int64)
    prepared: tuple[str, ...]  # the questions as matched (normalised): the scope's vocabulary
    vocabularies: tuple[tuple[str, ...], tuple[str, ...]]  # character and word n-grams, in column order
    idfs: tuple[np.ndarray, np.ndarray]
    weights: sp.csr_matrix  # n-gram features x entries
    bias: np.ndarray  # per entry
    questions: sp.csr_matrix  # n-gram features x questions
    embeddings: np.ndarray | None = None  # rows embedded by the encoder (float32), if there is one
    embedding_owners: np.ndarray | None = None  # entry index of each embedded row
    embedding_weights: np.ndarray | None = None  # encoder dimensions x entries, feature weight included
    embedded: tuple[str, ...] = ()  # the texts the sentence model embedded (whose spelling messages take)
    sentence_mean: np.ndarray | None = None  # the sentence embeddings' centre and axes (matcher.CentredSentences)
    sentence_axes: np.ndarray | None = None
    # The language profile (`langprofile`): trigram counts per language of the samples and the questions.
    profile: Mapping[str, Mapping[str, int]] | None = None
    # The quick path's classifier on n-grams and word vectors alone (`quick`), in a build with a sentence model.
    quick_weights: sp.csr_matrix | None = None  # n-gram features x entries
    quick_vector_weights: np.ndarray | None = None  # word-vector dimensions x entries
    quick_bias: np.ndarray | None = None
    # How far this knowledge base's bar for offering choices moves the scope curve (`scope_fit`).
    scope_offset: float = 0.0


def build_key(entries: Mapping[str, Entry], encoder_identity: str, calibration: object) -> bytes:
    """The SHA-256 of everything a build of `entries` depends on."""
    digest = hashlib.sha256()
    header = {"format": BUILD_FORMAT, "code": code_digest(), "encoder": encoder_identity,
              "calibration": repr(calibration), "samples": samples_digest(), "scikit-learn": _version("scikit-learn"), "numpy": np.__version__}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for entry in entries.values():
        # Order matters (row order, the training's random background sample), so it is hashed as is.
        digest.update(json.dumps([entry.id, list(entry.questions.items())], ensure_ascii=False).encode())
        digest.update(b"\0")
    return digest.digest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the source of the modules that shape a build."""
    digest = hashlib.sha256()
    folder = Path(__file__).parent
    for name in _CODE:
        digest.update((folder / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _version(package: str) -> str:
    try:  # from the installed metadata: importing scikit-learn to ask would cost what the cache saves
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def build_cache_path(embedding_cache: Path) -> Path:
    """The build file beside an embedding cache file: embeddings-<folder>.npz -> embeddings-<folder>.matcher.npz."""
    path = Path(embedding_cache).expanduser()
    return path.with_name(f"{path.stem}.matcher.npz")


class BuildCache:
    """One file holding the latest build of one knowledge base folder. Reading never fails: a missing,
    stale, corrupt or foreign file reads as None (corrupt and foreign ones logged); writing replaces it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()

    def holds(self, key: bytes) -> bool:
        """Whether the file is (at a glance: its key alone is read) a build for `key`."""
        try:
            with open(self.path, "rb") as file, np.load(file, allow_pickle=False) as data:
                return int(data["format"]) == BUILD_FORMAT and np.asarray(data["key"]).tobytes() == key
        except Exception:  # noqa: BLE001 - anything unreadable is no build; `read` says why
            return False

    @contextmanager
    def training(self) -> Iterator[None]:
        """Held while this process trains the build: other processes (and threads) training the same
        knowledge base wait, then find the build saved. Without a lock to be had (a read-only folder),
        or after TRAINING_WAIT_SECONDS, training goes ahead alone (logged)."""
        with exclusive(self.path.with_name(f"{self.path.name}.lock"), TRAINING_WAIT_SECONDS, what="FAQ training"):
            yield

    def read(self, key: bytes) -> MatcherBuild | None:
        """The build for `key`; None when the file is missing, for another key, or unusable."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return None
        try:
            if size > MAX_FILE_BYTES:
                raise ValueError(f"{size} bytes, more than any build")
            # Opened here, not by np.load, so that a file that is no .npz at all is closed too.
            with open(self.path, "rb") as file, np.load(file, allow_pickle=False) as data:
                layout = int(data["format"])
                if layout != BUILD_FORMAT:
                    raise ValueError(f"build format {layout}, this Helpline reads {BUILD_FORMAT}")
                if np.asarray(data["key"]).tobytes() != key:
                    log.info("the FAQ build cache %s holds another build (the FAQ or the model changed): training", self.path)
                    return None
                arrays = {name: np.asarray(data[name]) for name in data.files}
            return _from_arrays(arrays)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is only a cold cache
            log.warning("ignoring the FAQ build cache %s, it will be rebuilt: %s", self.path, exc)
            return None

    def write(self, key: bytes, build: MatcherBuild) -> bool:
        """Replace the file with `build` (written whole to a temporary file, then renamed); False, with a
        warning, when that fails: matching goes on, the next start trains again."""
        temporary = None
        try:
            arrays = _to_arrays(build)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp",
                                             delete=False) as file:
                temporary = Path(file.name)
                members: dict[str, Any] = {"format": np.int64(BUILD_FORMAT), "key": np.frombuffer(key, dtype=np.uint8), **arrays}
                np.savez(file, **members)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
            return True
        except (OSError, ValueError) as exc:
            log.warning("cannot write the FAQ build cache %s: %s", self.path, exc)
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            return False


def _to_arrays(build: MatcherBuild) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {
        "latin": np.asarray(build.latin), "owners": np.asarray(build.owners, dtype=np.int64),
        "char_idf": build.idfs[0], "word_idf": build.idfs[1], "bias": np.asarray(build.bias, dtype=np.float64),
        "scope_offset": np.asarray(build.scope_offset, dtype=np.float64),
    }
    for name, texts in (("entry_ids", build.entry_ids), ("prepared", build.prepared), ("embedded", build.embedded),
                        ("char_vocabulary", build.vocabularies[0]), ("word_vocabulary", build.vocabularies[1])):
        arrays[f"{name}_text"], arrays[f"{name}_lengths"] = _pack(texts)
    matrices = [("weights", build.weights), ("questions", build.questions)]
    if build.quick_weights is not None:
        matrices.append(("quick_weights", build.quick_weights))
    for name, matrix in matrices:
        arrays.update({f"{name}_data": matrix.data, f"{name}_indices": matrix.indices,
                       f"{name}_indptr": matrix.indptr, f"{name}_shape": np.asarray(matrix.shape, dtype=np.int64)})
    for name in ("embeddings", "embedding_owners", "embedding_weights", "sentence_mean", "sentence_axes",
                 "quick_vector_weights", "quick_bias"):
        value = getattr(build, name)
        if value is not None:
            arrays[name] = np.asarray(value)
    if build.profile is not None:
        languages = list(build.profile)
        arrays["profile_languages_text"], arrays["profile_languages_lengths"] = _pack(languages)
        arrays["profile_sizes"] = np.asarray([len(build.profile[language]) for language in languages], dtype=np.int64)
        grams = [gram for language in languages for gram in build.profile[language]]
        arrays["profile_grams_text"], arrays["profile_grams_lengths"] = _pack(grams)
        arrays["profile_counts"] = np.asarray([count for language in languages for count in build.profile[language].values()],
                                              dtype=np.int64)
    return arrays


def _from_arrays(arrays: Mapping[str, np.ndarray]) -> MatcherBuild:
    """The build of a file's arrays, every shape checked against the others; raises ValueError or KeyError."""
    texts = {name: _unpack(arrays[f"{name}_text"], arrays[f"{name}_lengths"])
             for name in ("entry_ids", "prepared", "embedded", "char_vocabulary", "word_vocabulary")}
    entries = len(texts["entry_ids"])
    owners = _ints(arrays["owners"], entries)
    idfs = (_floats(arrays["char_idf"], 1), _floats(arrays["word_idf"], 1))
    vocabularies = (texts["char_vocabulary"], texts["word_vocabulary"])
    if any(len(v) != len(i) for v, i in zip(vocabularies, idfs)):
        raise ValueError("n-gram vocabularies and idf of different lengths")
    features = len(idfs[0]) + len(idfs[1])
    weights = _csr(arrays, "weights", (features, entries))
    questions = _csr(arrays, "questions", (features, len(owners)))
    bias = _floats(arrays["bias"], 1)
    if bias.shape != (entries,) or len(texts["prepared"]) != len(owners):
        raise ValueError(f"{bias.shape[0]} biases and {len(texts['prepared'])} questions for "
                         f"{entries} entries and {len(owners)} question rows")
    embeddings = arrays.get("embeddings")
    embedding_owners = embedding_weights = None
    if embeddings is not None:
        embeddings = _floats(embeddings, 2)
        embedding_owners = _ints(arrays["embedding_owners"], entries)
        embedding_weights = _floats(arrays["embedding_weights"], 2)
        if embedding_owners.shape != (embeddings.shape[0],) or embedding_weights.shape != (embeddings.shape[1], entries):
            raise ValueError(f"embeddings {embeddings.shape} do not fit their owners {embedding_owners.shape} "
                             f"and weights {embedding_weights.shape}")
    mean, axes = arrays.get("sentence_mean"), arrays.get("sentence_axes")
    if (mean is None) != (axes is None):
        raise ValueError("a sentence centre without axes, or axes without a centre")
    if mean is not None and axes is not None:
        mean, axes = _floats(mean, 1), _floats(axes, 2)
        if axes.shape[0] != mean.shape[0]:
            raise ValueError(f"sentence axes {axes.shape} do not fit a centre of {mean.shape[0]} dimensions")
    quick = _quick(arrays, features, entries, embeddings)
    profile = None
    if "profile_sizes" in arrays:
        languages = _unpack(arrays["profile_languages_text"], arrays["profile_languages_lengths"])
        grams = _unpack(arrays["profile_grams_text"], arrays["profile_grams_lengths"])
        sizes, counts = arrays["profile_sizes"], arrays["profile_counts"]
        if sizes.dtype != np.int64 or sizes.shape != (len(languages),) or (sizes < 0).any() or int(sizes.sum()) != len(grams) \
                or counts.dtype != np.int64 or counts.shape != (len(grams),) or (counts <= 0).any():
            raise ValueError("a language profile whose counts do not fit its trigrams")
        ends = np.cumsum(sizes).tolist()
        listed = counts.tolist()
        profile = {language: dict(zip(grams[start:end], listed[start:end]))
                   for language, start, end in zip(languages, [0, *ends[:-1]], ends)}
    return MatcherBuild(
        entry_ids=texts["entry_ids"], latin=bool(arrays["latin"]), owners=owners, prepared=texts["prepared"],
        vocabularies=vocabularies, idfs=idfs, weights=weights, bias=bias, questions=questions,
        embeddings=embeddings, embedding_owners=embedding_owners, embedding_weights=embedding_weights,
        embedded=texts["embedded"], sentence_mean=mean, sentence_axes=axes, profile=profile,
        quick_weights=quick[0], quick_vector_weights=quick[1], quick_bias=quick[2],
        scope_offset=_scope_offset(arrays["scope_offset"]),
    )


def _scope_offset(array: np.ndarray) -> float:
    value = np.asarray(array)
    if value.shape != () or value.dtype != np.float64 or not np.isfinite(value):
        raise ValueError(f"a scope offset of shape {value.shape} and type {value.dtype}")
    return float(value)


def _quick(arrays: Mapping[str, np.ndarray], features: int, entries: int, embeddings: np.ndarray | None
           ) -> tuple[sp.csr_matrix | None, np.ndarray | None, np.ndarray | None]:
    """The quick path's arrays (all three, or none), checked against the build's sizes."""
    present = [name in arrays for name in ("quick_weights_shape", "quick_vector_weights", "quick_bias")]
    if not any(present):
        return None, None, None
    if not all(present) or embeddings is None:
        raise ValueError("a quick path with parts missing, or without embeddings")
    weights = _csr(arrays, "quick_weights", (features, entries))
    vector_weights, bias = _floats(arrays["quick_vector_weights"], 2), _floats(arrays["quick_bias"], 1)
    if bias.shape != (entries,) or vector_weights.shape[1] != entries or vector_weights.shape[0] >= embeddings.shape[1]:
        raise ValueError(f"quick path weights {vector_weights.shape} and biases {bias.shape} for {entries} entries")
    return weights, vector_weights, bias


def _pack(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array and their byte lengths (no pickles in the file; any text may be stored)."""
    encoded = [text.encode("utf-8") for text in texts]
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), np.asarray([len(e) for e in encoded], dtype=np.int64)


def _unpack(joined: np.ndarray, lengths: np.ndarray) -> tuple[str, ...]:
    if joined.dtype != np.uint8 or joined.ndim != 1 or lengths.dtype != np.int64 or lengths.ndim != 1 \
            or (lengths < 0).any() or int(lengths.sum()) != joined.size:
        raise ValueError("a text table whose lengths do not add up")
    data = joined.tobytes()
    ends = np.cumsum(lengths).tolist()
    return tuple(data[start:end].decode("utf-8") for start, end in zip([0, *ends[:-1]], ends))


def _ints(values: np.ndarray, below: int) -> np.ndarray:
    if values.dtype != np.int64 or values.ndim != 1 or (values.size and (values.min() < 0 or values.max() >= below)):
        raise ValueError(f"entry indices outside 0..{below - 1}")
    return values


def _floats(values: np.ndarray, ndim: int) -> np.ndarray:
    if values.dtype.kind != "f" or values.ndim != ndim or not np.isfinite(values).all():
        raise ValueError(f"{values.dtype} values of {values.ndim} dimensions, not {ndim} of finite floats")
    return values


def _csr(arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, int]) -> sp.csr_matrix:
    stored = tuple(int(n) for n in arrays[f"{name}_shape"])
    if stored != shape:
        raise ValueError(f"{name}: shape {stored}, expected {shape}")
    data = _floats(arrays[f"{name}_data"], 1)
    indices, indptr = arrays[f"{name}_indices"], arrays[f"{name}_indptr"]
    if indices.dtype.kind != "i" or indptr.dtype.kind != "i" or indptr.shape != (shape[0] + 1,) \
            or indices.shape != data.shape:
        raise ValueError(f"{name}: a sparse matrix of inconsistent parts")
    matrix = sp.csr_matrix((data, indices, indptr), shape=shape)
    matrix.check_format(full_check=True)  # indices in range, pointers ascending: else products would read past the arrays
    return matrix

