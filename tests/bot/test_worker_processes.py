"""`helpline run --workers 2`: the router workers in two child processes, both consuming the inbox; a child
that dies is started again; SIGTERM to the parent stops every child. On a private Redis."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import redis as sync_redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.processes import backoff_after
from tests.bot.test_cli_flow import helpline, write_config
from tests.conftest import REPO
from tests.redis_server import PrivateRedis

pytestmark = pytest.mark.timeout(180)
PREFIX = "hl:"


def worker_pids(client: sync_redis.Redis) -> set[int]:
    """The pids named by the router workers' heartbeats (host:pid:tag)."""
    return {int(name.split(":")[-2]) for name in client.zrange(f"{PREFIX}workers", 0, -1)}


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
    config = write_config(tmp_path, PREFIX)
    settings = yaml.safe_load(config.read_text())
    settings["redis"]["url"] = private_redis.url
    settings["router"]["workers"] = 1
    config.write_text(yaml.safe_dump(settings))
    log = tmp_path / "run.log"
    client = sync_redis.Redis(unix_socket_path=private_redis.socket, decode_responses=True)
    with open(log, "wb") as output:
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--workers", "2", "--config", str(config), cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        await wait_until(lambda: len(worker_pids(client)) == 2, what="two worker processes")
        children = worker_pids(client)
        assert service.pid not in children  # the parent runs no router workers of its own

        for question in ("How long does delivery take?", "How do I return an item?", "operator"):
            code, out, err = await helpline(config, "chat", stdin=f"{question}\n".encode())
            assert code == 0, err
        assert "2 to 4 working days" in out or "#" in out, out
        consumers = client.xinfo_consumers(f"{PREFIX}inbox", "router")
        assert {int(consumer["name"].split(":")[-2]) for consumer in consumers} == children

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


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_the_parents_metrics_count_what_the_worker_processes_did(tmp_path: Path,
                                                                       private_redis: PrivateRedis) -> None:
    config = write_config(tmp_path, PREFIX)
    settings = yaml.safe_load(config.read_text())
    settings["redis"]["url"] = private_redis.url
    settings["router"]["workers"] = 1
    config.write_text(yaml.safe_dump(settings))
    log = tmp_path / "run.log"
    client = sync_redis.Redis(unix_socket_path=private_redis.socket, decode_responses=True)
    with open(log, "wb") as output:
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--workers", "2", "--config", str(config), cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output)
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
