"""The raw SET and XADD commands are the ones redis-py's command methods record, whatever the arguments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from router.commands import set_command, xadd_command

TEXT = st.text(max_size=20)
VALUE = st.one_of(TEXT, st.binary(max_size=20), st.integers(), st.floats(allow_nan=False))


def _recorded(build: object) -> tuple[object, ...]:
    pipe = Redis().pipeline(transaction=False)
    build(pipe)  # type: ignore[operator]
    [(args, options)] = pipe.command_stack
    assert options == {}
    return tuple(args)


@settings(max_examples=200, deadline=None)
@given(TEXT, VALUE, st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)))
def test_set_is_what_redis_py_sends(key: str, value: object, ex: int | None) -> None:
    assert set_command(key, value, ex) == _recorded(lambda pipe: pipe.set(key, value, ex=ex))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(TEXT, st.dictionaries(TEXT, VALUE, min_size=1, max_size=8),
       st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)))
def test_xadd_is_what_redis_py_sends(key: str, fields: dict[str, object], maxlen: int | None) -> None:
    expected = _recorded(lambda pipe: pipe.xadd(key, fields, maxlen=maxlen, approximate=True))  # type: ignore[arg-type]
    assert xadd_command(key, fields, maxlen) == expected  # type: ignore[arg-type]


def test_an_xadd_without_fields_is_refused() -> None:
    with pytest.raises(ValueError):
        xadd_command("stream", {})
