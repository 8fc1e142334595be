"""What every channel shares: the lifecycle, typed delivery errors, and sending with retries.

A channel turns platform payloads into `InboundMessage`s and hands them to `ChannelContext.submit`
(which returns only once the message is in `hl:inbox`: acknowledge the platform after that, never
before). It sends `OutboundMessage`s in `deliver`, raising the typed errors below; the service wraps
`deliver` in `send_with_retries`, so a channel never writes its own retry loop.

A channel whose customers send files may also offer `fetch_attachment` (see `FetchesAttachments`);
the service passes it to every channel as `ChannelContext.fetch_attachment`, so a desk can copy a
customer's file from the channel it came from.

A channel that fetches from its platform runs its receiving inside `ReceiveLoop` (back-off, a sleep
that ends on stop, health for /healthz, an admin alert after `alert_after` seconds down), so every
channel reports and alerts the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiohttp import web

from router.messages import (
    AgentAction,
    Attachment,
    DeskEvent,
    InboundMessage,
    OutboundMessage,
)

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Sending failed; subclasses say whether trying again can help."""


class RetryAfter(DeliveryError):
    """The platform asked us to wait (HTTP 429 and the like) before sending again."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"rate limited: retry after {seconds:g}s")
        self.seconds = max(0.0, float(seconds))


class TemporaryDeliveryError(DeliveryError):
    """A 5xx, a timeout, a dropped connection: worth another try."""


class PermanentDeliveryError(DeliveryError):
    """The platform refused for good (bad address, blocked by the user, 4xx): do not retry."""

    def __init__(self, reason: str, *, close_conversation: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # e.g. Telegram's "bot was blocked by the user": the channel to this customer is gone.
        self.close_conversation = close_conversation


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to give up: after `attempts` tries, or once `retry_for` seconds have passed (whichever is set
    and comes first). The outbox senders use `retry_for` (`channels.<x>.retry_for`, default one hour)."""

    attempts: int | None = 6
    first_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0  # a longer wait than this is treated as a failure, not slept through
    retry_for: float | None = None  # seconds from the first try after which a temporary failure is final


@dataclass(frozen=True, slots=True)
class SendOutcome:
    delivered: bool
    attempts: int
    reason: str = ""
    close_conversation: bool = False
    platform_id: str = ""  # the platform's id of what was sent, when it gives one


async def send_with_retries(send: Callable[[], Awaitable[Any]], policy: RetryPolicy = RetryPolicy(),
                            sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                            what: str = "message", clock: Callable[[], float] = time.monotonic) -> SendOutcome:
    """Call `send` until it succeeds, honouring RetryAfter and backing off on temporary errors.

    Gives up after `policy.attempts` tries or `policy.retry_for` seconds; the last wait is cut short so
    that the final try happens at the deadline, not after it.
    """
    delay = policy.first_delay
    deadline = None if policy.retry_for is None else clock() + policy.retry_for
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await send()
        except PermanentDeliveryError as error:
            log.warning("%s not delivered (permanent): %s", what, error.reason)
            return SendOutcome(False, attempt, error.reason, error.close_conversation)
        except RetryAfter as error:
            if error.seconds > policy.max_retry_after:
                return SendOutcome(False, attempt, f"rate limited for {error.seconds:g}s")
            wait, told_to_wait = error.seconds, True
            reason = str(error)
        except (TemporaryDeliveryError, asyncio.TimeoutError, OSError) as error:
            wait = delay * (0.5 + random.random())  # jitter: many senders must not retry in step
            delay = min(delay * 2, policy.max_delay)
            told_to_wait = False
            reason = f"{type(error).__name__}: {error}"
        else:
            return SendOutcome(True, attempt, platform_id=str(result) if isinstance(result, (str, int)) else "")
        if policy.attempts is not None and attempt >= policy.attempts:
            return SendOutcome(False, attempt, f"gave up after {attempt} tries: {reason}")
        if deadline is not None:
            left = deadline - clock()
            if left <= 0:
                return SendOutcome(False, attempt, f"gave up after {attempt} tries: {reason}")
            if told_to_wait and wait > left:  # the platform will refuse until after our deadline
                return SendOutcome(False, attempt, f"gave up: {reason}, beyond the {policy.retry_for:g}s to retry for")
            wait = min(wait, left)
        log.info("%s: try %d failed (%s); next try in %.1fs", what, attempt, reason, wait)
        await sleep(wait)


Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str


class DeskBackend(Protocol):
    """What an agents' desk (Slack) may ask of the core, without reaching into its keys."""

    async def act(self, action: AgentAction, timeout: float = 10.0,
                  submitted: asyncio.Event | None = None) -> ActionResult:
        """Submit an agent action through the inbox and wait for the router's verdict.

        `submitted` is set as soon as the action is in the inbox, so a caller can acknowledge the
        platform then and leave the verdict to a background task.
        """
        ...

    async def queue(self, team: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Waiting cases per team, first served first (the JSON of `helpline queue --json`)."""
        ...

    async def case(self, number: int) -> dict[str, Any] | None:
        """A case with its transcript (the JSON of `helpline case show --json`), or None."""
        ...

    async def set_agent_status(self, agent: str, name: str, status: str) -> None:
        """Mark an agent `available` or `away` (away agents get no reopened cases)."""
        ...


AttachmentFetcher = Callable[[str, Attachment], Awaitable[bytes | None]]


@dataclass
class ChannelContext:
    """What the service gives a channel."""

    submit: Callable[[InboundMessage], Awaitable[None]]  # returns once the message is in the inbox
    redis: Any  # redis.asyncio.Redis, for a channel's own cursors and dedupe marks
    key: Callable[[str], str]  # the configured prefix applied to a channel's own key names
    desk: DeskBackend | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # channel name, attachment → its bytes, or None when that channel cannot fetch it; raises
    # DeliveryError subclasses like `deliver` (a PermanentDeliveryError's reason says why not).
    fetch_attachment: AttachmentFetcher | None = None
    # Tell the admins something is wrong (or fine again), e.g. in the Slack desk's admin channel.
    # Never raises; with no desk it only logs.
    alert: Callable[[str], Awaitable[None]] | None = None


class Channel(Protocol):
    """A customer channel. `start` begins receiving; `stop` stops receiving, finishes in-flight work and
    closes its connections. Optional: `async def stop_receiving(self) -> None`, which stops only the
    receiving, so that the service can stop input first and close a channel once its senders are done.

    Optional: `async def fetch_attachment(self, attachment: Attachment) -> bytes | None` (the
    `FetchesAttachments` protocol), for channels that can fetch a customer's file again by its `ref`.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, message: OutboundMessage) -> str | None:
        """Send one message; returns the platform's id for it (or None); raises DeliveryError subclasses."""
        ...

    def routes(self) -> list[Route]:
        """HTTP routes (webhooks) to serve on the service's HTTP port; [] when none."""
        ...


class ReportsHealth(Protocol):
    """The optional part of a channel that knows whether its platform is reachable (shown on /healthz)."""

    def health(self) -> dict[str, Any]:
        """At least {"status": "ok" | "connecting" | "unreachable"}, plus whatever helps an operator."""
        ...


class AlertsAdmins(Protocol):
    """The optional part of a desk channel that can tell the admins (its admin channel)."""

    async def alert(self, text: str) -> None: ...


class FetchesAttachments(Protocol):
    """The optional part of a channel that can fetch a customer's file again."""

    async def fetch_attachment(self, attachment: Attachment) -> bytes | None:
        """The file's bytes, or None when this channel cannot fetch it (no ref kept, for example).

        Raises DeliveryError subclasses: RetryAfter or TemporaryDeliveryError when trying again can
        help, PermanentDeliveryError (its reason shown to agents) when it cannot, e.g. over a size limit.
        """
        ...


def attachment_fetcher(channels: Callable[[], Mapping[str, Any]]) -> AttachmentFetcher:
    """A `ChannelContext.fetch_attachment` that asks the channel named in each call, looked up when called
    (so it can be made before the channels it reaches)."""

    async def fetch(channel: str, attachment: Attachment) -> bytes | None:
        fetcher = getattr(channels().get(channel), "fetch_attachment", None)
        return None if fetcher is None else await fetcher(attachment)

    return fetch


class Desk(Channel, Protocol):
    """A channel that is also the agents' desk: it is shown every DeskEvent, in order per case."""

    async def show(self, event: DeskEvent) -> None:
        """Post or update what agents see; raise DeliveryError subclasses like `deliver`."""
        ...


# --- receiving: one supervised loop for every channel ------------------------------------------------------
#
# Every channel that fetches from its platform (Telegram long polling, IMAP, Slack Socket Mode) runs its
# receiving through `ReceiveLoop`, so they all back off the same way, stop promptly, report the same
# health on /healthz and tell the admins the same way when their platform has been gone too long.

HealthStatus = Literal["connecting", "ok", "unreachable"]


@dataclass(frozen=True, slots=True)
class Supervision:
    """How a receive loop retries a platform that fails, and when it tells the admins."""

    first_delay: float = 1.0  # after the first failure; doubled (with jitter) up to max_delay
    max_delay: float = 60.0
    alert_after: float = 300.0  # down this long: health says "unreachable", the admins are alerted


@dataclass(frozen=True, slots=True)
class Watched:
    """What the admins read about a platform: its name in a sentence, and what an outage means."""

    subject: str  # "The Telegram Bot API at api.telegram.org"
    while_down: str  # "Telegram messages are not being received; ..."
    on_recovery: str  # "receiving again."
    unreachable_event: str = "channel_unreachable"  # the types of the hl:events entries written
    recovered_event: str = "channel_recovered"


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, returning early (True) as soon as `stop` is set."""
    if stop.is_set():
        return True
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    return stop.is_set()


class ReceiveLoop:
    """Runs a channel's receiving session again and again until stopped, and keeps its health.

    A session returning normally is a healthy round (Telegram: one getUpdates and its updates);
    a long-lived session (IMAP: connect, then read until stopped) calls `up()` once connected. A
    session raising is a failure: logged, backed off (a RetryAfter's wait is honoured exactly),
    and once the platform has been down `alert_after` seconds, an hl:events entry and one admin
    alert; another when it is back.
    """

    def __init__(self, channel: str, context: ChannelContext, watched: Watched, supervision: Supervision,
                 stop: asyncio.Event, expected: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError),
                 describe: Callable[[BaseException], str] | None = None) -> None:
        self.channel = channel
        self.context = context
        self.watched = watched
        self.supervision = supervision
        self.stop = stop
        self.expected = expected  # failures of the platform: one log line; anything else is logged with its traceback
        self._describe = describe or (lambda error: f"{type(error).__name__}: {error}")
        self.connected = False
        self.last_ok: float | None = None
        self.down_since: float | None = None
        self.last_error = ""
        self.failures = 0  # in a row
        self.reported_down = False

    # --- what channels call ------------------------------------------------------------------------------

    async def run(self, session: Callable[[], Awaitable[None]]) -> None:
        """Run `session` until `stop` is set; never raises but CancelledError."""
        delay = self.supervision.first_delay
        while not self.stop.is_set():
            try:
                await session()
            except RetryAfter as error:
                await self._failed(error)
                wait = error.seconds
            except Exception as error:  # noqa: BLE001 - whatever breaks a session, receiving goes on
                await self._failed(error)
                wait = delay * (0.5 + random.random())  # jitter: many processes must not reconnect in step
                delay = min(delay * 2, self.supervision.max_delay)
            else:
                await self.up()
                delay = self.supervision.first_delay
                continue
            await self._pause(wait)
        self.connected = False

    async def up(self) -> None:
        """The platform answered: healthy again (and the admins told, when they were told it was down)."""
        self.connected = True
        self.last_ok = time.time()
        self.failures = 0
        if self.down_since is None:
            return
        down_for = time.time() - self.down_since
        if self.reported_down:
            log.warning("%s: %s reachable again after %.0fs", self.channel, self.watched.subject, down_for)
            await self._record(self.watched.recovered_event, down_seconds=f"{down_for:.0f}")
            await self._alert(f"✅ {self.watched.subject} is reachable again; {self.watched.on_recovery}")
        self.down_since = None
        self.reported_down = False
        self.last_error = ""

    def health(self) -> dict[str, Any]:
        """The channel's /healthz entry: status ("ok", "connecting", "unreachable"), since when, why."""
        now = time.time()
        status: HealthStatus = "ok" if self.connected else ("unreachable" if self.reported_down else "connecting")
        return {"channel": self.channel, "status": status, "connected": self.connected, "last_ok": self.last_ok,
                "down_since": self.down_since, "down_seconds": (now - self.down_since) if self.down_since else 0.0,
                "last_error": self.last_error, "failures": self.failures}

    # --- inside --------------------------------------------------------------------------------------------

    async def _failed(self, error: BaseException) -> None:
        self.connected = False
        self.failures += 1
        self.last_error = self._describe(error)[:500]
        if self.down_since is None:
            self.down_since = time.time()
        if isinstance(error, self.expected + (RetryAfter,)):
            # The first failure of an outage is worth a warning; the retries that follow are not.
            log.log(logging.WARNING if self.failures == 1 else logging.INFO, "%s: %s: %s (try %d)",
                    self.channel, self.watched.subject, self.last_error, self.failures)
        else:
            log.error("%s: receiving failed unexpectedly (try %d): %s", self.channel, self.failures, self.last_error,
                      exc_info=(type(error), error, error.__traceback__))
        await self._report_if_down_too_long()

    async def _pause(self, seconds: float) -> None:
        """Wait before the next try, stopping early on `stop`, and alerting on time even mid-wait."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            alert_in = self._seconds_until_alert()
            if await sleep_unless_stopped(self.stop, min(left, alert_in) if alert_in is not None else left):
                return
            await self._report_if_down_too_long()

    def _seconds_until_alert(self) -> float | None:
        if self.down_since is None or self.reported_down:
            return None
        return max(0.0, self.down_since + self.supervision.alert_after - time.time())

    async def _report_if_down_too_long(self) -> None:
        if self.reported_down or self.down_since is None:
            return
        down_for = time.time() - self.down_since
        if down_for < self.supervision.alert_after:
            return
        self.reported_down = True
        log.error("%s: %s unreachable for %.0fs: %s", self.channel, self.watched.subject, down_for, self.last_error)
        await self._record(self.watched.unreachable_event, since=f"{self.down_since:.3f}", error=self.last_error)
        await self._alert(f"⚠️ {self.watched.subject} has been unreachable for {down_for:.0f}s: "
                          f"{self.last_error[:300]}. {self.watched.while_down}")

    async def _record(self, kind: str, **fields: str) -> None:
        try:
            await self.context.redis.xadd(self.context.key("events"), {
                "type": kind, "channel": self.channel, "at": f"{time.time():.3f}", **fields},
                maxlen=100_000, approximate=True)
        except Exception as error:  # noqa: BLE001 - Redis may be down as well; the log line stays
            log.warning("%s: could not record %s: %s: %s", self.channel, kind, type(error).__name__, error)

    async def _alert(self, text: str) -> None:
        if self.context.alert is None:
            return
        try:
            await self.context.alert(text)
        except Exception:  # noqa: BLE001 - an alert that cannot be posted must not stop receiving
            log.exception("%s: could not alert the admins", self.channel)
