"""`helpline run --workers 2`: the router workers and the Telegram senders in two child processes, both
consuming the inbox and the outbox; a child that dies is started again (a reply it held is sent once, by
the other); SIGTERM to the parent stops every child. On a private Redis and a loopback Bot API."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.processes import backoff_after
from tests.bot.test_cli_flow import helpline, write_config
from tests.conftest import REPO
from tests.faults.harness import PROBES, FaultyBotApi, measure
from tests.faults.harness import write_config as write_fault_config
from tests.redis_server import PrivateRedis
from tests.telegram.fake_bot_api import text_update

pytestmark = pytest.mark.timeout(180)
PREFIX = "hl:"


def worker_pids(client: sync_redis.Redis) -> set[int]:
    """The pids named by the router workers' heartbeats (host:pid:tag)."""
    return {int(name.split(":")[-2]) for name in client.zrange(f"{PREFIX}workers", 0, -1)}


def one_worker_config(tmp_path: Path, private_redis: PrivateRedis) -> tuple[Path, Path, sync_redis.Redis]:
    """The CLI flow's settings on the private Redis with one router worker a process; the log's path, and
    a client of that Redis."""
    config = write_config(tmp_path, PREFIX)
    settings = yaml.safe_load(config.read_text())
    settings["redis"]["url"] = private_redis.url
    settings["router"]["workers"] = 1
    config.write_text(yaml.safe_dump(settings))
    return config, tmp_path / "run.log", sync_redis.Redis(unix_socket_path=private_redis.socket, decode_responses=True)


async def run_with_two_workers(config: Path, log: Path) -> asyncio.subprocess.Process:
    """`helpline run --workers 2`, its output in `log`."""
    with open(log, "wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--workers", "2", "--config", str(config), cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output)


async def wait_until(condition, seconds: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_two_worker_processes_answer_consume_restart_and_stop(tmp_path: Path,
                                                                    private_redis: PrivateRedis) -> None:
    config, log, client = one_worker_config(tmp_path, private_redis)
    service = await run_with_two_workers(config, log)
    try:
        await wait_until(lambda: len(worker_pids(client)) == 2, what="two worker processes")
        children = worker_pids(client)
        assert service.pid not in children  # the parent runs no router workers of its own

        for question in ("How long does delivery take?", "How do I return an item?", "operator"):
            code, out, err = await helpline(config, "chat", stdin=f"{question}\n".encode())
            assert code == 0, err
        assert "2 to 4 working days" in out or "#" in out, out

        def inbox_readers() -> set[int]:
            return {int(consumer["name"].split(":")[-2]) for consumer in client.xinfo_consumers(f"{PREFIX}inbox", "router")}

        # Both read the inbox. Redis lists a consumer in its group only once a read handed it an entry, and
        # one child may have taken the three above: more questions until each has had one (Redis hands a
        # new entry to the client that has waited longest, so the next one or two do it).
        for _ in range(20):
            if inbox_readers() == children:
                break
            code, out, err = await helpline(config, "chat", stdin=b"How long does delivery take?\n")
            assert "2 to 4 working days" in out, (out, err)
        assert inbox_readers() == children

        # A child that dies is logged and started again.
        victim = min(children)
        os.kill(victim, signal.SIGKILL)
        await wait_until(lambda: len(worker_pids(client) - {victim}) == 2 and not alive(victim), seconds=90,
                         what="the killed worker process to be replaced")
        replaced = worker_pids(client) - {victim}
        assert f"(pid {victim}) exited with -9" in log.read_text()
        code, out, err = await helpline(config, "chat", stdin=b"How long does delivery take?\n")
        assert "2 to 4 working days" in out, (out, err)
    finally:
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(service.wait(), timeout=60)
    assert code == 0, log.read_text()
    assert not any(alive(pid) for pid in replaced)
    assert worker_pids(client) <= {victim}  # every worker said goodbye, but the one killed with -9
    client.close()


async def test_worker_processes_stop_when_their_parent_is_killed(tmp_path: Path, private_redis: PrivateRedis) -> None:
    config = write_config(tmp_path, PREFIX)
    settings = yaml.safe_load(config.read_text())
    settings["redis"]["url"] = private_redis.url
    settings["router"]["workers"] = 1
    config.write_text(yaml.safe_dump(settings))
    client = sync_redis.Redis(unix_socket_path=private_redis.socket, decode_responses=True)
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--workers", "1", "--config", str(config), cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_until(lambda: len(worker_pids(client)) == 1, what="the worker process")
        (child,) = worker_pids(client)
        service.kill()  # no chance to stop its children
        await service.wait()
        await wait_until(lambda: not alive(child), seconds=30, what="the orphaned worker process to stop")
        assert worker_pids(client) == set()  # it stopped gracefully: its heartbeat is gone
    finally:
        if service.returncode is None:
            service.kill()
            await service.wait()
        client.close()


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_after(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_after(50) == 60.0


class SlowBotApi(FaultyBotApi):
    """The loopback Bot API taking a while over each sendMessage, so a killed sender dies with sends in hand."""

    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        await asyncio.sleep(0.2)
        return await super()._sendMessage(params)


async def _ask(peer: FaultyBotApi, chats: range, probes: range, first_update: int, rate: float,
               asked: dict[tuple[int, int], float]) -> int:
    """Each chat asks its probes in turn (the answer names the probe: order and copies can be told)."""
    update_id = first_update
    for probe in probes:
        for chat in chats:
            word = PROBES[probe]
            asked[(chat, probe)] = time.monotonic()
            await peer.push(text_update(update_id, f"what is the {word} {word} code", chat_id=chat,
                                        message_id=update_id, user_id=chat))
            update_id += 1
            await asyncio.sleep(1.0 / rate)
    return update_id


def _answered(peer: FaultyBotApi, asked: dict[tuple[int, int], float]) -> bool:
    return set(asked) <= {(chat, probe) for chat, probe, _ in peer.answers}


async def test_worker_processes_send_every_reply_once_in_order_even_when_one_is_killed_mid_send(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    peer = await SlowBotApi().start()
    config = write_fault_config(tmp_path, private_redis.url, peer.url, claim_timeout=3.0)
    client = sync_redis.Redis(unix_socket_path=private_redis.socket, decode_responses=True)
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--workers", "2", "--config", str(config), cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        await wait_until(lambda: len(worker_pids(client)) == 2, seconds=120, what="two worker processes")
        children = worker_pids(client)

        # No fault: every reply exactly once, in order per chat, sent by the children and never the parent.
        asked: dict[tuple[int, int], float] = {}
        next_update = await _ask(peer, range(20_000, 20_020), range(3), 1, 60.0, asked)
        await wait_until(lambda: _answered(peer, asked), seconds=60, what="every answer")
        await asyncio.sleep(1.0)  # a late copy, if any, arrives too
        figures = measure("no fault", asked, peer.answers, 0.0)
        assert (figures.lost, figures.delivered_twice, figures.out_of_order) == (0, 0, 0), figures
        senders = {int(consumer["name"].split(":")[-2])
                   for consumer in client.xinfo_consumers(f"{PREFIX}outbox:telegram", "sender")}
        assert senders == children, "both children send; the parent sends no Telegram reply"

        # A child killed with sends in hand: its entries are reclaimed by the other; nothing lost, nothing
        # sent twice but what the platform accepted in the instant before the kill, order kept.
        victim = min(children)
        asking = asyncio.create_task(_ask(peer, range(30_000, 30_030), range(4), next_update, 60.0, asked))

        def victim_holds_sends() -> bool:
            pending = client.xpending_range(f"{PREFIX}outbox:telegram", "sender", "-", "+", 100)
            return any(int(entry["consumer"].split(":")[-2]) == victim for entry in pending)

        await wait_until(victim_holds_sends, seconds=30, what="the victim to hold sends")
        peer.kills.append(time.monotonic())
        os.kill(victim, signal.SIGKILL)
        await asking
        await wait_until(lambda: _answered(peer, asked), seconds=90, what="every answer after the kill")
        await asyncio.sleep(1.0)
        figures = measure("kill -9 of a child", asked, peer.answers, 0.0, peer.kills, peer.unconfirmed)
        assert figures.lost == 0, figures
        assert figures.twice_unexplained == 0, figures
        assert figures.out_of_order == 0, figures
        assert f"(pid {victim}) exited with -9" in log.read_text()
    finally:
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(service.wait(), timeout=60)
        client.close()
        await peer.close()
    assert code == 0, log.read_text()


async def test_a_sending_worker_sends_without_a_knowledge_base_and_without_receiving(
        tmp_path: Path, prefix: str, redis) -> None:
    from bot.app import serve_workers
    from router.lanes import append
    from router.messages import OutboundMessage, to_json
    from tests.conftest import make_settings
    from tests.telegram.conftest import telegram_settings
    from tests.telegram.fake_bot_api import FakeBotApi

    fake = await FakeBotApi().start()
    settings = make_settings(prefix, kb=tmp_path / "no-faq-here")  # `--role send` must not need it
    settings = settings.model_copy(update={"channels": settings.channels.model_copy(update={
        "telegram": telegram_settings(fake)})})
    await fake.push(text_update(1, "nobody polls me"))
    outbox = f"{prefix}outbox:telegram"
    for index in range(3):
        message = OutboundMessage(id=f"out{index}", channel="telegram", address="5551", text=f"reply {index}",
                                  conversation="c1")
        await append(redis, outbox, "c1", {"data": to_json(message)})
    ready = asyncio.Event()
    task = asyncio.create_task(serve_workers(settings, ready, role="send", sending_processes=2))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        await fake.wait_for(lambda: len(fake.sent()) == 3)
        assert [params["text"] for params in fake.sent()] == ["reply 0", "reply 1", "reply 2"]
        assert not fake.calls_of("getUpdates"), "a sending worker never polls"
        assert await redis.zcard(f"{prefix}workers") == 0, "and runs no router worker"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await fake.close()


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_the_parents_metrics_count_what_the_worker_processes_did(tmp_path: Path,
                                                                       private_redis: PrivateRedis) -> None:
    config, log, client = one_worker_config(tmp_path, private_redis)
    service = await run_with_two_workers(config, log)
    try:
        await wait_until(lambda: len(worker_pids(client)) == 2, what="two worker processes")
        found = re.search(r"HTTP on http://127\.0\.0\.1:(\d+)", log.read_text())
        assert found, log.read_text()
        questions = ["How long does delivery take?", "How do I return an item?", "operator", "How long does delivery take?"]
        for question in questions:
            code, out, err = await helpline(config, "chat", stdin=f"{question}\n".encode())
            assert code == 0, err
        assert client.hget(f"{PREFIX}metrics", "helpline_messages_total|channel=console|direction=in") == "4"

        async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{found.group(1)}/metrics") as response:
                    assert response.status == 200
                    return metric_samples(await response.text())

        # The children flush their own counts every heartbeat: wait for them, then the totals are exact.
        processed = ("helpline_entries_processed_total", (("stream", "inbox"),))
        deadline = time.monotonic() + 30
        while (samples := await scrape()).get(processed, 0) < 4:
            assert time.monotonic() < deadline, samples.get(processed)
            await asyncio.sleep(0.5)
        assert samples[processed] == 4  # each customer message handled once, whichever child took it
        assert samples[("helpline_messages_total", (("channel", "console"), ("direction", "in")))] == 4
        decisions = {key: value for key, value in samples.items() if key[0] == "helpline_faq_decisions_total"}
        assert sum(decisions.values()) == 3  # "operator" asks for an agent: no FAQ decision
        assert samples[("helpline_workers", ())] == 2  # the router workers of both children, from heartbeats
        assert samples[("helpline_case_events_total", (("event", "case_opened"),))] == 1
    finally:
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(service.wait(), timeout=60)
    assert code == 0, log.read_text()
    client.close()
