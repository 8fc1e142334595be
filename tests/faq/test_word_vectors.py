"""The shipped word vectors: the table loads, words are found however they are typed, vectors mean
something, a broken table is refused with its name, and the matcher uses them by default."""

from __future__ import annotations

import logging
import mmap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faq import load_knowledge_base
from faq import wordvectors as wv
from faq.matcher import ClassifierMatcher
from faq.normalize import normalize
from faq.wordvectors import WordVectors, WordVectorsError, builtin_word_vectors, join_words

LANGUAGES = ("en", "el", "lv", "hu")


@pytest.fixture(scope="module")
def table() -> WordVectors:
    loaded = builtin_word_vectors()
    assert loaded is not None, "faq/data/word_vectors.npz is missing from the install"
    return loaded


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_table_covers_the_four_languages(table: WordVectors) -> None:
    assert table.size > 50_000
    for word in ("refund", "password", "επιστροφή", "χρήματα", "paka", "parole", "csomag", "jelszó"):
        assert table.row(normalize(word)) >= 0, word


@pytest.mark.parametrize(("written", "typed"), [
    ("Πώς μπορώ να επιστρέψω το δέμα;", "πως μπορω να επιστρεψω το δεμα"),
    ("Hol van a rendelésem?", "hol van a rendelesem"),
    ("Kur ir mana pakā?", "kur ir mana paka"),
])
def test_accents_and_case_change_nothing(table: WordVectors, written: str, typed: str) -> None:
    assert np.allclose(table.embed_one(written), table.embed_one(typed))


def test_greeklish_finds_the_greek_words(table: WordVectors) -> None:
    for greek, latin in (("επιστρέψω", "epistrepso"), ("χρήματα", "xrimata"), ("χρήματα", "chrimata"),
                         ("παραγγελία", "paraggelia")):
        assert table.row(normalize(latin)) == table.row(normalize(greek)), (greek, latin)
    # Spellings that meet in Latin letters may find another form of the word ("ευχαριστο" for "ευχαριστω").
    assert table.row(normalize("eyxaristw")) in {table.row(normalize(w)) for w in ("ευχαριστώ", "ευχαριστο", "ευχαριστό")}


def test_a_word_the_table_lacks_is_guessed_from_its_ngrams(table: WordVectors) -> None:
    made_up = normalize("csomagocskáimat")  # hu: "my little parcels" (object), surely not in the table
    assert table.row(made_up) == -1
    guess = table.word(made_up)
    assert guess is not None
    assert cosine(guess, table.word(normalize("csomag"))) > cosine(guess, table.word(normalize("időjárás")))
    assert table.word("12345") is None and table.word("") is None  # digits carry no meaning to guess


def test_words_alike_in_meaning_are_closer_than_words_apart(table: WordVectors) -> None:
    refund = table.embed_one("I want a refund")
    assert cosine(refund, table.embed_one("give me my money back")) > cosine(refund, table.embed_one("turn on the lights"))
    lights = table.embed_one("kapcsold fel a lámpát")  # hu: switch on the lamp
    assert cosine(lights, table.embed_one("kapcsold le a világítást")) > cosine(lights, table.embed_one("mennyi a számla"))


def test_nothing_known_gives_a_zero_vector(table: WordVectors) -> None:
    assert not table.embed_one("").any()
    assert not table.embed_one("!!! ??? ...").any()
    assert table.embed([]).shape == (0, table.dimension)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_a_unit_or_zero_vector(text: str) -> None:
    vector = builtin_word_vectors().embed_one(text)
    assert vector.dtype == np.float32 and np.isfinite(vector).all()
    norm = float(np.linalg.norm(vector))
    assert norm == 0.0 or abs(norm - 1.0) < 1e-4


BUCKETS = 4096


def _grams(words: dict[str, list[int]]) -> np.ndarray:
    grams = np.zeros((BUCKETS, 2), dtype=np.int8)
    for word, vector in words.items():
        for gram in wv.grams_of(word):
            grams[wv.gram_bucket(gram, BUCKETS)] += np.asarray(vector, dtype=np.int8)
    return grams


def _write(path: Path, **overrides: np.ndarray) -> Path:
    arrays = {
        "format": np.array(wv.FORMAT), "keys": join_words(["alpha", "beta"]),
        "vectors": np.array([[127, 0], [0, 127]], dtype=np.int8), "scales": np.ones(2, dtype=np.float16),
        "weights": np.ones(2, dtype=np.float16), "grams": _grams({"alpha": [100, 0], "beta": [0, 100]}),
        "gram_scales": np.ones(BUCKETS, dtype=np.float16), "gram_idf": np.ones(BUCKETS, dtype=np.float16),
        "gram_weight": np.array(0.5), "aliases": join_words([]), "alias_rows": np.zeros(0, dtype=np.int32),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


def test_a_small_table_round_trips(tmp_path: Path) -> None:
    table = WordVectors.load(_write(tmp_path / "t.npz"))
    assert table.size == 2 and table.dimension == 2
    assert np.allclose(table.embed_one("alpha beta"), [2 ** -0.5, 2 ** -0.5])
    assert table.embed_one("Alphas") @ np.array([1.0, 0.0]) > 0.9  # guessed from the n-grams it shares with "alpha"
    assert table.embed_one("Betas") @ np.array([0.0, 1.0]) > 0.9


def test_the_shipped_tables_are_memory_mapped_not_read(table: WordVectors) -> None:
    # Mapped, a worker holds only the pages of the words its messages use, shared with the other processes.
    def mapped(array: np.ndarray) -> bool:
        while array is not None and not isinstance(array, mmap.mmap):
            array = array.base
        return array is not None

    assert mapped(table._vectors) and mapped(table._grams)
    assert not table._vectors.flags.writeable


def test_a_compressed_table_is_read_as_an_uncompressed_one(tmp_path: Path) -> None:
    plain = WordVectors.load(_write(tmp_path / "plain.npz"))
    arrays = dict(np.load(tmp_path / "plain.npz"))
    np.savez_compressed(tmp_path / "packed.npz", **arrays)
    packed = WordVectors.load(tmp_path / "packed.npz")
    for text in ("alpha", "beta alpha", "Alphas"):
        assert np.array_equal(plain.embed_one(text), packed.embed_one(text))


def test_a_words_own_row_wins_over_an_alias_and_the_first_alias_over_later_ones(tmp_path: Path) -> None:
    table = WordVectors.load(_write(tmp_path / "t.npz", aliases=join_words(["beta", "gamma", "gamma", "δ"]),
                                    alias_rows=np.array([0, 1, 0, 0], dtype=np.int32)))
    assert [table.row(word) for word in ("alpha", "beta", "gamma", "δ", "delta", "", "alph")] == [0, 1, 1, 0, -1, -1, -1]


@pytest.mark.parametrize(("overrides", "says"), [
    ({"format": np.array(99)}, "format 99"),
    ({"scales": np.ones(3, dtype=np.float16)}, "2 words but 2 vectors, 3 scales"),
    ({"alias_rows": np.zeros(1, dtype=np.int32)}, "0 aliases but 1 alias rows"),
    ({"gram_idf": np.ones(3, dtype=np.float16)}, "and 3 weights does not fit"),
    ({"grams": np.zeros(0, dtype=np.int8)}, "tables of 2 and 1 dimensions"),
    ({"keys": np.frombuffer(b"\xff\xfe", dtype=np.uint8)}, "cannot read"),
])
def test_a_broken_table_is_refused_with_its_name(tmp_path: Path, overrides: dict, says: str) -> None:
    path = _write(tmp_path / "broken.npz", **overrides)
    with pytest.raises(WordVectorsError) as error:
        WordVectors.load(path)
    assert says in str(error.value) and str(path) in str(error.value)


def test_a_missing_or_garbled_file_is_named(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.npz", tmp_path / "garbage.npz"):
        if path.name == "garbage.npz":
            path.write_bytes(b"not a zip file at all")
        with pytest.raises(WordVectorsError, match=path.name):
            WordVectors.load(path)


def test_an_install_without_the_table_still_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(wv, "TABLE", tmp_path / "absent.npz")
    monkeypatch.setattr(wv, "_builtin_loaded", False)
    monkeypatch.setattr(wv, "_builtin", None)
    with caplog.at_level(logging.ERROR, logger="faq.wordvectors"):
        assert builtin_word_vectors() is None
    assert "absent.npz" in caplog.text
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb/shop.yaml").write_text(SHOP, encoding="utf-8")
    kb = load_knowledge_base(tmp_path / "kb", LANGUAGES)
    assert kb.match("I forgot my password", answer_at=0.82, suggest_at=0.65).matches[0].entry_id == "password"


# Unlike the shop of test_faq_quality, no refund question here talks of money or getting anything back.
SHOP = """\
entries:
  - id: refund
    questions: [I want a refund, refund my order, how do refunds work, refund please]
    answer: Refunds take five days.
  - id: hours
    questions: [when are you open, what are your opening hours, are you open on sunday, opening times]
    answer: Nine to five.
  - id: password
    questions: [I forgot my password, reset my password, change my password, password reset link]
    answer: Use the link.
"""


def test_the_default_matcher_understands_a_paraphrase_with_no_word_in_common(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP, encoding="utf-8")
    entries = load_knowledge_base(tmp_path, LANGUAGES).entries
    message = "give me my cash back"  # no word in common with the refund questions; "my" with password's
    assert ClassifierMatcher(entries).rank(message, 3)[0][0] == "refund"
    assert ClassifierMatcher(entries, encoder=None).rank(message, 3)[0][0] == "password"
