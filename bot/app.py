"""Wiring: builds Helpline's parts from settings and runs them in one event loop.

This is the only module that knows every part. `Helpline` owns the Redis client, the live
knowledge base, the router and the channels; `serve()` runs the whole service until a signal.

Importing this module must stay quick: the agents' commands (`helpline queue`, `helpline case ...`)
build a `Helpline` too. So the FAQ matcher (scikit-learn, scipy), the channels and their SDKs
(aiohttp, Telegram, Slack), and the router's workers, lanes, sweeper and message types, which only
the service runs, are imported inside the functions that use them, never at the top
(tests/bot/test_cli_imports.py checks what `helpline queue` loads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from bot.heap import keep_heap_frozen
from bot.settings import Settings
from router.keys import DESK_GROUP, OUTBOX_GROUP, Keys
from router.texts import load_texts

if TYPE_CHECKING:
    from channels.base import Channel, ChannelContext, Desk
    from channels.console import ConsoleChannel
    from faq import KnowledgeBase, LiveKnowledgeBase, MatcherFactory
    from router.config import RouterConfig
    from router.engine import Router
    from router.messages import InboundMessage
    from router.sla import SlaRules
    from router.worker import StreamWorker

log = logging.getLogger(__name__)

DEFAULT_RETRY_FOR_SECONDS = 3600.0


def _conversation_of(fields: Mapping[str, str]) -> str:
    # Outbox entries of one conversation are sent in order; different conversations side by side.
    try:
        return str(json.loads(fields.get("data", "")).get("address", ""))
    except (ValueError, AttributeError):
        return ""  # a broken entry: the handler reports it


def _case_of(fields: Mapping[str, str]) -> str:
    try:
        return str(json.loads(fields.get("data", "")).get("case", ""))
    except (ValueError, AttributeError):
        return ""


class KnowledgeBaseUnavailable(RuntimeError):
    """The FAQ folder has never loaded cleanly, so there is nothing to answer from."""


def connect_redis(settings: Settings) -> Redis:
    """A Redis client for the configured URL (one server, Sentinel or Cluster); strings in, strings out."""
    from bot.redis_connect import connect

    # The connect timeout: a host that drops packets must not hang a start or a reconnect for minutes.
    return connect(settings.redis.url.get_secret_value(), settings.redis.prefix, health_check_interval=30,
                   socket_keepalive=True, socket_connect_timeout=settings.redis.connect_timeout_seconds)


class Helpline:
    """All of Helpline's parts for one process."""

    def __init__(self, settings: Settings, redis: Redis | None = None, matches: bool = True) -> None:
        """`matches=False`: a process that never answers (the parent of worker processes) loads the FAQ's
        entries and watches its folder, for /healthz and /metrics, without the matcher or the encoder."""
        self.settings = settings
        self.matches = matches
        self.redis = redis if redis is not None else connect_redis(settings)
        self.keys = Keys(settings.redis.prefix)
        self.texts = load_texts(settings.router.messages_path, settings.languages)
        # Loaded on first use: showing a case or the queue must work even while the FAQ is broken.
        self._knowledge_base: LiveKnowledgeBase | None = None
        self._router: Router | None = None
        self.workers: list[StreamWorker] = []
        # The running channels by name; channel contexts look files up here (filled once they are built).
        self.channels: dict[str, Channel] = {}

    @property
    def knowledge_base(self) -> LiveKnowledgeBase:
        """The FAQ in service; raises KnowledgeBaseUnavailable when it has never loaded cleanly."""
        if self._knowledge_base is None:
            from faq import KnowledgeBaseError, LiveKnowledgeBase
            from faq.kb import no_matcher

            factory = self._matcher_factory() if self.matches else no_matcher
            try:
                self._knowledge_base = LiveKnowledgeBase(self.settings.faq.path, self.settings.languages, factory)
            except KnowledgeBaseError as error:
                problems = "\n".join(f"  {problem}" for problem in error.problems)
                raise KnowledgeBaseUnavailable(f"the FAQ in {self.settings.faq.path} does not load:\n{problems}") from None
        return self._knowledge_base

    def _matcher_factory(self) -> MatcherFactory:
        """The configured matcher, with the sentence encoder (loaded here) unless the settings say otherwise;
        raises KnowledgeBaseUnavailable when the configured `semantic_model` does not load."""
        from faq.encoder import default_cache_path
        from faq.matcher import matcher_factory
        from faq.semantic import SemanticModelError

        faq = self.settings.faq
        try:
            return matcher_factory(faq.semantic_model, sentence_encoder=faq.sentence_encoder,
                                   embedding_cache=faq.embedding_cache or default_cache_path(faq.path), background=True)
        except SemanticModelError as error:
            raise KnowledgeBaseUnavailable(str(error)) from None

    @cached_property
    def sla_rules(self) -> SlaRules:
        """Each team's SLA policy and business hours (for the router, the dashboard and `helpline queue`)."""
        from router.sla import SlaRules

        teams = self.settings.teams.items()
        return SlaRules(policies={key: team.sla.policy() for key, team in teams if team.sla is not None},
                        hours={key: team.business_hours.hours() for key, team in teams
                               if team.business_hours is not None})

    @cached_property
    def console(self) -> ConsoleChannel:
        """The terminal channel's sending side (built on first use: channels.base brings aiohttp)."""
        from channels.console import CHANNEL, ConsoleChannel

        return ConsoleChannel(self.redis, self.keys.console, lambda message_id: self.keys.sent(CHANNEL, message_id))

    @property
    def router(self) -> Router:
        if self._router is None:
            # Here, not at the top: the router brings language detection, the vocabularies and the whole
            # state machine, which `helpline queue` and `helpline case` never use.
            from router.engine import Router

            self._router = Router(self.redis, self.keys, self._current_knowledge_base, self.texts, self.router_config)
        return self._router

    @cached_property
    def router_config(self) -> RouterConfig:
        """The router's settings; also the sweeper's (SLAs, business hours), which needs no router."""
        from router.config import FeedbackConfig, RouterConfig

        settings = self.settings
        return RouterConfig(
            languages=tuple(settings.languages), default_team=settings.router.default_team,
            team_names={key: team.display_names(key, settings.languages) for key, team in settings.teams.items()},
            answer_at=settings.faq.answer_at, suggest_at=settings.faq.suggest_at,
            reopen_days=settings.router.reopen_days, rephrase_turns=settings.router.rephrase_turns,
            relay_template=settings.router.relay_template, max_message_chars=settings.router.max_message_chars,
            flood_per_minute=settings.router.flood_messages_per_minute,
            desk=settings.channels.slack.enabled,
            business_hours=self.sla_rules.hours, sla=self.sla_rules.policies,
            feedback=FeedbackConfig(
                nps=settings.feedback.nps, ces=settings.feedback.ces, comment=settings.feedback.comment,
                public_url=settings.feedback.public_url, late_days=settings.feedback.late_days,
                secret=settings.feedback.secret.get_secret_value().encode() if settings.feedback.secret else b""))

    def _current_knowledge_base(self) -> KnowledgeBase:
        return self.knowledge_base.current  # a failed reload keeps the last good one here

    def router_workers(self, count: int, tag: str = "router", block_ms: int = 1000) -> list[StreamWorker]:
        from router.worker import inbox_worker, worker_name

        workers = [inbox_worker(self.redis, self.keys, self.router.handle, worker_name(f"{tag}{index}"),
                                claim_idle_seconds=self.settings.router.claim_timeout_seconds, block_ms=block_ms,
                                finishing_handler=self.router.handle_finishing)
                   for index in range(count)]
        self.workers.extend(workers)
        return workers

    def console_sender(self, block_ms: int = 1000) -> StreamWorker:
        return self.channel_sender(self.console, block_ms=block_ms)

    def channel_sender(self, channel: Channel, block_ms: int = 1000) -> StreamWorker:
        """A worker on `hl:outbox:<channel>`: sends once, with retries for `channels.<x>.retry_for`, then
        dead-letters; reports failures and agents' deliveries (see bot/outbox.py)."""
        from bot.outbox import OutboxSender
        from router.worker import StreamWorker, processed_counter, worker_name

        name = worker_name(f"send-{channel.name}")
        section = getattr(self.settings.channels, channel.name, None)
        sender = OutboxSender(self.redis, self.keys, channel, name,
                              retry_for=float(getattr(section, "retry_for", DEFAULT_RETRY_FOR_SECONDS)),
                              lease_seconds=self.settings.router.claim_timeout_seconds, alert=self.alert_admins)
        worker = StreamWorker(self.redis, self.keys.outbox(channel.name), OUTBOX_GROUP, name, sender,
                              dead_letters=self.keys.dead_letters, block_ms=block_ms,
                              claim_idle_seconds=self.settings.router.claim_timeout_seconds,
                              concurrency_key=_conversation_of, stopping=sender.stopping,
                              counter=processed_counter(self.keys, f"outbox:{channel.name}"),
                              finishing_handler=sender.finishing)
        self.workers.append(worker)
        return worker

    def desk_worker(self, desk: Desk, block_ms: int = 1000) -> StreamWorker:
        """A worker on `hl:outbox:desk` showing each DeskEvent to the desk once, in order per case, with
        the customer senders' lease, retries and sent mark (bot/outbox.py)."""
        from bot.outbox import DeskSender
        from router.worker import StreamWorker, processed_counter, worker_name

        name = worker_name(f"desk-{desk.name}")
        section = getattr(self.settings.channels, desk.name, None)
        sender = DeskSender(self.redis, self.keys, desk, name,
                            retry_for=float(getattr(section, "retry_for", DEFAULT_RETRY_FOR_SECONDS)),
                            lease_seconds=self.settings.router.claim_timeout_seconds, alert=self.alert_admins)
        worker = StreamWorker(self.redis, self.keys.desk, DESK_GROUP, name, sender,
                              dead_letters=self.keys.dead_letters, block_ms=block_ms,
                              claim_idle_seconds=self.settings.router.claim_timeout_seconds,
                              concurrency_key=_case_of, stopping=sender.stopping,
                              counter=processed_counter(self.keys, "desk"), finishing_handler=sender.finishing)
        self.workers.append(worker)
        return worker

    def channel_context(self) -> ChannelContext:
        from bot.agent_desk import CoreDesk
        from channels.base import ChannelContext, attachment_fetcher
        from router.lanes import append as append_to_lane
        from router.messages import inbox_fields

        async def submit(message: InboundMessage) -> None:
            # In the conversation's lane: a reclaimed message is handled before the same chat's newer ones.
            await append_to_lane(self.redis, self.keys.inbox, f"{message.channel}:{message.address}",
                                 inbox_fields(message))

        return ChannelContext(submit=submit, redis=self.redis, key=lambda name: f"{self.keys.prefix}{name}",
                              desk=CoreDesk(self), fetch_attachment=attachment_fetcher(lambda: self.channels),
                              alert=self.alert_admins)

    async def alert_admins(self, text: str) -> None:
        """Log `text` and hand it to every channel that can tell the admins (the Slack desk's admin channel)."""
        log.warning("admin alert: %s", text)
        for channel in list(self.channels.values()):
            alert = getattr(channel, "alert", None)
            if alert is None:
                continue
            try:
                await alert(text)
            except Exception:  # an alert that cannot be posted must not take its sender down
                log.exception("could not post the admin alert through %s", channel.name)

    def channel_health(self) -> dict[str, dict[str, object]]:
        """What each channel that reports health says about its platform."""
        return {name: channel.health() for name, channel in self.channels.items()  # type: ignore[attr-defined]
                if callable(getattr(channel, "health", None))}

    async def close(self) -> None:
        await self.redis.aclose()


class LocalWorkers:
    """What `helpline chat` runs itself when no service does: a router worker, the console sender
    and the FAQ reload, so edits of the knowledge base go into service as under `helpline run`.

    `start_unless_served()` looks for live workers (heartbeats); a chat that then waits in vain
    (a service that was killed leaves its heartbeat for a few seconds) calls `start()` anyway.
    """

    def __init__(self, helpline: Helpline) -> None:
        self.helpline = helpline
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start_unless_served(self) -> None:
        from router.worker import live_workers

        if await live_workers(self.helpline.redis, self.helpline.keys) == 0:
            self.start()

    def start(self) -> None:
        """Start the workers and the FAQ reload; raises KnowledgeBaseUnavailable when the FAQ does not load."""
        if self._tasks:
            return
        knowledge_base = self.helpline.knowledge_base  # loaded before any worker needs it
        workers = self.helpline.router_workers(1, tag="local", block_ms=200)
        workers.append(self.helpline.console_sender(block_ms=200))
        self._tasks = [asyncio.create_task(worker.run(self._stop)) for worker in workers]
        self._watcher = asyncio.create_task(knowledge_base.watch(self.helpline.settings.faq.reload_seconds))

    async def stop(self) -> None:
        """Stop reading; what was read is finished and acknowledged first. The FAQ reload stops too."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._watcher is not None:
            self._watcher.cancel()  # it only polls the folder: nothing to finish
            await asyncio.gather(self._watcher, return_exceptions=True)

    async def __aenter__(self) -> LocalWorkers:
        await self.start_unless_served()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)


def _forget_signals() -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signum)


WORKER_ROLES = ("router", "send", "all")  # `helpline worker --role`


async def serve_workers(settings: Settings, ready: asyncio.Event | None = None, role: str = "router",
                        sending_processes: int = 1) -> None:
    """`helpline worker`: until SIGTERM/SIGINT (or, for a child of `helpline run --workers N`, until its parent
    is gone). Any number run side by side on any machines.

    `role` "router": the router workers and the FAQ reload. "send": the outbox senders of the channels any
    process can send (bot.channel_setup.SENT_BY_WORKERS), with no knowledge base. "all": both, as the
    children of `helpline run --workers N` run; `sending_processes` of them pace their sends together.
    """
    from bot.processes import watch_parent

    if role not in WORKER_ROLES:
        raise ValueError(f"unknown worker role {role!r}")
    routes, sends = role in ("router", "all"), role in ("send", "all")
    helpline = Helpline(settings)
    knowledge_base = helpline.knowledge_base if routes else None  # a router worker without its FAQ must not start
    stop = asyncio.Event()
    _stop_on_signals(stop)
    started: list[Channel] = []
    try:
        workers = helpline.router_workers(settings.router.workers) if routes else []
        channels = await _start_sending_channels(helpline, sending_processes, started) if sends else []
        workers += [helpline.channel_sender(channel) for channel in channels]
        log.info("Helpline worker process: %s%s", f"{settings.router.workers} router workers, knowledge base "
                 f"{settings.faq.path} ({len(knowledge_base.current.entries)} entries)" if knowledge_base else "",
                 f"{', ' if routes else ''}senders of {', '.join(c.name for c in channels) or 'no channel'}"
                 if sends else "")
        if ready is not None:
            ready.set()
        async with asyncio.TaskGroup() as group:
            # First: start-up's heap leaves the collector's full collections before the first message.
            group.create_task(keep_heap_frozen(lambda: knowledge_base.current if knowledge_base else None, stop,
                                               settings.faq.reload_seconds))
            for worker in workers:
                group.create_task(worker.run(stop))
            watcher = group.create_task(knowledge_base.watch(settings.faq.reload_seconds)) if knowledge_base else None
            parent = group.create_task(watch_parent(stop))
            await stop.wait()
            if watcher is not None:
                watcher.cancel()  # it only polls the folder: nothing to finish
            parent.cancel()
    finally:
        for channel in reversed(started):
            with contextlib.suppress(Exception):
                await channel.stop()
        await helpline.close()
        _forget_signals()
    log.info("Helpline worker process stopped")


async def _start_sending_channels(helpline: Helpline, processes: int, started: list[Channel]) -> list[Channel]:
    """The channels a worker process sends, started (sending only); the alerting-only ones registered too."""
    from bot.channel_setup import build_alerting_channels, build_sending_channels

    context = helpline.channel_context()
    channels = build_sending_channels(helpline.settings, context, processes)
    if helpline.settings.channels.console.enabled:
        channels.append(helpline.console)
    alerting = build_alerting_channels(helpline.settings, context)
    helpline.channels.update((channel.name, channel) for channel in [*channels, *alerting])
    started.extend(alerting)  # never started, but stopped: they may have opened an HTTP session
    for channel in channels:
        await channel.start()
        started.append(channel)
    return channels


async def serve(settings: Settings, ready: asyncio.Event | None = None, worker_processes: int = 0,
                config_path: Path | None = None) -> None:
    """The service: router workers, console sender, FAQ reload, /healthz and /metrics; stops on SIGTERM/SIGINT.

    With `worker_processes` > 0 the router workers and the senders of bot.channel_setup.SENT_BY_WORKERS
    (Telegram, the console) run in that many child processes (`helpline worker --role all` with the settings
    file `config_path`) instead of in this one, which keeps the receivers, the other senders, the desk
    sender, the sweeper and HTTP.
    """
    from bot.channel_setup import SENT_BY_WORKERS, build_channels  # the channel SDKs load only in the service
    from bot.http import start_http_server  # aiohttp too
    from router.sweeper import sweep_forever

    # A parent of worker processes never answers: it reads the FAQ (for /healthz: entries, reload problems)
    # without the matcher and the encoder, which only the children load.
    helpline = Helpline(settings, matches=worker_processes == 0)
    helpline.knowledge_base  # noqa: B018 - load now: a service without its FAQ must not start
    stop = asyncio.Event()
    _stop_on_signals(stop)
    children = None
    if worker_processes > 0:
        from bot.processes import WorkerProcesses, worker_command

        children = WorkerProcesses(worker_processes, worker_command(config_path, role="all"))
    http_runner = None
    channels: list[Channel] = build_channels(settings, helpline.channel_context())
    if settings.channels.console.enabled:
        channels.append(helpline.console)
    helpline.channels.update((channel.name, channel) for channel in channels)  # the desk fetches files through these
    started: list[Channel] = []
    try:
        workers = helpline.router_workers(settings.router.workers) if children is None else []
        workers += [helpline.channel_sender(channel) for channel in channels
                    if children is None or channel.name not in SENT_BY_WORKERS]  # else the children send them
        workers += [helpline.desk_worker(channel) for channel in channels if hasattr(channel, "show")]  # type: ignore[arg-type]
        if settings.http.enabled:
            routes = [route for channel in channels for route in channel.routes()]
            http_runner = await start_http_server(helpline, settings.http.host, settings.http.port, routes)
        for channel in channels:
            await channel.start()
            started.append(channel)
        log.info("Helpline serving: %s, channels %s, knowledge base %s (%d entries)",
                 f"{settings.router.workers} router workers" if children is None else
                 f"{worker_processes} worker processes of {settings.router.workers} router workers and the "
                 f"{'/'.join(sorted(SENT_BY_WORKERS))} senders each",
                 ", ".join(channel.name for channel in channels) or "none",
                 settings.faq.path, len(helpline.knowledge_base.current.entries))
        if ready is not None:
            ready.set()
        async with asyncio.TaskGroup() as group:
            group.create_task(keep_heap_frozen(lambda: helpline.knowledge_base.current, stop,
                                               settings.faq.reload_seconds))
            for worker in workers:
                group.create_task(worker.run(stop))
            if children is not None:
                group.create_task(children.run(stop))  # on stop: SIGTERM to each, wait for them
            watcher = group.create_task(helpline.knowledge_base.watch(settings.faq.reload_seconds))
            group.create_task(sweep_forever(helpline.redis, helpline.keys, settings.router.reopen_days, stop,
                                            config=helpline.router_config,
                                            retention_days=settings.retention.conversation_days))
            await stop.wait()
            log.info("stopping: no new input; finishing what is in flight")
            for channel in reversed(started):
                stop_receiving = getattr(channel, "stop_receiving", None)
                if stop_receiving is not None:
                    await stop_receiving()
            watcher.cancel()
    finally:
        # Only now, with the senders done: closing a channel while one of its sends is in flight would cut
        # the request off after the platform may have taken it, and the next sender would send it again.
        for channel in reversed(started):
            try:
                await channel.stop()
            except Exception:  # noqa: BLE001 - one channel failing to close must not keep the others open
                log.exception("channel %s did not stop cleanly", channel.name)
        if http_runner is not None:
            await http_runner.cleanup()
        await helpline.close()
        _forget_signals()
    log.info("Helpline stopped")
