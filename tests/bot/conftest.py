"""Fixtures shared by the tests of bot/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis server of the test's own (persistent, in tmp_path), for tests that stop or restart it."""
    with PrivateRedis(tmp_path / "redis") as server:
        yield server
