"""The HTTP side under hostile clients: idle and slow connections let go, a connection cap, body caps per
route, and /healthz detail and /metrics only for the admin (a token or a separate listen address)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import Helpline
from bot.http import ADMIN_RUNNER, start_http_server
from bot.settings import HttpSettings, Settings

HANG_GUARD = 20.0  # only so that a broken server fails the test instead of hanging it


async def echo(request: web.Request) -> web.Response:
    return web.Response(text=f"got {len(await request.read())} bytes")


Serve = Callable[..., Awaitable[tuple[Helpline, web.AppRunner, int]]]


@pytest.fixture
async def serve(settings: Settings, redis: Any) -> AsyncIterator[Serve]:
    running: list[tuple[Helpline, web.AppRunner]] = []

    async def start(**http: Any) -> tuple[Helpline, web.AppRunner, int]:
        helpline = Helpline(settings.model_copy(update={"http": HttpSettings(port=0, **http)}), redis=redis)
        runner = await start_http_server(helpline, "127.0.0.1", 0, [("POST", "/hook", echo)])
        running.append((helpline, runner))
        return helpline, runner, runner.addresses[0][1]

    yield start
    for _, runner in running:
        await runner.cleanup()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), HANG_GUARD)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def test_a_connection_that_sends_nothing_or_dribbles_headers_is_closed(serve: Serve) -> None:
    _, _, port = await serve(idle_timeout_seconds=0.3)
    silent = await asyncio.open_connection("127.0.0.1", port)
    dribbling = await asyncio.open_connection("127.0.0.1", port)
    dribbling[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never the blank line
    assert await closed_by_server(silent[0]) == b""
    assert await closed_by_server(dribbling[0]) == b""
    for _, writer in (silent, dribbling):
        await close(writer)


async def test_a_body_that_does_not_arrive_is_a_408(serve: Serve) -> None:
    _, _, port = await serve(read_timeout_seconds=0.3, idle_timeout_seconds=60)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    answer = await closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 408") and b"not received within" in answer
    await close(writer)


async def test_connections_beyond_the_cap_get_a_503_and_the_rest_keep_working(serve: Serve) -> None:
    _, _, port = await serve(max_connections=3, idle_timeout_seconds=60)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = await closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 503") and b"too many open connections" in answer
    await close(writer)
    for _, held_writer in held:
        await close(held_writer)
    answered = ""
    async with aiohttp.ClientSession() as session:
        for _ in range(200):  # the server notices the closed connections as its handlers finish
            try:
                async with session.post(f"http://127.0.0.1:{port}/hook", data=b"x") as response:
                    answered = await response.text()
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    assert answered == "got 1 bytes"


async def test_bodies_over_the_route_cap_are_a_413_declared_or_chunked(serve: Serve) -> None:
    _, _, port = await serve(max_request_kb=1)
    url = f"http://127.0.0.1:{port}/hook"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 1000

    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=b"x" * 1024) as response:
            assert response.status == 200 and await response.text() == "got 1024 bytes"
        async with session.post(url, data=b"x" * 1025) as response:
            assert response.status == 413 and "at most 1024 bytes on /hook" in await response.text()
        async with session.post(url, data=chunks()) as response:
            assert response.status == 413
        async with session.get(f"http://127.0.0.1:{port}/healthz", data=b"x" * 100_000) as response:
            assert response.status == 413  # no body expected there: not 100 kB of one


async def test_with_an_admin_token_metrics_and_health_detail_need_it(serve: Serve) -> None:
    _, _, port = await serve(admin_token="t0ken-for-admins")
    base = f"http://127.0.0.1:{port}"
    admin = {"Authorization": "Bearer t0ken-for-admins"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/metrics") as response:
            assert response.status == 401
        async with session.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with session.get(f"{base}/metrics", headers=admin) as response:
            assert response.status == 200 and "helpline_up" in await response.text()
        async with session.get(f"{base}/healthz") as response:
            assert set(await response.json()) == {"status"}
        async with session.get(f"{base}/healthz", headers=admin) as response:
            assert "knowledge_base" in await response.json()


async def test_with_an_admin_address_the_public_port_shows_no_detail(serve: Serve) -> None:
    _, runner, port = await serve(admin="127.0.0.1:0")
    admin_port = runner.app[ADMIN_RUNNER].addresses[0][1]
    assert admin_port != port
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 404
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert set(await response.json()) == {"status"}
        async with session.get(f"http://127.0.0.1:{admin_port}/metrics") as response:
            assert response.status == 200 and "helpline_up" in await response.text()
        async with session.get(f"http://127.0.0.1:{admin_port}/healthz") as response:
            assert "knowledge_base" in await response.json()


def test_admin_address_settings() -> None:
    assert HttpSettings(admin="0.0.0.0:9090").admin.port == 9090  # type: ignore[arg-type,union-attr]
    assert HttpSettings(admin={"port": 9090}).admin.host == "127.0.0.1"  # type: ignore[arg-type,union-attr]
    with pytest.raises(ValueError, match="host:port"):
        HttpSettings(admin="9090")  # type: ignore[arg-type]
    assert HttpSettings(admin_token="").admin_token is None  # type: ignore[arg-type]
