"""The fault harness: customers on a loopback Telegram Bot API → `helpline run` in several OS processes
(receiver, router workers, sender each) → a private Redis → back to the peer, while faults are made.

Each customer message asks for one probe answer ("what is the amber amber code" → "The amber code is
0."), so every answer the peer receives names the message it answers: per chat the answers must
arrive once each, in the order asked. Faults: SIGKILL of a process (then started again), a Redis
restart (`appendonly yes`), the peer answering 429 / 500 / hanging / dropping the connection for a
while, a graceful restart of a process (its receiver and all).

Used by tests/faults/ (the quick variant) and bench/faults.py (the figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis as sync_redis
import yaml
from aiohttp import web

from tests.redis_server import PrivateRedis
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, _error, text_update

REPO = Path(__file__).resolve().parents[2]
KB = REPO / "tests" / "faults" / "kb"
PROBES = ["amber", "birch", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo"]
_ANSWER = re.compile(r"^The (\w+) code is (\d)\.$")
CLIENT_READ_TIMEOUT = 20.0  # the Telegram channel's read timeout for a send (channels/telegram/adapter.py)


class FaultyBotApi(FakeBotApi):
    """The fake Bot API whose sendMessage can be made to fail: `mode` is ok, 429, 500, hang or drop."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.hang_seconds = 120.0
        self.answers: list[tuple[int, int, float]] = []  # chat, probe index, when received
        self.kills: list[float] = []  # when a process was killed with SIGKILL
        # Answers accepted although the sender never learnt it: its request had timed out (the client
        # closed the connection, or the peer took longer than the client's read timeout to answer).
        self.unconfirmed: set[int] = set()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info.get("method") != "sendMessage":
            return await super()._api(request)
        if self.mode == "drop":
            if request.transport is not None:
                request.transport.close()  # the connection dies under the request
            return web.Response(status=502)
        began, before = time.monotonic(), len(self.answers)
        response = await super()._api(request)
        gone = request.transport is None or request.transport.is_closing()
        if len(self.answers) > before and (gone or time.monotonic() - began >= CLIENT_READ_TIMEOUT - 1.0):
            self.unconfirmed.update(range(before, len(self.answers)))
        return response

    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        mode = self.mode
        if mode == "429":
            return _error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        if mode == "500":
            return _error(500, "Internal Server Error")
        if mode == "hang":  # no answer until the hang is over (or the client gave up long before)
            deadline = time.monotonic() + self.hang_seconds
            while self.mode == "hang" and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return _error(504, "Gateway Timeout")
        response = await super()._sendMessage(params)
        match = _ANSWER.match(str(params.get("text", "")))
        if match and params.get("ok"):
            self.answers.append((int(params["chat_id"]), int(match.group(2)), time.monotonic()))
        return response


@dataclass
class Fault:
    at: float  # seconds after the first message
    action: str  # kill, restart_redis, peer:<mode>, restart_process
    arg: float = 0.0  # the process index (kill, restart_process) or how long (peer modes, redis down)


@dataclass
class Scenario:
    name: str
    messages: int
    conversations: int
    faults: list[Fault] = field(default_factory=list)
    rate: float = 200.0  # customer messages a second
    processes: int = 2
    claim_timeout: float = 10.0
    settle_seconds: float = 120.0  # how long to wait for the last answers after the last fault


@dataclass
class Figures:
    scenario: str
    sent: int
    received: int
    lost: int
    delivered_twice: int
    out_of_order: int
    worst_delay: float
    p99_delay: float
    elapsed: float
    # Sent twice although the first copy was neither accepted just before a kill -9 (the one window in
    # which the sent mark can be missing) nor accepted after its request had timed out: must be 0.
    twice_unexplained: int = 0
    # Sent twice because the first request timed out at the sender after the peer had accepted it (the
    # other window no idempotency key closes): an overloaded peer or machine, not a lost mark.
    twice_timed_out: int = 0
    # Where the lost messages stopped: 'not received' (still at the peer or confirmed without reaching the
    # inbox), 'in the inbox' (received, not applied yet), 'applied' (the answer queued, not delivered).
    lost_where: dict[str, int] = field(default_factory=dict)
    # getUpdates calls the peer refused because another poller was waiting (a harness error): must be 0.
    poll_conflicts: int = 0
    twice_at: list[tuple[int, int, float]] = field(default_factory=list)  # the unexplained copies

    def row(self) -> str:
        return (f"| {self.scenario} | {self.sent} | {self.received} | {self.lost} | {self.delivered_twice} | "
                f"{self.out_of_order} | {self.worst_delay:.1f} s | {self.p99_delay:.1f} s | {self.twice_timed_out} | "
                f"{self.twice_unexplained} |"
                + (f" lost: {self.lost_where}" if self.lost_where else "")
                + (f" getUpdates conflicts: {self.poll_conflicts}" if self.poll_conflicts else ""))


HEADER = ("| scenario | sent | received | lost | delivered twice | out of order | worst delay | p99 delay "
          "| twice after a timed-out send | twice, at neither |\n|---|---|---|---|---|---|---|---|---|---|")


class Service:
    """`helpline run` processes sharing one Redis: the first receives from Telegram and works, the others
    only work (router workers and senders), as a deployment must run them: Telegram hands updates to one
    getUpdates poller per bot and answers a second one with 409 Conflict."""

    def __init__(self, configs: Sequence[Path], folder: Path, redis: PrivateRedis) -> None:
        self.configs = list(configs)
        count = len(self.configs)
        self.redis = redis
        self.folder = folder
        self.processes: list[asyncio.subprocess.Process | None] = [None] * count
        # A fault on a process waits until it is up again after the previous one.
        self.locks = [asyncio.Lock() for _ in range(count)]
        self.starts = 0

    async def start(self, index: int) -> None:
        self.starts += 1
        log_path = self.folder / f"helpline-{index}-{self.starts}.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(log_path, "wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--config", str(self.configs[index]), cwd=REPO, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        self.processes[index] = process
        await self._wait_ready(process, log_path)

    async def _wait_ready(self, process: asyncio.subprocess.Process, log: Path) -> None:
        """Ready once its workers run: their heartbeats (named by host, pid and task) are in `hl:workers`."""
        client = sync_redis.Redis(unix_socket_path=self.redis.socket, decode_responses=True)
        deadline = time.monotonic() + 90
        try:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"helpline run exited with {process.returncode}: see {log}")
                with contextlib.suppress(sync_redis.RedisError, OSError):
                    if any(f":{process.pid}:" in name for name in client.zrange("hl:workers", 0, -1)):
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"helpline run did not start: see {log}")
                await asyncio.sleep(0.1)
        finally:
            client.close()

    def kill(self, index: int) -> None:
        process = self.processes[index]
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)

    async def stop(self, index: int) -> None:
        process = self.processes[index]
        if process is not None:
            await stop_process(process)
        self.processes[index] = None

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(index) for index in range(len(self.processes))))


def write_configs(folder: Path, redis_url: str, peer_url: str, claim_timeout: float, processes: int) -> list[Path]:
    """One config per process: the first one receives (`channels.telegram.receive`), every one sends."""
    return [write_config(folder, redis_url, peer_url, claim_timeout, receive=index == 0, name=f"helpline-{index}")
            for index in range(processes)]


def write_config(folder: Path, redis_url: str, peer_url: str, claim_timeout: float, receive: bool = True,
                 name: str = "helpline") -> Path:
    config = {
        "redis": {"url": redis_url, "prefix": "hl:"},
        "languages": ["en"],
        "faq": {"path": str(KB), "sentence_encoder": False, "reload_seconds": 60},
        "teams": {"support": {"name": "Support"}},
        "router": {"messages_path": str(REPO / "config" / "messages"), "workers": 2,
                   "claim_timeout_seconds": claim_timeout},
        "channels": {"console": {"enabled": False},
                     "telegram": {"enabled": True, "token": TOKEN, "api_base_url": peer_url, "poll_timeout": 1,
                                  "chat_interval": 0, "group_interval": 0, "global_rate": 2000,
                                  "stop_grace_seconds": 2, "receive": receive}},
        "http": {"enabled": False},
        "logging": {"level": "WARNING"},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def run_scenario(scenario: Scenario, folder: Path, progress: Callable[[str], None] = lambda _: None) -> Figures:
    """Drive `scenario` from start to end and measure it."""
    folder.mkdir(parents=True, exist_ok=True)
    peer = await FaultyBotApi().start()
    redis = PrivateRedis(folder / "redis")
    redis.start()
    service = Service(write_configs(folder, redis.url, peer.url, scenario.claim_timeout, scenario.processes), folder,
                      redis)
    asked: dict[tuple[int, int], float] = {}
    platform_ids: dict[tuple[int, int], str] = {}
    where: dict[str, int] = {}
    try:
        await asyncio.gather(*(service.start(index) for index in range(scenario.processes)))
        progress(f"{scenario.name}: {scenario.processes} processes up")
        started = time.monotonic()
        faults = asyncio.create_task(_make_faults(scenario, service, redis, peer, started, progress))
        await _ask(scenario, peer, asked, platform_ids)
        await faults
        progress(f"{scenario.name}: all asked and faults made; waiting for the last answers")
        deadline = time.monotonic() + scenario.settle_seconds
        while len({(chat, probe) for chat, probe, _ in peer.answers}) < len(asked) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # late duplicates, if any, arrive too
        elapsed = time.monotonic() - started
        answered = {(chat, probe) for chat, probe, _ in peer.answers}
        where = await asyncio.to_thread(locate_lost, redis, peer, [platform_ids[key] for key in asked
                                                                    if key not in answered])
    finally:
        await service.stop_all()
        redis.stop()
        await peer.close()
    figures = measure(scenario.name, asked, peer.answers, elapsed, peer.kills, peer.unconfirmed)
    figures.lost_where = where
    figures.poll_conflicts = peer.conflicts
    for chat, probe, at in figures.twice_at:
        progress(f"{scenario.name}: ({chat}, {probe}) twice, the copy at t={at - started:.2f}s; "
                 f"kills at {[round(kill - started, 2) for kill in peer.kills]}")
    return figures


async def _ask(scenario: Scenario, peer: FaultyBotApi, asked: dict[tuple[int, int], float],
               platform_ids: dict[tuple[int, int], str]) -> None:
    per_chat = -(-scenario.messages // scenario.conversations)
    if per_chat > len(PROBES):
        raise ValueError(f"{scenario.name}: at most {len(PROBES)} messages per conversation")
    update_id = 1
    interval = 1.0 / scenario.rate
    next_at = time.monotonic()
    for probe in range(per_chat):
        for conversation in range(scenario.conversations):
            if len(asked) >= scenario.messages:
                return
            chat = 10_000 + conversation
            word = PROBES[probe]
            asked[(chat, probe)] = time.monotonic()
            platform_ids[(chat, probe)] = f"{chat}:{update_id}"
            await peer.push(text_update(update_id, f"what is the {word} {word} code", chat_id=chat,
                                        message_id=update_id, user_id=chat))
            update_id += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _make_faults(scenario: Scenario, service: Service, redis: PrivateRedis, peer: FaultyBotApi,
                       started: float, progress: Callable[[str], None]) -> None:
    """Each fault at its time, side by side (a process that is starting again does not delay the next)."""

    async def make(fault: Fault) -> None:
        await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
        progress(f"{scenario.name}: t={time.monotonic() - started:.0f}s {fault.action} {fault.arg:g}")
        if fault.action == "kill":
            async with service.locks[int(fault.arg)]:
                peer.kills.append(time.monotonic())
                service.kill(int(fault.arg))
                await asyncio.sleep(1.0)
                await service.start(int(fault.arg))
        elif fault.action == "restart_process":
            async with service.locks[int(fault.arg)]:
                await service.stop(int(fault.arg))
                await service.start(int(fault.arg))
        elif fault.action == "restart_redis":
            await asyncio.to_thread(redis.restart, fault.arg)
        elif fault.action.startswith("peer:"):
            peer.mode = fault.action.partition(":")[2]
            await _after(fault.arg, lambda: _set_mode(peer, "ok"))
        else:
            raise ValueError(f"unknown fault {fault.action!r}")

    await asyncio.gather(*(make(fault) for fault in scenario.faults))


async def _after(seconds: float, then: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(seconds)
    await then()


async def _set_mode(peer: FaultyBotApi, mode: str) -> None:
    peer.mode = mode


def locate_lost(redis: PrivateRedis, peer: FaultyBotApi, platform_ids: Sequence[str]) -> dict[str, int]:
    """Where each lost message stopped, by what Redis and the peer still hold (a lost message is a bug:
    this says which hop to look at)."""
    if not platform_ids:
        return {}
    at_peer = {f"{update['message']['chat']['id']}:{update['update_id']}" for update in peer.updates}
    client = sync_redis.Redis(unix_socket_path=redis.socket, decode_responses=True)
    where: dict[str, int] = {}
    try:
        in_inbox = {_field(fields, 'platform_id') for _id, fields in client.xrange("hl:inbox")}
        for platform_id in platform_ids:
            if platform_id in at_peer:
                stage = "still at the peer"
            elif client.exists(f"hl:seen:telegram:{platform_id}"):
                stage = "applied, answer not delivered"
            elif platform_id in in_inbox:
                stage = "received, not applied"
            else:
                stage = "confirmed to the peer, never applied"
            where[stage] = where.get(stage, 0) + 1
    finally:
        client.close()
    return where


def _field(fields: dict[str, str], name: str) -> str:
    import json

    try:
        return str(json.loads(fields.get("data", "{}")).get(name, ""))
    except ValueError:
        return ""


KILL_WINDOW_SECONDS = 1.0  # a send accepted this shortly before a SIGKILL may lack its sent mark


def measure(name: str, asked: dict[tuple[int, int], float], answers: list[tuple[int, int, float]],
            elapsed: float, kills: Sequence[float] = (), unconfirmed: set[int] | frozenset[int] = frozenset()) -> Figures:
    first: dict[tuple[int, int], float] = {}
    first_index: dict[tuple[int, int], int] = {}
    twice = unexplained = timed_out = out_of_order = 0
    twice_at: list[tuple[int, int, float]] = []
    highest: dict[int, int] = {}
    for index, (chat, probe, at) in enumerate(answers):
        if (chat, probe) in first:
            twice += 1
            accepted = first[(chat, probe)]
            if first_index[(chat, probe)] in unconfirmed:
                timed_out += 1
            elif not any(0 <= kill - accepted <= KILL_WINDOW_SECONDS for kill in kills):
                unexplained += 1
                twice_at.append((chat, probe, at))
            continue
        first[(chat, probe)] = at
        first_index[(chat, probe)] = index
        if probe < highest.get(chat, -1):
            out_of_order += 1
        highest[chat] = max(highest.get(chat, -1), probe)
    delays = sorted(first[key] - asked[key] for key in first if key in asked)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else 0.0
    return Figures(name, sent=len(asked), received=len(answers), lost=len(set(asked) - set(first)),
                   delivered_twice=twice, out_of_order=out_of_order, worst_delay=delays[-1] if delays else 0.0,
                   p99_delay=p99, elapsed=elapsed, twice_unexplained=unexplained, twice_at=twice_at,
                   twice_timed_out=timed_out)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, and SIGKILL if it has not stopped within a minute."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
