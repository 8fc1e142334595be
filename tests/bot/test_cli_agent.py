"""Agent commands need an agent (--agent or $HELPLINE_AGENT); `queue --mine` lists the agent's cases."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.bot.test_cli_flow import write_config
from tests.conftest import REPO
from tests.drivers import Customer


async def helpline(config: Path, *args: str, agent: str | None = None) -> tuple[int, str, str]:
    env = {name: value for name, value in os.environ.items() if name != "HELPLINE_AGENT"}
    if agent is not None:
        env["HELPLINE_AGENT"] = agent
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, "--config", str(config), cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def open_case(customer: Customer) -> str:
    replies = await customer.say("I want to talk to a human")
    found = re.search(r"#(\d+)", replies[-1].text)
    assert found
    return found.group(1)


@pytest.mark.parametrize("action", [("claim",), ("reply", "hello"), ("note", "internal"), ("transfer", "billing"),
                                    ("release",), ("resolve",), ("reopen",)])
async def test_every_case_action_refuses_without_an_agent(tmp_path: Path, prefix: str, redis,
                                                          action: tuple[str, ...]) -> None:
    config = write_config(tmp_path, prefix)
    name, *rest = action
    code, out, err = await helpline(config, "case", name, "1001", *rest)
    assert code == 2 and out == ""
    assert f"helpline: case {name} needs an agent: pass --agent NAME or set HELPLINE_AGENT" in err
    assert await redis.xlen(f"{prefix}inbox") == 0  # nothing was submitted


async def test_blank_agent_is_no_agent(tmp_path: Path, prefix: str, redis) -> None:
    config = write_config(tmp_path, prefix)
    code, _, err = await helpline(config, "case", "resolve", "1001", "--agent", " ", agent="")
    assert code == 2 and "case resolve needs an agent" in err
    code, _, err = await helpline(config, "queue", "--mine")
    assert code == 2 and "queue --mine needs an agent: pass --agent NAME or set HELPLINE_AGENT" in err


async def test_agent_from_the_environment_and_queue_mine(tmp_path: Path, prefix: str, redis,
                                                        customer: Customer) -> None:
    number = await open_case(customer)
    await customer.say("it is about order 77")
    other = await open_case(Customer(customer.helpline, customer.worker))
    config = write_config(tmp_path, prefix)

    code, out, err = await helpline(config, "case", "claim", number, agent="Maria")
    assert code == 0 and "yours" in out, err
    code, out, err = await helpline(config, "case", "claim", other, "--agent", "Janis", agent="Maria")
    assert code == 0, err  # --agent wins over the environment

    code, out, err = await helpline(config, "queue", "--mine", "--json", agent="Maria")
    assert code == 0, err
    listing = json.loads(out)
    assert listing["agent"] == "Maria"
    assert [item["case"] for item in listing["cases"]] == [int(number)]
    assert listing["cases"][0]["latest_message"] == "it is about order 77"
    assert listing["cases"][0]["subject"] == "I want to talk to a human"

    code, out, err = await helpline(config, "queue", "--mine", "--agent", "Janis")
    assert code == 0, err
    assert out.splitlines()[0] == "Janis: 1 claimed" and f"#{other}" in out and f"#{number}" not in out


async def test_queue_text_shows_the_latest_customer_message(tmp_path: Path, prefix: str, redis,
                                                            customer: Customer) -> None:
    number = await open_case(customer)
    await customer.say("it is about order 77")
    config = write_config(tmp_path, prefix)
    code, out, err = await helpline(config, "queue")
    assert code == 0, err
    [line] = [line for line in out.splitlines() if f"#{number}" in line]
    assert line.endswith("Ann Customer: it is about order 77")
