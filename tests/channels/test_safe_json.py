"""Network JSON: whatever the bytes, a value or BadJson (a ValueError), never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.safe_json import MAX_DEPTH, BadJson, loads_bounded, nesting_depth

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
                    max_leaves=30)


@given(JSON)
def test_json_within_the_depth_round_trips(value: object) -> None:
    assert loads_bounded(json.dumps(value).encode()) == value


@given(st.binary(max_size=300))
def test_any_bytes_give_a_value_or_bad_json(body: bytes) -> None:
    try:
        loads_bounded(body)
    except BadJson:
        pass


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json.loads
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),  # parses, but too deep for code walking it
    b"\xff\xfe{}", b"", b"{not json", b'"\\ud800"x', b"NaN]",
])
def test_ugly_bodies_are_bad_json(body: bytes) -> None:
    with pytest.raises(BadJson):
        loads_bounded(body)


def test_depth_counts_containers_only() -> None:
    assert nesting_depth({"a": [1, {"b": "[[[[["}]}) == 3
    assert nesting_depth("[[[") == 0
    assert loads_bounded("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
