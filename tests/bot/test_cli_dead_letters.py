"""`helpline dead-letters list|show|retry|drop` through the real command."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from bot.app import Helpline
from router.dead_letters import RETRY_OF_FIELD
from router.worker import StreamWorker
from tests.bot.test_cli_flow import helpline as run_helpline
from tests.bot.test_cli_flow import write_config


async def test_list_show_retry_and_drop(tmp_path: Path, prefix: str, redis: Redis, helpline: Helpline,
                                        worker: StreamWorker) -> None:
    config = write_config(tmp_path, prefix)
    inbox = helpline.keys.inbox
    broken = await redis.xadd(inbox, {"kind": "message", "data": "{not json"})
    unknown = await redis.xadd(inbox, {"kind": "telepathy", "data": "{}"})
    await worker.drain()

    code, out, err = await run_helpline(config, "dead-letters", "list")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2 and all("inbox" in line for line in lines)
    first_id, second_id = (line.split()[0] for line in lines)
    assert "telepathy" in lines[1]

    code, out, err = await run_helpline(config, "dead-letters", "show", first_id)
    assert code == 0, err
    assert f"inbox entry {broken}" in out and "{not json" in out and "reason:" in out

    code, out, err = await run_helpline(config, "dead-letters", "retry", first_id)
    assert code == 0 and "put back in inbox" in out, err
    entries = await redis.xrange(inbox)
    assert entries[-1][1]["data"] == "{not json" and entries[-1][1][RETRY_OF_FIELD] == broken

    code, out, err = await run_helpline(config, "dead-letters", "drop", second_id)
    assert code == 0 and "dropped" in out and unknown in out
    assert await redis.xlen(helpline.keys.dead_letters) == 0

    code, out, err = await run_helpline(config, "dead-letters", "show", second_id)
    assert code == 1 and f"no dead letter {second_id}" in err

    await worker.drain()  # the put-back entry fails again: a dead letter again, under its first id
    code, out, err = await run_helpline(config, "dead-letters", "list", "--json")
    assert code == 0 and f'"entry_id": "{broken}"' in out
