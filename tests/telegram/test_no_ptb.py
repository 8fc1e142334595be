"""The Telegram channel runs without python-telegram-bot: importing it and running it (getMe, polling, a send,
a button press answered, a file fetched, the stop) loads neither `telegram` nor httpx and its stack, whose
import alone was ~350 ms of every start (issue 14). Checked by what a fresh interpreter has in `sys.modules`."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.conftest import REDIS_URL, REPO
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, callback_update

NOT_LOADED = ("telegram", "httpx", "httpcore", "anyio", "sniffio")

PROBE = f"""
import asyncio, json, sys

def loaded():
    return sorted(name for name in {NOT_LOADED!r} if any(m == name or m.startswith(name + ".") for m in sys.modules))

import channels.telegram
import channels.telegram.adapter
after_import = loaded()

from redis.asyncio import Redis
from channels.base import ChannelContext
from router.messages import Attachment, OutboundMessage

async def main(url, prefix):
    redis = Redis.from_url({REDIS_URL!r}, decode_responses=True)
    submitted = []
    async def submit(message):
        submitted.append(message)
    context = ChannelContext(submit=submit, redis=redis, key=lambda name: prefix + name)
    channel = channels.telegram.create({{"enabled": True, "token": {TOKEN!r}, "api_base_url": url,
                                        "poll_timeout": 1, "chat_interval": 0, "group_interval": 0}}, context)
    await channel.start()
    sent = await channel.deliver(OutboundMessage(id="01X", channel="telegram", address="5551", text="hello"))
    while not submitted:
        await asyncio.sleep(0.05)
    data = await channel.fetch_attachment(Attachment("a.txt", "text/plain", 2, "doc-1"))
    await channel.stop()
    await redis.delete(prefix + "telegram:offset")
    await redis.aclose()
    return {{"bot": channel.identity.username, "sent": sent, "option": submitted[0].option, "file": data.decode()}}

ran = asyncio.run(main(sys.argv[1], sys.argv[2]))
print("PROBE " + json.dumps({{"after_import": after_import, "after_running": loaded(), "ran": ran}}))
"""


async def test_importing_and_running_the_channel_loads_no_ptb_nor_httpx(fake: FakeBotApi, prefix: str) -> None:
    fake.files["doc-1"] = b"hi"
    await fake.push(callback_update(90, "rate:5"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, fake.url, prefix, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    probe = json.loads(next(line for line in out.decode().splitlines() if line.startswith("PROBE "))[6:])
    assert probe["ran"] == {"bot": "helpline_test_bot", "sent": "5551:1000", "option": "rate:5", "file": "hi"}
    assert fake.calls_of("answerCallbackQuery") and fake.calls_of("getUpdates")  # it did poll and answer
    assert probe["after_import"] == [] and probe["after_running"] == [], probe
