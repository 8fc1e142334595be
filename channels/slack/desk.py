"""The agents' desk in Slack: DeskEvents become notices and thread posts; agents' clicks, thread
messages and `/helpline` commands become AgentActions.

Our own Redis mapping (keys under `slack:`) remembers where each case is shown:

| key | type | holds |
|---|---|---|
| `slack:case:<n>` | hash | channel, ts (the notice), team, agent, agent_name, status, summary (notice blocks) |
| `slack:case:<n>:msgs` | hash | customer platform id → ts of its copy in the thread (for edits) |
| `slack:thread:<channel>:<ts>` | string | the case whose notice thread this is |
| `slack:case:<n>:threads` | set | the case's thread keys (one per notice: a transfer posts another) |
| `slack:agent:<user>` | set | cases assigned to a Slack user (for `/helpline resolve` without a number) |
| `slack:shown:<event id>` | hash | steps of a DeskEvent already done, so a retry does not post twice |
|  |  | (`file<i>`: the event's i-th attachment copied or explained; `file<i>:tries`: fetches that failed) |
| `slack:teamchannel:<team>` | string | the queue channel's id, learned from what Slack answered |

A case's keys (`case:<n>`, its `msgs` and `threads`, its `thread:` keys) are kept while the case is not
closed, however long (an agent's message in the thread must reach an open case), and expire
`retention.conversation_days` after the desk showed its closing, when the router empties the case's
customer text too: the mapping holds the customer's name and first words (the notice's summary). A
reopening keeps them again. With a retention of 0 or null they are kept for good, like the conversations.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from channels.base import (
    ChannelContext,
    DeliveryError,
    PermanentDeliveryError,
    RetryAfter,
    RetryPolicy,
    TemporaryDeliveryError,
    send_with_retries,
)
from channels.slack import convert
from channels.slack.convert import Command, Interaction, SlackMessage, person
from channels.slack.replies import render_saved_reply
from router.messages import (
    ActionKind,
    AgentAction,
    Attachment,
    DeskEvent,
    DeskEventKind,
    new_id,
)
from router.sla import describe

log = logging.getLogger(__name__)

SHOWN_TTL_SECONDS = 14 * 86400
MEMBERS_CACHE_SECONDS = 60.0  # who may act on a team's cases: asked again after this
NAMES_CACHE_SECONDS = 3600.0
SUBMIT_TIMEOUT_SECONDS = 2.0  # Slack wants an answer within 3 s: acknowledge by then even if Redis is slow
EVENT_POLICY = RetryPolicy(attempts=3, first_delay=0.3, max_delay=2.0, max_retry_after=10.0)
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
FETCH_ATTEMPTS = 3  # a customer's file that cannot be fetched this often is explained in a line instead
FETCH_TIMEOUT_SECONDS = 120.0
DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _plain(text: str) -> str:
    """A status line as notification text: mentions as @id. Entities stay escaped: unescaped, a name
    like `&lt;!channel&gt;` would become a real `<!channel>` in the push notification."""
    return re.sub(r"<@(\w+)>", r"@\1", text)


class Api(Protocol):
    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a Web API method (slack-sdk method name); raise DeliveryError subclasses."""
        ...

    async def upload(self, url: str, data: bytes) -> None:
        """POST a file's bytes to an upload URL from files.getUploadURLExternal; raise DeliveryError subclasses."""
        ...


class TtlCache:
    """A small in-process cache: values are asked for again after `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._values: dict[str, tuple[float, Any]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        hit = self._values.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        value = await load()
        self._values[key] = (self.clock() + self.seconds, value)
        return value


class SlackDesk:
    """Shows DeskEvents in the teams' queue channels and turns what agents do there into actions."""

    def __init__(self, api: Api, context: ChannelContext, teams: Mapping[str, Mapping[str, Any]], *,
                 note_prefix: str = "note:", admin_channel: str | None = None,
                 saved_replies: Mapping[str, Mapping[str, str]] | None = None,
                 max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                 retention_days: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.context = context
        self.teams = {key: dict(value) for key, value in teams.items()}
        self.team_names = {key: str(value.get("name") or key) for key, value in teams.items()}
        self.note_prefix = note_prefix
        self.admin_channel = admin_channel
        self.saved_replies = dict(saved_replies or {})
        self.max_attachment_bytes = max_attachment_bytes
        # Seconds a closed case's keys are kept (see the module docstring); None: for good.
        self.closed_ttl = int(retention_days * 86400) if retention_days and retention_days > 0 else None
        self.clock = clock
        self.bot_user_id = ""
        self._members = TtlCache(MEMBERS_CACHE_SECONDS)
        self._names = TtlCache(NAMES_CACHE_SECONDS)
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[DeskEventKind, Callable[[DeskEvent], Awaitable[None]]] = {
            DeskEventKind.CASE_WAITING: self._on_waiting,
            DeskEventKind.CASE_TRANSFERRED: self._on_waiting,
            DeskEventKind.CASE_REOPENED: self._on_reopened,
            DeskEventKind.CASE_CLAIMED: self._on_claimed,
            DeskEventKind.CASE_RELEASED: self._on_released,
            DeskEventKind.CASE_RESOLVED: self._on_resolved,
            DeskEventKind.CASE_RATED: self._on_rated,
            DeskEventKind.CASE_CLOSED: self._on_closed,
            DeskEventKind.CUSTOMER_MESSAGE: self._on_customer_message,
            DeskEventKind.AGENT_MESSAGE: self._on_agent_message,
            DeskEventKind.BOT_MESSAGE: self._on_bot_message,
            DeskEventKind.NOTE: self._on_note,
            DeskEventKind.DELIVERY: self._on_delivery,
            DeskEventKind.SLA_WARNING: self._on_sla_warning,
        }

    def key(self, name: str) -> str:
        return self.context.key(f"slack:{name}")

    # == DeskEvent → Slack ===================================================================
    async def show(self, event: DeskEvent) -> None:
        """Post or update what agents see for `event`; safe to call again for the same event."""
        shown = self.key(f"shown:{event.id}")
        if await self.context.redis.hget(shown, "done"):
            return
        handler = self._handlers.get(event.kind)
        if handler is None:
            log.info("desk event %s of kind %s: nothing to show", event.id, event.kind)
        else:
            await handler(event)
        await self.context.redis.hset(shown, "done", "1")
        await self.context.redis.expire(shown, SHOWN_TTL_SECONDS)

    async def _step(self, event: DeskEvent, step: str, do: Callable[[], Awaitable[str]]) -> str:
        """Run one posting step of an event once; a retried event skips the steps already done."""
        shown = self.key(f"shown:{event.id}")
        done = await self.context.redis.hget(shown, step)
        if done is not None:
            return done
        result = await do()
        await self.context.redis.hset(shown, step, result or "1")
        await self.context.redis.expire(shown, SHOWN_TTL_SECONDS)
        return result

    async def mapping(self, case: int) -> dict[str, str]:
        return await self.context.redis.hgetall(self.key(f"case:{case}"))

    async def _save_mapping(self, case: int, **values: str) -> None:
        await self.context.redis.hset(self.key(f"case:{case}"), mapping=values)
        await self._keep(case)

    async def _keep(self, case: int) -> None:
        """The case's keys kept while it is not closed, expiring a retention after it closed."""
        key = self.key(f"case:{case}")
        threads = self.key(f"case:{case}:threads")
        async with self.context.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(key, ["status", "channel", "ts"])
            pipe.smembers(threads)
            (status, channel, ts), known = await pipe.execute()
        names = {key, threads, self.key(f"case:{case}:msgs"), *known}
        if channel and ts:  # stored before the `threads` set existed
            names.add(self.key(f"thread:{channel}:{ts}"))
        closed = status == "closed" and self.closed_ttl is not None
        async with self.context.redis.pipeline(transaction=False) as pipe:
            for name in sorted(names):
                if closed:
                    pipe.expire(name, self.closed_ttl)
                else:
                    pipe.persist(name)
            await pipe.execute()

    async def queue_channel(self, team: str) -> str:
        """The team's queue channel (an id when we know it); the admin channel when the team has none."""
        learned = await self.context.redis.get(self.key(f"teamchannel:{team}"))
        if learned:
            return learned
        configured = (self.teams.get(team) or {}).get("slack_channel") or self.admin_channel
        if not configured:
            raise PermanentDeliveryError(f"team {team!r} has no Slack queue channel (teams.{team}.slack_channel)")
        return str(configured)

    async def _post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
                    thread_ts: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"channel": channel, "text": text[:convert.MESSAGE_LIMIT] or " ",
                                  "unfurl_links": False, "unfurl_media": False}
        if blocks:
            params["blocks"] = blocks
        if thread_ts:
            params["thread_ts"] = thread_ts
        return await self.api.call("chat_postMessage", **params)

    async def _thread_post(self, event: DeskEvent, step: str, text: str) -> str:
        """A line in the case's thread (the notice is posted first if the case has none yet)."""
        where = await self._ensure_notice(event)

        async def post() -> str:
            answer = await self._post(where["channel"], text, thread_ts=where["ts"])
            return str(answer.get("ts", ""))

        return await self._step(event, step, post)

    async def _update_notice(self, case: int, status: str, claimable: bool) -> None:
        where = await self.mapping(case)
        if not where.get("ts"):
            return
        summary = json.loads(where.get("summary") or "[]")
        blocks = convert.notice_blocks(summary, case, where.get("team", ""), self.team_names, status, claimable)
        try:
            await self.api.call("chat_update", channel=where["channel"], ts=where["ts"], blocks=blocks,
                                text=f"Case #{case}: {_plain(status)}")
        except PermanentDeliveryError as error:
            # A notice someone deleted must not stop the thread from working.
            log.warning("case #%s: notice not updated: %s", case, error.reason)

    async def _ensure_notice(self, event: DeskEvent) -> dict[str, str]:
        where = await self.mapping(event.case)
        if where.get("ts"):
            return where
        return await self._post_notice(event, "notice")

    async def _post_notice(self, event: DeskEvent, step: str, status: str = "",
                           claimable: bool = True) -> dict[str, str]:
        team = event.team
        channel = await self.queue_channel(team)
        summary = convert.case_summary(event, self.clock(), self.team_names)
        blocks = convert.notice_blocks(summary, event.case, team, self.team_names, status, claimable)

        async def post() -> str:
            # `text` is what push notifications show: the customer's name escaped like everywhere else.
            answer = await self._post(channel, f"Case #{event.case} is waiting: "
                                      f"{convert.escape(event.customer_name or 'a customer')}", blocks)
            return json.dumps({"channel": answer.get("channel") or channel, "ts": answer.get("ts", "")})

        posted = json.loads(await self._step(event, step, post))
        if posted["channel"] and _CHANNEL_ID.match(posted["channel"]):
            await self.context.redis.set(self.key(f"teamchannel:{team}"), posted["channel"])
        thread = self.key(f"thread:{posted['channel']}:{posted['ts']}")
        await self.context.redis.set(thread, event.case)
        await self.context.redis.sadd(self.key(f"case:{event.case}:threads"), thread)
        await self._save_mapping(event.case, channel=posted["channel"], ts=posted["ts"], team=team,
                                 status="queued", agent="", agent_name="", summary=json.dumps(summary),
                                 customer=event.customer_name, language=event.language)
        return await self.mapping(event.case)

    async def _on_waiting(self, event: DeskEvent) -> None:
        old = await self.mapping(event.case)
        if event.kind is DeskEventKind.CASE_TRANSFERRED and old.get("ts"):
            status = (f"Transferred to {convert.escape(self.team_names.get(event.team, event.team))} "
                      f"by {person(event.agent, event.agent_name)}")
            await self._thread_post(event, "moved", f"➡️ {status}. The conversation continues in the new thread.")
            await self._update_notice(event.case, status, claimable=False)
            await self._forget_agent(event.case, old.get("agent", ""))
        where = await self._post_notice(event, "notice")
        await self._copy_files(event, where)

    async def _on_sla_warning(self, event: DeskEvent) -> None:
        # A new message in the queue channel, not a thread line: the on-call group must be pinged.
        team = self.teams.get(event.team) or {}
        target = team.get("first_response_minutes")
        text, blocks = convert.sla_warning_blocks(event, team.get("oncall_usergroup"),
                                                  float(target) if target else None)
        channel = await self.queue_channel(event.team)

        async def post() -> str:
            answer = await self._post(channel, text, blocks)
            return str(answer.get("ts", ""))

        await self._step(event, "sla", post)

    async def _on_reopened(self, event: DeskEvent) -> None:
        if not event.agent:
            await self._on_waiting(event)
            return
        where = await self._ensure_notice(event)
        await self._thread_post(event, "reopened", f"🔁 The customer wrote again: case reopened, back with "
                                                   f"{person(event.agent, event.agent_name)}.")
        await self._copy_files(event, where)
        await self._assign(event, where)

    async def _assign(self, event: DeskEvent, where: Mapping[str, str]) -> None:
        await self._save_mapping(event.case, agent=event.agent, agent_name=event.agent_name, status="assigned",
                                 team=event.team or where.get("team", ""))
        await self.context.redis.sadd(self.key(f"agent:{event.agent}"), event.case)
        await self._update_notice(event.case, f"Claimed by {person(event.agent, event.agent_name)}", claimable=False)

        async def controls() -> str:
            blocks = convert.thread_controls(event.case, event.team or where.get("team", ""), self.team_names,
                                             event.agent, event.agent_name)
            answer = await self._post(where["channel"], f"Case #{event.case}: Resolve, Release or Transfer", blocks,
                                      thread_ts=where["ts"])
            return str(answer.get("ts", ""))

        await self._step(event, "controls", controls)

    async def _forget_agent(self, case: int, agent: str) -> None:
        if agent:
            await self.context.redis.srem(self.key(f"agent:{agent}"), case)

    async def _on_claimed(self, event: DeskEvent) -> None:
        where = await self._ensure_notice(event)
        await self._assign(event, where)

    async def _on_released(self, event: DeskEvent) -> None:
        old = await self._ensure_notice(event)
        await self._thread_post(event, "line", f"↩️ Released by {person(event.agent, event.agent_name)}: "
                                               "the case is waiting in the queue again.")
        await self._save_mapping(event.case, agent="", agent_name="", status="queued")
        await self._forget_agent(event.case, old.get("agent", "") or event.agent)
        await self._update_notice(event.case, f"Released by {person(event.agent, event.agent_name)}; waiting again",
                                  claimable=True)

    async def _on_resolved(self, event: DeskEvent) -> None:
        old = await self._ensure_notice(event)
        who = person(event.agent, event.agent_name) if event.agent or event.agent_name else "an admin"
        await self._thread_post(event, "line", f"✅ Resolved by {who}. The customer was asked to rate the help.")
        await self._save_mapping(event.case, agent="", agent_name="", status="resolved")
        await self._forget_agent(event.case, old.get("agent", "") or event.agent)
        await self._update_notice(event.case, f"Resolved by {who}", claimable=False)

    async def _on_rated(self, event: DeskEvent) -> None:
        # A rating closes the case (router/lifecycle.py; a late one comes after it closed): no CASE_CLOSED follows.
        if not (await self.mapping(event.case)).get("ts"):
            # A late rating of a case whose keys went with the retention: no new "waiting" notice for it.
            log.info("case #%s: rated, but its thread is no longer known; nothing shown", event.case)
            return
        await self._thread_post(event, "line", f"⭐ The customer rated the help {event.csat}/5.")
        await self._update_notice(event.case, f"Resolved · rated {event.csat}/5", claimable=False)
        await self._save_mapping(event.case, status="closed")

    async def _on_closed(self, event: DeskEvent) -> None:
        await self._thread_post(event, "line", "Case closed.")
        await self._save_mapping(event.case, status="closed")

    async def _on_bot_message(self, event: DeskEvent) -> None:
        # What the bot already told the customer, so the agent who claims the case doesn't repeat it.
        for index, line in enumerate(convert.thread_texts("🤖 _answered from the FAQ:_ ", event.text)):
            await self._thread_post(event, f"bot{index}", line)

    async def _on_customer_message(self, event: DeskEvent) -> None:
        where = await self._ensure_notice(event)
        name = convert.escape(event.customer_name or where.get("customer") or "Customer")
        # Channels may mark an edit in the text too ("(edited) ..."); the desk says it once, in its label.
        text = event.text.removeprefix("(edited) ") if event.reply_to else event.text
        messages = self.key(f"case:{event.case}:msgs")
        earlier = await self.context.redis.hget(messages, event.reply_to) if event.reply_to else None
        if earlier:
            async def update() -> str:
                body = f"*{name}* (edited): {convert.split_escaped(text, convert.MESSAGE_LIMIT - 200)[0]}"
                await self.api.call("chat_update", channel=where["channel"], ts=earlier, text=body)
                return earlier

            ts = await self._step(event, "edit", update)
        elif text.strip() or not event.attachments:  # files alone are shown by the files below
            label = f"*{name}* (edited): " if event.reply_to else f"*{name}:* "
            ts = ""
            for index, line in enumerate(convert.thread_texts(label, text)):
                posted = await self._thread_post(event, f"message{index}", line)
                ts = ts or posted
        else:
            ts = ""
        if event.platform_id and ts:
            await self.context.redis.hset(messages, event.platform_id, ts)
            await self._keep(event.case)
        await self._copy_files(event, where, name)

    # == the customer's files =================================================================
    async def _copy_files(self, event: DeskEvent, where: Mapping[str, str], who: str = "") -> None:
        """Each of the event's files uploaded into the case thread, or a line saying what was sent and why
        it is not there; once per event and file, also when the event is shown again."""
        who = who or convert.escape(event.customer_name or where.get("customer") or "The customer")
        for index, attachment in enumerate(event.attachments):
            await self._step(event, f"file{index}", functools.partial(self._copy_file, event, where, who, index,
                                                                      attachment))

    async def _copy_file(self, event: DeskEvent, where: Mapping[str, str], who: str, index: int,
                         attachment: Attachment) -> str:
        what = convert.describe_file(attachment)
        limit_mb = f"{self.max_attachment_bytes / (1024 * 1024):g} MB"
        if attachment.size > self.max_attachment_bytes:
            return await self._file_line(where, f"📎 {who} sent {what} — too large to copy here (over {limit_mb})")
        try:
            data = await self._fetch(event, index, attachment)
        except PermanentDeliveryError as error:
            return await self._file_line(where, f"📎 {who} sent {what} — could not be fetched: "
                                                f"{convert.escape(error.reason)}")
        if len(data) > self.max_attachment_bytes:  # its size was not known before
            shown = convert.describe_file(Attachment(attachment.name, attachment.media_type, len(data)))
            return await self._file_line(where, f"📎 {who} sent {shown} — too large to copy here (over {limit_mb})")
        try:
            return await self._upload(where, f"📎 {who} sent:", attachment, data)
        except PermanentDeliveryError as error:
            log.warning("case #%s: %s not uploaded: %s", event.case, attachment.name, error.reason)
            return await self._file_line(where, f"📎 {who} sent {what} — could not be copied here: "
                                                f"{convert.escape(error.reason)}")

    async def _fetch(self, event: DeskEvent, index: int, attachment: Attachment) -> bytes:
        """The file's bytes from the customer's channel; PermanentDeliveryError when they will not come."""
        fetch = self.context.fetch_attachment
        if fetch is None:
            raise PermanentDeliveryError("this desk cannot fetch files")
        try:
            data = await asyncio.wait_for(fetch(event.channel, attachment), FETCH_TIMEOUT_SECONDS)
        except (RetryAfter, TemporaryDeliveryError, TimeoutError, OSError) as error:
            # The event is shown again later; after a few failures the agents get the line, not silence.
            tries = await self.context.redis.hincrby(self.key(f"shown:{event.id}"), f"file{index}:tries", 1)
            if tries >= FETCH_ATTEMPTS:
                raise PermanentDeliveryError(f"{error or type(error).__name__} ({tries} tries)") from None
            raise
        if data is None:
            raise PermanentDeliveryError(f"the {event.channel or 'customer'} channel does not provide its files")
        return data

    async def _upload(self, where: Mapping[str, str], comment: str, attachment: Attachment, data: bytes) -> str:
        """Slack's upload flow: an upload URL, the bytes POSTed to it, then the file shared in the thread."""
        name = attachment.name or "file"
        ticket = await self.api.call("files_getUploadURLExternal", filename=name, length=len(data))
        url, file_id = str(ticket.get("upload_url") or ""), str(ticket.get("file_id") or "")
        if not url or not file_id:
            raise PermanentDeliveryError("files.getUploadURLExternal gave no upload_url")
        await self.api.upload(url, data)
        await self.api.call("files_completeUploadExternal", files=[{"id": file_id, "title": name}],
                            channel_id=where["channel"], thread_ts=where["ts"], initial_comment=comment)
        return file_id

    async def _file_line(self, where: Mapping[str, str], text: str) -> str:
        answer = await self._post(where["channel"], text, thread_ts=where["ts"])
        return str(answer.get("ts", ""))

    async def _on_agent_message(self, event: DeskEvent) -> None:
        if event.ref:
            return  # the agent wrote it in the thread: it is there already
        who = person(event.agent, event.agent_name) if event.agent or event.agent_name else "An agent"
        for index, line in enumerate(convert.thread_texts(f"↪️ {who} (sent to the customer): ", event.text)):
            await self._thread_post(event, f"line{index}", line)

    async def _on_note(self, event: DeskEvent) -> None:
        if event.ref:
            return
        who = person(event.agent, event.agent_name)
        for index, line in enumerate(convert.thread_texts(f"📝 Note by {who}: ", event.text)):
            await self._thread_post(event, f"line{index}", line)

    async def _on_delivery(self, event: DeskEvent) -> None:
        where = await self.mapping(event.case)
        if not where.get("ts"):
            log.info("case #%s: delivery report for a case this desk never showed", event.case)
            return
        if event.delivered:
            if not event.ref:
                return
            try:
                await self.api.call("reactions_add", channel=where["channel"], timestamp=event.ref,
                                    name="white_check_mark")
            except PermanentDeliveryError as error:
                if "already_reacted" not in error.reason:
                    log.warning("case #%s: delivery mark not added: %s", event.case, error.reason)
            return
        reason = convert.escape(event.reason or "unknown reason")
        await self._thread_post(event, "warning", f"⚠️ not delivered: {reason}")

    # == who may act =========================================================================
    async def may_act(self, user: str, team: str) -> bool:
        """Members of the team's queue channel, or its configured users and user groups."""
        config = self.teams.get(team) or {}
        if user in (config.get("slack_users") or ()):
            return True
        for group in config.get("slack_usergroups") or ():
            if user in await self._members.get(f"group:{group}", functools.partial(self._group_members, group)):
                return True
        channel = await self.queue_channel_id(team)
        if channel:
            members = await self._members.get(f"channel:{channel}", lambda: self._channel_members(channel))
            if user in members:
                return True
        return False

    async def _is_any_agent(self, user: str) -> bool:
        return any([await self.may_act(user, team) for team in self.teams])

    async def queue_channel_id(self, team: str) -> str:
        learned = await self.context.redis.get(self.key(f"teamchannel:{team}"))
        if learned:
            return learned
        configured = str((self.teams.get(team) or {}).get("slack_channel") or "")
        return configured if _CHANNEL_ID.match(configured) else ""

    async def _channel_members(self, channel: str) -> frozenset[str]:
        members: set[str] = set()
        cursor = ""
        for _ in range(50):  # 50 pages of 1000: more members than any queue channel has
            try:
                answer = await self.api.call("conversations_members", channel=channel, limit=1000,
                                             **({"cursor": cursor} if cursor else {}))
            except DeliveryError as error:
                log.warning("members of %s unknown (%s): nobody is let in through that channel", channel, error)
                return frozenset()
            members.update(str(member) for member in answer.get("members") or ())
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return frozenset(members)

    async def _group_members(self, group: str) -> frozenset[str]:
        try:
            answer = await self.api.call("usergroups_users_list", usergroup=group)
        except DeliveryError as error:
            log.warning("members of user group %s unknown (%s)", group, error)
            return frozenset()
        return frozenset(str(user) for user in answer.get("users") or ())

    async def user_name(self, user: str) -> str:
        """A Slack user's display name (cached); the id when Slack does not say."""
        async def load() -> str:
            try:
                answer = await asyncio.wait_for(self.api.call("users_info", user=user), timeout=1.5)
            except (DeliveryError, asyncio.TimeoutError, OSError) as error:
                log.info("name of %s unknown: %s", user, error)
                return ""
            info = answer.get("user") or {}
            profile = info.get("profile") or {}
            return str(profile.get("display_name") or profile.get("real_name") or info.get("real_name")
                       or info.get("name") or "")

        name = await self._names.get(user, load)
        return name or user

    # == what agents do ======================================================================
    async def case_of_thread(self, channel: str, thread_ts: str) -> int | None:
        if not thread_ts:
            return None
        value = await self.context.redis.get(self.key(f"thread:{channel}:{thread_ts}"))
        return int(value) if value and value.isdigit() else None

    async def is_queue_channel(self, channel: str) -> bool:
        for team in self.teams:
            if channel in (await self.queue_channel_id(team), (self.teams[team].get("slack_channel") or "")):
                return True
        return False

    async def team_of(self, case: int) -> str | None:
        team = (await self.mapping(case)).get("team")
        if team:
            return team
        details = await self._case_details(case)
        return str(details["team"]) if details and details.get("team") else None

    async def _case_details(self, case: int) -> dict[str, Any] | None:
        if self.context.desk is None:
            return None
        return await self.context.desk.case(case)

    async def on_thread_message(self, message: SlackMessage, case: int) -> None:
        """An agent wrote in a case thread: the assigned agent's words go to the customer, the rest are notes."""
        if message.original_ts:
            log.info("case #%s: an edit in the thread is not relayed (%s)", case, message.ts)
            return
        team = await self.team_of(case)
        if team is None or not await self.may_act(message.user, team):
            await self.ephemeral(message.channel, message.user, f"You are not in {self._team_label(team)}'s "
                                 f"queue: your message in case #{case} was not relayed.", message.thread_ts)
            return
        names = {user: await self.user_name(user) for user in convert.mentioned_users(message.text)}
        text = convert.render_markup(message.text, names)
        for attachment in message.files:
            text += f"\n[attachment: {attachment.name}]"
        note = text.lstrip().casefold().startswith(self.note_prefix.casefold()) if self.note_prefix else False
        if note:
            text = text.lstrip()[len(self.note_prefix):].strip()
        kind = ActionKind.NOTE if note or not await self._is_assigned(case, message.user) else ActionKind.REPLY
        await self.submit(AgentAction(id=new_id(), kind=kind, case=case, agent=message.user,
                                      agent_name=await self.user_name(message.user), text=text, ref=message.ts,
                                      at=self.clock()), message.channel, message.user, message.thread_ts)

    async def _is_assigned(self, case: int, user: str) -> bool:
        where = await self.mapping(case)
        if where.get("agent"):
            return where["agent"] == user
        # The claim may be decided but not shown yet: ask the core.
        details = await self._case_details(case)
        return bool(details and details.get("status") == "assigned"
                    and details.get("agent") in (user, await self.user_name(user)))

    def _team_label(self, team: str | None) -> str:
        return self.team_names.get(team or "", team or "this team")

    async def on_desk_button(self, interaction: Interaction, choice: convert.DeskChoice) -> None:
        team = await self.team_of(choice.case)
        if team is None:
            await self.ephemeral(interaction.channel, interaction.user, f"Case #{choice.case} is unknown.",
                                 interaction.thread_ts)
            return
        if not await self.may_act(interaction.user, team):
            await self.ephemeral(interaction.channel, interaction.user,
                                 f"Only {self._team_label(team)}'s agents can act on case #{choice.case}.",
                                 interaction.thread_ts)
            return
        name = await self.user_name(interaction.user)
        await self.submit(AgentAction(id=new_id(), kind=choice.kind, case=choice.case, agent=interaction.user,
                                      agent_name=name, team=choice.team, at=self.clock()),
                          interaction.channel, interaction.user, interaction.thread_ts)

    async def submit(self, action: AgentAction, channel: str, user: str, thread_ts: str = "",
                     announce: bool = False) -> None:
        """Hand the action to the core and return once it is (almost surely) in the inbox; the verdict is
        awaited in the background and a refusal is shown to the agent only."""
        if self.context.desk is None:
            raise RuntimeError("the Slack desk runs without a desk backend")
        submitted = asyncio.Event()
        task = asyncio.create_task(self._act_and_report(action, channel, user, thread_ts, announce, submitted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # Return (so the caller acknowledges Slack) once the action is in the inbox, or the attempt failed.
        waiter = asyncio.create_task(submitted.wait())
        await asyncio.wait({task, waiter}, timeout=SUBMIT_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    async def _act_and_report(self, action: AgentAction, channel: str, user: str, thread_ts: str,
                              announce: bool, submitted: asyncio.Event) -> None:
        assert self.context.desk is not None
        try:
            result = await self.context.desk.act(action, submitted=submitted)
        except Exception as error:  # noqa: BLE001 - the agent must hear that it failed, whatever failed
            log.exception("case #%s: %s by %s failed", action.case, action.kind.value, user)
            await self.ephemeral(channel, user, f"⚠️ {action.kind.value} of case #{action.case} failed: "
                                 f"{convert.escape(str(error))}",
                                 thread_ts)
            return
        if not result.ok:
            await self.ephemeral(channel, user, f"⚠️ {convert.escape(result.message)}", thread_ts)
        elif announce:
            await self.ephemeral(channel, user, convert.escape(result.message), thread_ts)

    async def ephemeral(self, channel: str, user: str, text: str, thread_ts: str = "") -> None:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            params["thread_ts"] = thread_ts
        outcome = await send_with_retries(lambda: self.api.call("chat_postEphemeral", **params), EVENT_POLICY,
                                          what=f"ephemeral to {user}")
        if not outcome.delivered:
            log.warning("could not tell %s: %s (%s)", user, text, outcome.reason)

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait for the verdicts still awaited in the background."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # == /helpline ===========================================================================
    async def on_command(self, command: Command, user: str, channel: str) -> str:
        """Run a `/helpline` command; the returned text is shown to the caller only."""
        handler = {"queue": self._cmd_queue, "case": self._cmd_case, "claim": self._cmd_action,
                   "resolve": self._cmd_action, "release": self._cmd_action, "transfer": self._cmd_action,
                   "reply": self._cmd_reply, "away": self._cmd_status, "back": self._cmd_status}.get(command.verb)
        if handler is None:
            return convert.HELP
        return await handler(command, user, channel)

    async def _cmd_queue(self, command: Command, user: str, channel: str) -> str:
        assert self.context.desk is not None
        # Customers share the workspace: only a team's agents see its queue (names, channels, waits).
        visible = [team for team in self.teams if await self.may_act(user, team)]
        wanted = command.args[0] if command.args else None
        if not visible or (wanted is not None and wanted not in visible):
            log.info("/helpline queue refused to %s: not an agent of %s", user, wanted or "any team")
            return "Only a team's agents can see its queue."
        listing = await self.context.desk.queue(wanted)
        lines = []
        for team, cases in listing.items():
            if team not in visible:
                continue
            lines.append(f"*{convert.escape(self._team_label(team))}*: {len(cases) or 'no'} waiting")
            for item in cases[:20]:
                lines.append(f"  #{item.get('case')} · {convert.escape(str(item.get('customer') or '?'))} · "
                             f"{convert.escape(str(item.get('channel')))} · "
                             f"{convert.escape(str(item.get('language')))} · waiting "
                             f"{convert.duration(float(item.get('waiting_seconds') or 0))}"
                             + (f" · {sla}" if (sla := describe(item.get("sla"), convert.duration)) else ""))
        return "\n".join(lines) or "No teams."

    async def _cmd_case(self, command: Command, user: str, channel: str) -> str:
        number = command.number()
        if number is None:
            return "Which case? `/helpline case 1042`"
        # Case numbers are sequential: whether one exists is not said to someone outside its team either.
        refusal = f"Only the agents of case #{number}'s team can see it."
        details = await self._case_details(number)
        if details is None:
            return f"There is no case #{number}." if await self._is_any_agent(user) else refusal
        if not await self.may_act(user, str(details.get("team") or "")):
            log.info("/helpline case %s refused to %s: not an agent of team %s", number, user, details.get("team"))
            return refusal
        where = await self.mapping(number)
        lines = [f"*Case #{number}* · {details.get('status')} · team {convert.escape(str(details.get('team')))} · "
                 f"agent {convert.escape(str(details.get('agent') or '-'))} · "
                 f"{convert.escape(str(details.get('customer') or '?'))} on "
                 f"{convert.escape(str(details.get('channel')))}"]
        if where.get("ts"):
            lines.append(f"Thread: https://slack.com/archives/{where['channel']}/p{where['ts'].replace('.', '')}")
        for line in (details.get("transcript") or [])[-8:]:
            lines.append(f"> *{line.get('role')}:* {convert.escape(str(line.get('text', '')))[:300]}")
        return "\n".join(lines)

    async def _own_case(self, command: Command, index: int, user: str) -> int | None:
        number = command.number(index)
        if number is not None:
            return number
        cases = await self.context.redis.smembers(self.key(f"agent:{user}"))
        return int(next(iter(cases))) if len(cases) == 1 else None

    async def _cmd_action(self, command: Command, user: str, channel: str) -> str:
        kind = ActionKind(command.verb)
        team = None
        if kind is ActionKind.TRANSFER:
            if not command.args:
                return f"To which team? `/helpline transfer TEAM [case]`; teams: {', '.join(self.teams)}"
            team = command.args[0]
            number = await self._own_case(command, 1, user)
        else:
            number = await self._own_case(command, 0, user)
        if number is None:
            return f"Which case? `/helpline {command.verb} 1042`"
        case_team = await self.team_of(number)
        if case_team is None:
            return f"There is no case #{number}."
        if not await self.may_act(user, case_team):
            return f"Only {self._team_label(case_team)}'s agents can act on case #{number}."
        await self.submit(AgentAction(id=new_id(), kind=kind, case=number, agent=user,
                                      agent_name=await self.user_name(user), team=team, at=self.clock()),
                          channel, user, announce=True)
        return f"{command.verb} case #{number}: sent."

    async def _cmd_reply(self, command: Command, user: str, channel: str) -> str:
        if not command.args or command.args[0].lower() not in self.saved_replies:
            return f"Saved replies: {', '.join(sorted(self.saved_replies)) or 'none'}. `/helpline reply NAME [case]`"
        number = await self._own_case(command, 1, user)
        if number is None:
            return "Which case? `/helpline reply NAME 1042`"
        details = await self._case_details(number)
        where = await self.mapping(number)
        if details is None or not where.get("ts"):
            return f"Case #{number} is not shown on this desk."
        if not await self.may_act(user, str(details.get("team") or where.get("team"))):
            return f"Only {self._team_label(where.get('team'))}'s agents can act on case #{number}."
        name = await self.user_name(user)
        text = render_saved_reply(self.saved_replies[command.args[0].lower()], str(details.get("language") or ""),
                                  customer_name=details.get("customer") or "", agent_name=name, case=number)
        # Shown in the thread first, so the delivery mark has a message to sit on.
        posted = await self._post(where["channel"], f"↪️ {person(user, name)} (saved reply "
                                  f"`{convert.escape(command.args[0])}`): {convert.escape(text)}",
                                  thread_ts=where["ts"])
        await self.submit(AgentAction(id=new_id(), kind=ActionKind.REPLY, case=number, agent=user, agent_name=name,
                                      text=text, ref=str(posted.get("ts", "")), at=self.clock()),
                          channel, user, where["ts"])
        return f"Saved reply {command.args[0]} sent to case #{number}."

    async def _cmd_status(self, command: Command, user: str, channel: str) -> str:
        assert self.context.desk is not None
        status = "away" if command.verb == "away" else "available"
        await self.context.desk.set_agent_status(user, await self.user_name(user), status)
        return "You are away: reopened cases go to the queue." if status == "away" else "Welcome back."
