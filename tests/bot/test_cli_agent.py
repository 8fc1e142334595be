"""Agent commands need an agent (--agent or $HELPLINE_AGENT); `queue --mine` lists the agent's cases."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.agent_desk import sla_text
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


async def test_queue_shows_each_cases_first_response_sla(tmp_path: Path, prefix: str, redis,
                                                         customer: Customer) -> None:
    first = await open_case(customer)
    second = await open_case(Customer(customer.helpline, customer.worker, name="Bob"))
    config = write_config(tmp_path, prefix)
    settings = yaml.safe_load(config.read_text())
    settings["teams"]["support"]["sla"] = {"first_response_minutes": 30, "warn_before_minutes": 5}
    config.write_text(yaml.safe_dump(settings))
    # The SLA clock of a case runs from its queue time: move the first one's 40 minutes back.
    await redis.hset(f"{prefix}case:{first}", "queued_at", repr(time.time() - 40 * 60))

    code, out, err = await helpline(config, "queue", "--json")
    assert code == 0, err
    listed = {item["case"]: item["sla"] for item in json.loads(out)["teams"]["support"]}
    assert listed[int(first)]["state"] == "breached" and -10 * 60 - 30 < listed[int(first)]["left_seconds"] <= -10 * 60
    assert listed[int(second)]["state"] == "ok" and listed[int(second)]["target_seconds"] == 1800
    assert listed[int(second)]["paused"] is False
    assert all(item["sla"] is None for item in json.loads(out)["teams"]["billing"])

    code, out, err = await helpline(config, "queue")
    assert code == 0, err
    lines = out.splitlines()
    at = next(index for index, line in enumerate(lines) if f"#{first}" in line)
    assert lines[at + 1].strip().startswith("SLA breached 10m")
    at = next(index for index, line in enumerate(lines) if f"#{second}" in line)
    assert lines[at + 1].strip().startswith("SLA ok, 29m") or lines[at + 1].strip().startswith("SLA ok, 30m")

    # And the case's own page says it.
    code, out, err = await helpline(config, "case", "show", first, "--json")
    assert code == 0, err
    assert json.loads(out)["sla"]["state"] == "breached"
    code, out, err = await helpline(config, "case", "show", first)
    assert code == 0, err
    assert "SLA breached 10m" in out


def test_sla_text() -> None:
    assert sla_text(None) == ""
    assert sla_text({"state": "ok", "left_seconds": 1200.0, "paused": False}) == "SLA ok, 20m00s left"
    assert sla_text({"state": "near_breach", "left_seconds": 90.0, "paused": False}) == "SLA near breach, 1m30s left"
    assert sla_text({"state": "breached", "left_seconds": -7200.0, "paused": True}) == (
        "SLA breached 2h00m ago (paused: outside business hours)")
