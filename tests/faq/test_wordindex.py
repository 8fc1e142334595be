"""faq/wordindex: the compact word tables answer as the dicts they replace did."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faq.wordindex import WordIndex, WordMap


def test_rows_by_word_the_first_of_equal_words_wins() -> None:
    index = WordIndex(["alpha", "beta", "alpha", "", "δέλτα"], [0, 1, 2, 3, 4])
    assert [index.get(word) for word in ("alpha", "beta", "", "δέλτα", "delta", "alph")] == [0, 1, 3, 4, -1, -1]
    assert sorted(index.words()) == ["", "alpha", "beta", "δέλτα"]


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=40))
def test_a_word_map_is_the_dict_of_its_pairs_first_pair_kept(pairs: list[tuple[str, str]]) -> None:
    expected: dict[str, str] = {}
    for word, value in pairs:
        expected.setdefault(word, value)
    table = WordMap(pairs)
    assert table == expected and len(table) == len(expected) and bool(table) == bool(expected)
    for word, value in expected.items():
        assert table.get(word) == value and table[word] == value and word in table
    if "\x00absent\x00" not in expected:
        assert table.get("\x00absent\x00") is None and "\x00absent\x00" not in table


def test_an_empty_map_is_false_and_equal_to_an_empty_dict() -> None:
    assert WordMap(()) == {} and not WordMap(()) and len(WordMap(())) == 0
    with pytest.raises(KeyError):
        WordMap(())["x"]


def test_truth_is_asked_per_word_without_reading_the_whole_table(monkeypatch: pytest.MonkeyPatch) -> None:
    # `if usual` runs for every word of a message (faq/respell.py): it must not count 40,000 words each time.
    table = WordMap([("kosarban", "kosárban")])
    monkeypatch.setattr(WordIndex, "words", lambda self: pytest.fail("bool() read every word"))
    assert table and table.get("kosarban") == "kosárban"
