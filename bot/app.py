"""Wiring: builds Helpline's parts from settings and runs them in one event loop.

This is the only module that knows every part. `Helpline` owns the Redis client, the live
knowledge base, the router and the channels; `serve()` runs the whole service until a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from redis.asyncio import Redis

from bot.settings import Settings
from channels.console import CHANNEL as CONSOLE, ConsoleChannel
from faq import KnowledgeBase, KnowledgeBaseError, LiveKnowledgeBase
from router.engine import Router, RouterConfig
from router.keys import OUTBOX_GROUP, Keys
from router.messages import OutboundMessage, from_json
from router.texts import load_texts
from router.worker import StreamWorker, inbox_worker, live_workers, worker_name

log = logging.getLogger(__name__)


class KnowledgeBaseUnavailable(RuntimeError):
    """The FAQ folder has never loaded cleanly, so there is nothing to answer from."""


def connect_redis(settings: Settings) -> Redis:
    """A Redis client for the configured URL; strings in, strings out."""
    return Redis.from_url(settings.redis.url.get_secret_value(), decode_responses=True,
                          health_check_interval=30, socket_keepalive=True)


class Helpline:
    """All of Helpline's parts for one process."""

    def __init__(self, settings: Settings, redis: Redis | None = None) -> None:
        self.settings = settings
        self.redis = redis if redis is not None else connect_redis(settings)
        self.keys = Keys(settings.redis.prefix)
        self.texts = load_texts(settings.router.messages_path, settings.languages)
        # Loaded on first use: showing a case or the queue must work even while the FAQ is broken.
        self._knowledge_base: LiveKnowledgeBase | None = None
        self._router: Router | None = None
        self.console = ConsoleChannel(self.redis, self.keys.console, lambda message_id: self.keys.sent(CONSOLE, message_id))
        self.workers: list[StreamWorker] = []

    @property
    def knowledge_base(self) -> LiveKnowledgeBase:
        """The FAQ in service; raises KnowledgeBaseUnavailable when it has never loaded cleanly."""
        if self._knowledge_base is None:
            try:
                self._knowledge_base = LiveKnowledgeBase(self.settings.faq.path, self.settings.languages)
            except KnowledgeBaseError as error:
                problems = "\n".join(f"  {problem}" for problem in error.problems)
                raise KnowledgeBaseUnavailable(f"the FAQ in {self.settings.faq.path} does not load:\n{problems}") from None
        return self._knowledge_base

    @property
    def router(self) -> Router:
        if self._router is None:
            settings = self.settings
            self._router = Router(self.redis, self.keys, self._current_knowledge_base, self.texts, RouterConfig(
                languages=tuple(settings.languages), default_team=settings.router.default_team,
                teams={key: team.name or key for key, team in settings.teams.items()},
                answer_at=settings.faq.answer_at, suggest_at=settings.faq.suggest_at,
                reopen_days=settings.router.reopen_days, relay_template=settings.router.relay_template,
                max_message_chars=settings.router.max_message_chars))
        return self._router

    def _current_knowledge_base(self) -> KnowledgeBase:
        return self.knowledge_base.current  # a failed reload keeps the last good one here

    def router_workers(self, count: int, tag: str = "router", block_ms: int = 1000) -> list[StreamWorker]:
        workers = [inbox_worker(self.redis, self.keys, self.router.handle, worker_name(f"{tag}{index}"),
                                claim_idle_seconds=self.settings.router.claim_timeout_seconds, block_ms=block_ms)
                   for index in range(count)]
        self.workers.extend(workers)
        return workers

    def console_sender(self, block_ms: int = 1000) -> StreamWorker:
        async def deliver(entry_id: str, fields: Mapping[str, str]) -> None:
            await self.console.deliver(from_json(OutboundMessage, fields.get("data", "")))

        worker = StreamWorker(self.redis, self.keys.outbox(CONSOLE), OUTBOX_GROUP, worker_name("console"), deliver,
                              dead_letters=self.keys.dead_letters, block_ms=block_ms,
                              claim_idle_seconds=self.settings.router.claim_timeout_seconds)
        self.workers.append(worker)
        return worker

    async def close(self) -> None:
        await self.redis.aclose()


class LocalWorkers:
    """A router worker and the console sender run inside a CLI process when no service does.

    `start_unless_served()` looks for live workers (heartbeats); a CLI that then waits in vain
    (a service that was killed leaves its heartbeat for a few seconds) calls `start()` anyway.
    """

    def __init__(self, helpline: Helpline) -> None:
        self.helpline = helpline
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start_unless_served(self) -> None:
        if await live_workers(self.helpline.redis, self.helpline.keys) == 0:
            self.start()

    def start(self) -> None:
        if self._tasks:
            return
        workers = self.helpline.router_workers(1, tag="local", block_ms=200)
        workers.append(self.helpline.console_sender(block_ms=200))
        self._tasks = [asyncio.create_task(worker.run(self._stop)) for worker in workers]

    async def stop(self) -> None:
        """Stop reading; what was read is finished and acknowledged first."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> LocalWorkers:
        await self.start_unless_served()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def serve(settings: Settings, ready: asyncio.Event | None = None) -> None:
    """The service: router workers, console sender, FAQ reload, /healthz and /metrics; stops on SIGTERM/SIGINT."""
    from bot.http import start_http_server  # aiohttp is only loaded by the service

    helpline = Helpline(settings)
    helpline.knowledge_base  # noqa: B018 - load now: a service without its FAQ must not start
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    http_runner = None
    try:
        workers = helpline.router_workers(settings.router.workers)
        if settings.channels.console.enabled:
            workers.append(helpline.console_sender())
        if settings.http.enabled:
            http_runner = await start_http_server(helpline, settings.http.host, settings.http.port)
        log.info("Helpline serving: %d router workers, knowledge base %s (%d entries)", settings.router.workers,
                 settings.faq.path, len(helpline.knowledge_base.current.entries))
        if ready is not None:
            ready.set()
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                group.create_task(worker.run(stop))
            watcher = group.create_task(helpline.knowledge_base.watch(settings.faq.reload_seconds))
            await stop.wait()
            log.info("stopping: finishing what is in flight")
            watcher.cancel()
    finally:
        if http_runner is not None:
            await http_runner.cleanup()
        await helpline.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    log.info("Helpline stopped")
