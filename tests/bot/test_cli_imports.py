"""The agents' commands stay quick: they never import the router, the FAQ matcher, scikit-learn, scipy or a channel SDK.

Checked by what a fresh interpreter has in `sys.modules` after the command, never by timing.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from router.messages import InboundMessage, Sender, inbox_fields, new_id
from tests.bot.test_cli_flow import write_config
from tests.conftest import REPO
from tests.drivers import Customer

HEAVY = ("sklearn", "scipy", "faq.matcher", "telegram", "slack_sdk", "slack_bolt", "aiohttp",
         # The router itself (state machine, vocabularies, language detection, rapidfuzz): 50 modules that
         # showing the queue or a case never uses, ~0.07 s of CPU a command. An action (claim, release)
         # applies itself through the router when no service runs, so only these are checked for them.
         "router.engine", "router.intents", "faq.langdetect", "rapidfuzz")
ROUTER = ("router.engine", "router.intents", "faq.langdetect", "rapidfuzz")

# Runs one command in a fresh interpreter, then prints its exit code and which of HEAVY it loaded.
PROBE = f"""
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = sorted(name for name in {HEAVY!r} if any(m == name or m.startswith(name + ".") for m in sys.modules))
print("PROBE " + json.dumps({{"code": code, "heavy": heavy}}))
"""


async def run_probe(config: Path, *args: str, script: str = PROBE) -> tuple[dict, str]:
    """Run `helpline <args>` through `script` in a fresh interpreter: its PROBE line, and all it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, "--config", str(config), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    probe_line = next(line for line in out.decode().splitlines() if line.startswith("PROBE "))
    return json.loads(probe_line.removeprefix("PROBE ")), out.decode() + err.decode()


async def test_queue_show_and_case_actions_load_no_matcher_nor_channel_sdk(tmp_path: Path, prefix: str, redis,
                                                                         customer: Customer) -> None:
    await customer.say("human please")  # a case, opened in this process (which may load the FAQ)
    number = await redis.get(f"{prefix}case:counter")
    assert number is not None
    # A customer message nobody has handled yet: a worker started by the CLI would load the FAQ for it.
    waiting = InboundMessage(id=new_id(), channel="console", address=new_id(), sender=Sender(id="x", name="Ann"),
                             text="How long does delivery take?", received_at=time.time())
    waiting_entry = await redis.xadd(f"{prefix}inbox", inbox_fields(waiting))
    config = write_config(tmp_path, prefix)

    for args in (("queue", "--json"), ("case", "show", number), ("case", "claim", number, "--agent", "Maria"),
                 ("case", "release", number, "--agent", "Maria")):
        probe, output = await run_probe(config, *args)
        assert probe["code"] == 0, output
        allowed = ROUTER if args[0] == "case" and args[1] in ("claim", "release") else ()
        heavy = [name for name in probe["heavy"] if name not in allowed]
        assert heavy == [], f"helpline {' '.join(args)} imported {heavy}"

    assert (await redis.hgetall(f"{prefix}case:{number}"))["status"] == "queued"  # claimed, then released
    assert await redis.get(f"{prefix}done:{waiting_entry}") is None  # the customer message waits for a worker


async def test_report_loads_no_channel_sdk_nor_http_server(tmp_path: Path, prefix: str) -> None:
    # The FAQ's clustering (scipy) groups the gaps; the channels and the HTTP side stay out.
    probe, output = await run_probe(write_config(tmp_path, prefix), "report", "--json")
    assert probe["code"] == 0, output
    assert not {"telegram", "slack_sdk", "slack_bolt", "aiohttp"} & set(probe["heavy"]), probe["heavy"]


# What listing the queue or showing a case needs is the settings, the Redis client, the texts and
# router.store/router.sla: the service's parts below came in through module-level imports once
# (bot.app, bot.agent_desk, router.store), ~30 ms of a 0.3 s command. The channels' packages
# (`channels.telegram` etc.) are allowed: the settings validate their sections.
SERVICE_ONLY = ("numpy", "faq.matcher", "faq.kb", "faq.live", "aiohttp", "router.worker", "router.lanes",
                "router.sweeper", "router.streams", "router.dead_letters", "router.retention", "router.messages",
                "router.engine", "channels.base", "channels.console", "channels.telegram.adapter",
                "channels.slack.adapter", "channels.email.channel", "bot.outbox", "bot.http", "bot.channel_setup")
LISTING_PROBE = f"""
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
loaded = sorted(name for name in {SERVICE_ONLY!r} if any(m == name or m.startswith(name + ".") for m in sys.modules))
print("PROBE " + json.dumps({{"code": code, "heavy": loaded, "redis": "redis" in sys.modules}}))
"""


async def run_listing_probe(config: Path, *args: str) -> dict:
    probe, output = await run_probe(config, *args, script=LISTING_PROBE)
    return dict(probe, output=output)


async def test_queue_and_case_show_load_none_of_the_service(tmp_path: Path, prefix: str, customer: Customer,
                                                           redis) -> None:
    await customer.say("human please")
    number = await redis.get(f"{prefix}case:counter")
    assert number is not None
    config = write_config(tmp_path, prefix)
    for args in (("queue",), ("queue", "--json"), ("queue", "--mine", "--agent", "Maria"), ("case", "show", number)):
        probe = await run_listing_probe(config, *args)
        assert probe["code"] == 0, probe["output"]
        assert probe["heavy"] == [], f"helpline {' '.join(args)} imported {probe['heavy']}"


async def test_config_check_loads_no_redis_client(tmp_path: Path, prefix: str) -> None:
    # Validating a file (router.sla's policy type included) needs neither redis nor the router's store.
    probe = await run_listing_probe(write_config(tmp_path, prefix), "check-config")
    assert probe["code"] == 0, probe["output"]
    assert probe["redis"] is False and probe["heavy"] == []
