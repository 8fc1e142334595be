"""The BiDi client's pure parts: values to and from the browser, and the profile's user.js."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.bot.dashboard.bidi import from_remote, to_local, user_js

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@given(JSON)
def test_a_value_sent_comes_back_as_it_was(value: Any) -> None:
    # A LocalValue of JSON-like data has the shape of the RemoteValue the browser sends back for it.
    assert from_remote(to_local(value)) == value


def test_the_numbers_json_cannot_carry_are_read() -> None:
    assert math.isnan(from_remote({"type": "number", "value": "NaN"}))
    assert from_remote({"type": "number", "value": "-Infinity"}) == -math.inf
    assert math.copysign(1, from_remote({"type": "number", "value": "-0"})) == -1
    assert from_remote({"type": "undefined"}) is None
    node = {"type": "node", "sharedId": "abc"}
    assert from_remote(node) == node  # kept as it is, not made into something it is not


@given(st.text(max_size=40))
def test_a_pref_value_is_one_javascript_string(text: str) -> None:
    line = user_js({"some.pref": text})
    assert line.startswith('user_pref("some.pref", "') and line.endswith('");\n')
    literal = line[len('user_pref("some.pref", '):-len(');\n')]
    assert "\n" not in literal and json.loads(literal) == text  # one line, the text itself
    assert user_js({"a": True, "b": 5, "c": False}) == 'user_pref("a", true);\nuser_pref("b", 5);\nuser_pref("c", false);\n'
