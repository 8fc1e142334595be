"""The whole loop driven through the `helpline` command, as a customer and an agent would."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.conftest import FIXTURE_KB, REDIS_URL, REPO

READ_TIMEOUT = 30


def write_config(tmp_path: Path, prefix: str, kb: Path = FIXTURE_KB, feedback: dict | None = None) -> Path:
    config = {
        "redis": {"url": REDIS_URL, "prefix": prefix},
        "languages": ["en", "el", "lv", "hu"],
        "faq": {"path": str(kb), "reload_seconds": 0.2},
        "teams": {"support": {"name": "Customer Support"}, "billing": {"name": "Billing"}},
        "router": {"default_team": "support", "messages_path": str(REPO / "config" / "messages"), "workers": 2},
        "http": {"host": "127.0.0.1", "port": 0},
        "feedback": feedback or {},
    }
    path = tmp_path / "helpline.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def helpline(config: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, "--config", str(config), cwd=REPO,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


class ChatProcess:
    """`helpline chat` with a pipe for standard input, read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, config: Path, *args: str) -> ChatProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "chat", "--config", str(config), *args, cwd=REPO,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(process)

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def read_until(self, pattern: str) -> str:
        """Read lines until one matches; returns that line."""
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), timeout=READ_TIMEOUT)
            if not raw:
                err = await self.process.stderr.read() if self.process.stderr else b""
                raise AssertionError(f"chat ended before {pattern!r}; output {self.lines}; errors {err.decode()}")
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    async def close(self) -> tuple[int, str]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        out, err = await asyncio.wait_for(self.process.communicate(), timeout=READ_TIMEOUT)
        self.lines += out.decode().splitlines()
        return self.process.returncode or 0, err.decode()


async def test_chat_case_claim_reply_note_resolve_rating(tmp_path: Path, prefix: str, redis) -> None:
    config = write_config(tmp_path, prefix, feedback={"nps": True})
    chat = await ChatProcess.start(config, "--name", "Eleni")
    await chat.read_until("assistant")  # the greeting

    await chat.send("How long does delivery take?")
    await chat.read_until("2 to 4 working days")
    await chat.read_until(r"2\) No")
    await chat.send("2")  # "No": it did not help
    opened = await chat.read_until(r"#\d+")
    number = re.search(r"#(\d+)", opened).group(1)

    code, out, err = await helpline(config, "queue", "--json")
    assert code == 0, err
    waiting = json.loads(out)["teams"]["support"]
    assert [item["case"] for item in waiting] == [int(number)] and waiting[0]["customer"] == "Eleni"

    code, out, err = await helpline(config, "case", "claim", number, "--agent", "Maria")
    assert code == 0 and "yours" in out, err
    await chat.read_until("Maria has joined")
    code, out, err = await helpline(config, "case", "claim", number, "--agent", "Janis")
    assert code == 1 and "Maria" in err

    code, out, err = await helpline(config, "case", "reply", number, "Your parcel left our warehouse today.",
                                    "--agent", "Maria")
    assert code == 0, err
    await chat.read_until("Maria: Your parcel left our warehouse today.")
    code, out, err = await helpline(config, "case", "note", number, "INTERNAL: courier delay in Riga",
                                    "--agent", "Maria")
    assert code == 0, err

    code, out, err = await helpline(config, "case", "resolve", number, "--agent", "Maria")
    assert code == 0, err
    await chat.read_until("resolved")
    await chat.read_until("1 · 2 · 3 · 4 · 5")  # a scale: typed as it is
    await chat.send("5")
    await chat.read_until("Thank you")
    await chat.read_until("0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10 · Skip")
    await chat.send("7")  # the score 7, not the seventh option
    await chat.read_until("Thank you for your feedback")
    code, err = await chat.close()
    assert code == 0, err
    assert not any("INTERNAL" in line for line in chat.lines), "a private note reached the customer"

    code, out, err = await helpline(config, "case", "show", number, "--json")
    assert code == 0, err
    details = json.loads(out)
    assert details["status"] == "closed" and details["csat"] == 5 and details["team"] == "support"
    assert [fields["nps"] for _, fields in await redis.xrange(f"{prefix}events") if fields["type"] == "nps_rated"] == [
        "7"]
    roles = [item["role"] for item in details["transcript"]]
    assert "note" in roles and "agent" in roles and roles[0] == "customer"
    assert details["times"]["first_response"] and details["times"]["resolved"]

    code, out, err = await helpline(config, "case", "show", number)
    assert code == 0 and "INTERNAL: courier delay" in out and "closed" in out


async def test_case_commands_report_errors(tmp_path: Path, prefix: str, redis) -> None:
    config = write_config(tmp_path, prefix)
    code, out, err = await helpline(config, "case", "show", "424242")
    assert code == 1 and "no case #424242" in err
    code, out, err = await helpline(config, "case", "claim", "424242", "--agent", "Maria")
    assert code == 1 and "no case" in err
    code, out, err = await helpline(config, "case", "claim", "abc", "--agent", "Maria")
    assert code == 2 and "not a case number" in err


async def test_run_serves_health_metrics_and_chat_then_stops_cleanly(tmp_path: Path, prefix: str, redis) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "shop.yaml").write_text((FIXTURE_KB / "shop.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = write_config(tmp_path, prefix, kb)
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--config", str(config), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        port = None
        assert service.stderr is not None
        while port is None:
            raw = await asyncio.wait_for(service.stderr.readline(), timeout=READ_TIMEOUT)
            assert raw, "the service ended before it listened"
            found = re.search(r"HTTP on http://127\.0\.0\.1:(\d+)", raw.decode())
            port = int(found.group(1)) if found else None
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                health = await response.json()
                assert health["redis"] is True and health["knowledge_base"]["entries"] == 3

            # A chat while the service runs uses the service's workers.
            code, out, err = await helpline(config, "chat", stdin=b"operator\n")
            assert code == 0 and re.search(r"#\d+", out), (out, err)
            assert await redis.zcard(f"{prefix}queue:support") == 1

            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                metrics = await response.text()
            # A broken edit is reported and the last good knowledge base stays in service ...
            (kb / "broken.yaml").write_text("entries:\n  - id: Bad Id\n    questions: []\n", encoding="utf-8")
            health = await _wait_for_health(session, port, lambda h: h["knowledge_base"]["last_reload_problems"])
            assert health["knowledge_base"]["entries"] == 3 and health["status"] == "ok"
            assert any("broken.yaml:2" in problem for problem in health["knowledge_base"]["last_reload_problems"])
            code, out, err = await helpline(config, "chat", stdin=b"How long does delivery take?\n")
            assert "2 to 4 working days" in out, (out, err)
            # ... and a good edit goes into service within seconds.
            (kb / "broken.yaml").write_text(
                "entries:\n  - id: opening-hours\n    questions:\n      en:\n        - When are you open?\n"
                "        - opening hours\n    answer:\n      en: We are open 9 to 17 on weekdays.\n", encoding="utf-8")
            health = await _wait_for_health(session, port, lambda h: h["knowledge_base"]["entries"] == 4)
            assert health["knowledge_base"]["last_reload_problems"] == []
            code, out, err = await helpline(config, "chat", stdin=b"When are you open?\n")
            assert "9 to 17" in out, (out, err)
        assert 'helpline_queue_length{team="support"} 1.0' in metrics
        assert "helpline_faq_entries 3.0" in metrics
        # Workers add what they handled to the shared counter once per heartbeat.
        await _wait_for_metrics(port, r'helpline_entries_processed_total\{stream="inbox"\} [1-9]')
    finally:
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(service.wait(), timeout=READ_TIMEOUT)
    assert code == 0
    assert await redis.zcard(f"{prefix}workers") == 0  # workers said goodbye


async def _wait_for_metrics(port: int, pattern: str) -> str:
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = await response.text()
            if re.search(pattern, metrics):
                return metrics
            await asyncio.sleep(0.1)
    raise AssertionError(f"/metrics never matched {pattern}: {metrics}")


async def _wait_for_health(session: aiohttp.ClientSession, port: int, condition) -> dict:
    for _ in range(100):
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            health = await response.json()
        if condition(health):
            return health
        await asyncio.sleep(0.1)
    raise AssertionError(f"health never reached the expected state: {health}")


@pytest.mark.parametrize("content, expected", [
    ("faq:\n  answer_at: 1.5\n", "helpline.yaml:2: faq.answer_at"),
    ("teams:\n  support: {slack_chanel: '#x'}\n", "helpline.yaml:2: teams.support.slack_chanel: unknown key"),
    ("redis:\n  url: ${NO_SUCH_VARIABLE_HERE}\n", "environment variable NO_SUCH_VARIABLE_HERE is not set"),
    ("languages: [en, \n", "not valid YAML"),
])
async def test_check_config_names_file_line_and_key(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "helpline.yaml"
    path.write_text(content, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "check-config", str(path), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ})
    out, err = await process.communicate()
    assert process.returncode == 1
    assert expected in err.decode()


async def test_check_config_accepts_the_shipped_file() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "check-config", cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("ok:")


async def test_chat_and_agent_commands_work_when_a_dead_service_left_its_heartbeat(tmp_path: Path, prefix: str,
                                                                                   redis) -> None:
    import time

    config = write_config(tmp_path, prefix)
    await redis.zadd(f"{prefix}workers", {"killed-host:1:router0": time.time() + 60})
    code, out, err = await helpline(config, "chat", stdin=b"human please\n")
    assert code == 0, err
    number = re.search(r"#(\d+)", out).group(1)
    code, out, err = await helpline(config, "case", "claim", number, "--agent", "Maria")
    assert code == 0 and "yours" in out, err


async def test_faq_gaps_shows_what_ended_in_a_handoff(tmp_path: Path, prefix: str, redis) -> None:
    config = write_config(tmp_path, prefix)
    script = b"my parrot swallowed the voucher code\n/case\n"
    code, out, err = await helpline(config, "chat", stdin=script)
    assert code == 0, err
    code, out, err = await helpline(config, "faq", "gaps", "--since", "1h", "--json")
    assert code == 0, err
    report = json.loads(out)
    examples = [example for cluster in report["clusters"] for example in cluster["examples"]]
    assert "my parrot swallowed the voucher code" in examples
    code, out, err = await helpline(config, "faq", "gaps", "--since", "forever")
    assert code == 1 and "forever" in err


async def test_faq_lint_and_check_through_the_command(tmp_path: Path, prefix: str) -> None:
    config = write_config(tmp_path, prefix)
    code, out, err = await helpline(config, "faq", "lint", "--json")
    assert code == 0, err
    assert "warnings" in json.loads(out)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.yaml").write_text("entries:\n  - id: x\n    questions: {en: [hi]}\n", encoding="utf-8")
    code, out, err = await helpline(config, "faq", "lint", str(broken))
    assert code == 1 and "a.yaml:2" in out + err
    code, out, err = await helpline(config, "faq", "check", str(broken))
    assert code == 1 and "a.yaml:2" in out + err
