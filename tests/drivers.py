"""A customer and an agent driving the router through the real streams of a real Redis (fixtures too)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from bot.app import Helpline
from bot.settings import Settings
from router.messages import (
    ActionKind,
    AgentAction,
    InboundMessage,
    OutboundMessage,
    Sender,
    from_json,
    inbox_fields,
    new_id,
)
from router.worker import StreamWorker


@dataclass
class Customer:
    """One customer on the console channel; `say` returns what the bot sent back."""

    helpline: Helpline
    worker: StreamWorker
    address: str = field(default_factory=new_id)
    name: str = "Ann Customer"
    _last_seen: str = "0-0"

    async def say(self, text: str = "", option: str | None = None, hint: str | None = None,
                  platform_id: str = "") -> list[OutboundMessage]:
        message = InboundMessage(id=new_id(), channel="console", address=self.address,
                                 sender=Sender(id=self.address, name=self.name), text=text, option=option,
                                 language_hint=hint, received_at=time.time(), platform_id=platform_id)
        await self.helpline.redis.xadd(self.helpline.keys.inbox, inbox_fields(message))
        await self.worker.drain()
        return await self.inbox()

    async def inbox(self) -> list[OutboundMessage]:
        """Messages for this customer since the last look."""
        entries = await self.helpline.redis.xrange(self.helpline.keys.outbox("console"), f"({self._last_seen}")
        mine = []
        for entry_id, fields in entries:
            self._last_seen = entry_id
            message = from_json(OutboundMessage, fields["data"])
            if message.address == self.address:
                mine.append(message)
        return mine


@dataclass
class Agent:
    helpline: Helpline
    worker: StreamWorker
    name: str

    async def act(self, kind: ActionKind, case: int, text: str = "", team: str | None = None) -> dict:
        action = AgentAction(id=new_id(), kind=kind, case=case, agent=self.name.lower(), agent_name=self.name,
                             text=text, team=team, at=time.time())
        await self.helpline.redis.xadd(self.helpline.keys.inbox, inbox_fields(action))
        await self.worker.drain()
        reply = await self.helpline.redis.lpop(self.helpline.keys.result(action.id))
        assert reply is not None, "the router gave no result for the action"
        return json.loads(reply)


@pytest.fixture
async def helpline(settings: Settings, redis: Redis) -> AsyncIterator[Helpline]:
    instance = Helpline(settings, redis=Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True))
    yield instance
    await instance.close()


@pytest.fixture
def worker(helpline: Helpline) -> StreamWorker:
    return helpline.router_workers(1, tag="test")[0]


@pytest.fixture
def customer(helpline: Helpline, worker: StreamWorker) -> Customer:
    return Customer(helpline, worker)


@pytest.fixture
def agent(helpline: Helpline, worker: StreamWorker) -> Agent:
    return Agent(helpline, worker, "Maria")


async def case_hash(helpline: Helpline, number: int) -> dict[str, str]:
    return await helpline.redis.hgetall(helpline.keys.case(number))


async def events(helpline: Helpline) -> list[dict[str, str]]:
    return [fields for _, fields in await helpline.redis.xrange(helpline.keys.events)]


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Settings]:
    """`helpline run` (bot.app.serve) in this event loop until the block ends, once it is ready."""
    from bot.app import serve

    ready = asyncio.Event()
    task = asyncio.create_task(serve(settings, ready))
    await asyncio.wait_for(ready.wait(), 20)
    try:
        yield settings
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
