"""Rounds pack commands with hiredis where it writes what redis-py's encoder would, in Python elsewhere:
whatever the arguments, `pack` gives the same bytes (or the same error) as the Python packer."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

import router.rounds
from router.rounds import pack, pack_in_python

ENCODE = Connection().encoder.encode


class Level(enum.IntEnum):
    HIGH = 1


class Label(enum.StrEnum):
    FAQ = "faq"


class Loud(float):
    def __repr__(self) -> str:
        return "loud"


class Text(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        return b"text"


PLAIN = st.one_of(st.text(), st.binary(), st.integers(), st.integers(min_value=-2**80, max_value=2**80),
                  st.floats())  # nan and the infinities too
ODD = st.one_of(
    st.booleans(), st.none(), st.binary().map(memoryview), st.binary(min_size=2).map(lambda b: memoryview(b)[::2]),
    st.binary().map(bytearray), st.just(Level.HIGH), st.just(Label.FAQ), st.floats().map(Loud),
    st.text().map(Text), st.text(alphabet=st.characters(categories=["Cs"]), min_size=1),  # lone surrogates
)


def _outcome(packer: Any, command: Any) -> bytes | type[BaseException]:
    try:
        return bytes(packer(ENCODE, command))
    except Exception as error:  # the same kind of refusal counts as the same outcome
        return type(error)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(PLAIN, ODD), min_size=1, max_size=30), st.booleans())
def test_pack_writes_what_the_python_packer_writes(arguments: list[object], as_tuple: bool) -> None:
    command = ("SET", *arguments) if as_tuple else ["SET", *arguments]
    assert _outcome(pack, command) == _outcome(pack_in_python, command)


@settings(max_examples=200, deadline=None)
@given(st.lists(PLAIN, min_size=1, max_size=30))
def test_plain_commands_are_packed_by_hiredis(arguments: list[object]) -> None:
    if router.rounds._pack_in_c is None:
        pytest.skip("hiredis is not installed")
    command = ("SET", *arguments)
    real = router.rounds.pack_in_python

    def refuse(*_: object) -> bytes:
        raise AssertionError("packed in Python")

    router.rounds.pack_in_python = refuse  # type: ignore[assignment]
    try:
        assert pack(ENCODE, command) == real(ENCODE, command)
    finally:
        router.rounds.pack_in_python = real


def test_without_hiredis_the_python_packer_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router.rounds, "_pack_in_c", None)
    command = ("EVALSHA", "f" * 40, 1, "hl:key", 2.5, b"\x00\xff", "κείμενο")
    assert pack(ENCODE, command) == b"".join(Connection().pack_command(*command))
