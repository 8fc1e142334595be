"""Reaching Redis at start: a host that never answers fails fast (connect timeout), and a worker started
while Redis is down waits for it instead of dying."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.app import connect_redis
from bot.settings import Settings
from router.lanes import append
from router.worker import StreamWorker
from tests.conftest import REDIS_URL, make_settings
from tests.redis_server import PrivateRedis


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose SYNs go unanswered: a listener with a full accept queue (backlog 0, one connection
    already waiting, never accepted), as a firewalled or hung host looks to a client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):  # Linux completes backlog + 1 handshakes; the rest wait for a SYN-ACK that never comes
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def _settings_for(url: str, prefix: str, **redis: object) -> Settings:
    base = make_settings(prefix).model_dump(mode="json")
    base["redis"] = {"url": url, "prefix": prefix, **redis}
    return Settings.model_validate(base)


async def test_a_redis_that_never_answers_fails_within_the_connect_timeout(silent_port: int, prefix: str) -> None:
    settings = _settings_for(f"redis://127.0.0.1:{silent_port}/0", prefix, connect_timeout_seconds=0.5)
    client = connect_redis(settings)
    began = time.monotonic()
    try:
        # Without a connect timeout the ping hangs for the system's TCP timeout (minutes): the outer
        # wait_for then ends the test as failed, not as a hang.
        with pytest.raises((RedisTimeoutError, RedisConnectionError)):
            await asyncio.wait_for(client.ping(), 10)
    finally:
        await client.aclose()
    assert time.monotonic() - began < 5


def test_the_connect_timeout_has_a_default_and_is_checked(prefix: str) -> None:
    assert _settings_for("redis://127.0.0.1:6379/0", prefix).redis.connect_timeout_seconds == 5.0
    with pytest.raises(ValueError, match="connect_timeout_seconds"):
        _settings_for("redis://127.0.0.1:6379/0", prefix, connect_timeout_seconds=0)


async def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis")  # not started yet: nothing listens on its socket
    # No retries inside redis-py: each command fails at once while Redis is down, the worker's own loop retries.
    client = Redis(unix_socket_path=server.socket, decode_responses=True, retry=Retry(NoBackoff(), 0))
    handled: list[str] = []

    async def handler(entry_id: str, fields: object) -> None:
        handled.append(entry_id)

    worker = StreamWorker(client, "s", "g", "w", handler, dead_letters="dead", block_ms=100)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait([task], timeout=1.0)
        assert not task.done(), task.exception() if task.done() else None  # it did not die at the start
        with server:
            entry = await append(client, "s", "chat", {"data": "x"})
            deadline = time.monotonic() + 20
            while entry not in handled and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert entry in handled
            stop.set()
            await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        if not task.done():
            task.cancel()
        await client.aclose()


async def test_connections_name_redis_py_and_its_version_without_looking_it_up_each(
        prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = connect_redis(_settings_for(REDIS_URL, prefix))
    lookups = []
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: lookups.append(name) or real_version(name))
    sent: list[tuple[object, ...]] = []
    real_send = Connection.send_command

    async def send_command(self: Connection, *args: object, **kwargs: object) -> None:
        if args[:2] == ("CLIENT", "SETINFO"):
            sent.append(args[2:])
        await real_send(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_command", send_command)
    try:
        # Ten commands at once: the pool grows by ten connections, as in a burst.
        ids = await asyncio.wait_for(asyncio.gather(*(client.execute_command("CLIENT", "ID") for _ in range(10))), 30)
    finally:
        await client.aclose()
    assert len(set(ids)) == 10
    assert lookups == []
    # What each tells the server (CLIENT SETINFO, a Redis >= 7.2 keeps it) is what redis-py says by itself.
    assert sorted(sent) == sorted([("LIB-NAME", "redis-py"), ("LIB-VER", redis.__version__)] * 10)
    # The version is taken from redis.__version__ without the metadata lookup redis-py makes: the same string.
    assert redis.__version__ == real_version("redis")
