"""Pure conversions at Slack's edge: payloads to decisions and core messages, text both ways, Block Kit.

Nothing here does I/O, so everything here can be fed arbitrary input by property tests: a payload
we do not understand becomes `Skip(reason)`, never an exception.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.messages import (
    ActionKind,
    Attachment,
    DeskEvent,
    DeskEventKind,
    HistoryLine,
    InboundMessage,
    QuickReply,
    Sender,
    new_id,
)

CHANNEL = "slack"
MESSAGE_LIMIT = 40_000  # characters of `text` in one message
# A customer's message is cut to this before the inbox (Slack allows 40,000 characters); the router
# then still finds it longer than router.max_message_chars and tells the customer it was shortened.
MAX_INBOUND_TEXT_CHARS = 16_000
MAX_NAME_CHARS = 200
SECTION_LIMIT = 3_000  # characters of text in one section block
MAX_SECTIONS = 12  # section blocks per message (Slack allows 50 blocks; room left for buttons)
OPTION_TEXT_LIMIT = 75  # button and select option labels
VALUE_LIMIT = 2_000  # button values
MAX_BUTTONS = 25  # elements of one actions block

# action_id of every element we post; a button's value names the case (or the customer's option).
CLAIM = "hl_claim"
TRANSFER = "hl_transfer"
RESOLVE = "hl_resolve"
RELEASE = "hl_release"
OPTION = "hl_option"
DESK_ACTIONS = {CLAIM: ActionKind.CLAIM, TRANSFER: ActionKind.TRANSFER, RESOLVE: ActionKind.RESOLVE,
                RELEASE: ActionKind.RELEASE}

_CHANNEL_LABELS = {"email": "email", "telegram": "Telegram", "slack": "Slack", "console": "console"}
_ROLE_LABELS = {"bot": "Bot", "agent": "Agent", "note": "Note", "system": "System"}
_MESSAGE_SUBTYPES = {None, "", "file_share", "thread_broadcast", "me_message"}
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# == text ====================================================================================

def escape(text: str) -> str:
    """Customer text for Slack: `&`, `<`, `>` as entities, so it cannot ping @channel or add links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a line break or a space where one is near."""
    return _split(text, limit, escaped=False)


def split_escaped(text: str, limit: int) -> list[str]:
    """`text` escaped, in pieces of at most `limit` characters; an entity is never cut in two."""
    if limit < 5:
        raise ValueError("limit must leave room for an entity")
    return _split(escape(text), limit, escaped=True)


def _split(text: str, limit: int, escaped: bool) -> list[str]:
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit
            if escaped:
                entity = text.rfind("&", max(0, cut - 4), cut)
                if entity > 0 and ";" not in text[entity:cut]:
                    cut = entity  # every `&` in escaped text starts an entity: keep it whole
        pieces.append(text[:cut])
        text = text[cut:]
        if text[:1] in ("\n", " "):
            text = text[1:]  # the separator we cut at
    if text or not pieces:
        pieces.append(text)
    return pieces


_ANGLE = re.compile(r"<([^<>\n]*)>")
_EMPHASIS = [re.compile(rf"(?<![\w{mark}])\{mark}(?=\S)([^{mark}\n]*?\S)\{mark}(?![\w{mark}])") for mark in "*_~"]
_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BULLET = re.compile(r"^([ \t]*)[•◦▪︎‣] ?", re.MULTILINE)


def mentioned_users(text: str) -> list[str]:
    """User ids mentioned as `<@U123>` without a name, whose names a renderer needs."""
    found = []
    for match in _ANGLE.finditer(text):
        target, _, label = match.group(1).partition("|")
        if target.startswith("@") and not label and target[1:] not in found:
            found.append(target[1:])
    return found


def render_markup(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack mrkdwn from an agent as plain text for other channels: links, mentions, emphasis, lists."""
    names = names or {}
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"\x00{len(kept) - 1}\x00"

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return keep("@" + (label.lstrip("@") or names.get(target[1:]) or target[1:]))
        if target.startswith("#"):
            return keep("#" + (label or target[1:]))
        if target.startswith("!subteam^"):
            return keep(label or "@team")
        if target.startswith("!date^"):
            return keep(label or "")
        if target.startswith("!"):
            return keep("@" + target[1:])
        if target.startswith("mailto:"):
            return keep(label or target[len("mailto:"):])
        if label and label != target:
            return keep(f"{label} ({target})")
        return keep(target)

    text = _CODE_BLOCK.sub(lambda match: keep(match.group(1)), text)
    text = _INLINE_CODE.sub(lambda match: keep(match.group(1)), text)
    text = _ANGLE.sub(token, text)
    for pattern in _EMPHASIS:
        text = pattern.sub(r"\1", text)
    text = _BULLET.sub(r"\1- ", text)
    text = re.sub("\x00(\\d+)\x00", lambda match: kept[int(match.group(1))], text)
    return unescape(text)


def strip_mention(text: str, user_id: str) -> str:
    """An app mention's text without the mention of the app itself."""
    if not user_id:
        return text.strip()
    return re.sub(rf"<@{re.escape(user_id)}(\|[^>]*)?>", "", text).strip()


def file_size(size: int) -> str:
    """A file size as people read it: 512 bytes, 240 KB, 25.3 MB."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{round(size / 1024)} KB"
    return f"{size} bytes"


def describe_file(attachment: Attachment) -> str:
    """A customer's file in a line for agents, escaped: `photo.jpg (image/jpeg, 25.3 MB)`."""
    details = [attachment.media_type] + ([file_size(attachment.size)] if attachment.size else [])
    return escape(f"{attachment.name or 'file'} ({', '.join(details)})")


def duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def person(agent: str, name: str) -> str:
    """An agent as Slack shows them: a mention for a Slack user id, else the escaped name."""
    if _SLACK_USER_ID.match(agent or ""):
        return f"<@{agent}>"
    return escape(name or agent or "someone")


# == events ==================================================================================

@dataclass(frozen=True, slots=True)
class Skip:
    """A payload we accept and leave alone; `reason` goes to the log."""

    reason: str


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A human's message event, reduced to what Helpline uses."""

    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str = ""
    channel_type: str = ""
    mention: bool = False  # an app_mention event
    original_ts: str = ""  # for an edit: the ts of the message that was edited
    edited_ts: str = ""
    files: tuple[Attachment, ...] = ()

    @property
    def is_direct(self) -> bool:
        return self.channel_type == "im" or self.channel.startswith("D")

    @property
    def platform_id(self) -> str:
        if self.original_ts:
            return f"{self.channel}:{self.original_ts}:edit:{self.edited_ts}"
        return f"{self.channel}:{self.ts}"


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) else ""


def _dict(mapping: Any, key: str) -> dict[str, Any]:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, dict) else {}


def event_id(body: Any) -> str:
    return _text(body, "event_id")


def event_type(body: Any) -> str:
    return _text(_dict(body, "event"), "type") or _text(body, "type") or "unknown"


def is_own(event: Mapping[str, Any], bot_user_id: str = "", bot_id: str = "") -> bool:
    """The echo guard: a bot (ourselves included) wrote this; never relay it."""
    if event.get("bot_id") or event.get("subtype") == "bot_message" or event.get("bot_profile"):
        return True
    user = event.get("user")
    return bool(user) and user in (bot_user_id, bot_id)


def message_of(body: Any, bot_user_id: str = "", bot_id: str = "") -> SlackMessage | Skip:
    """The human message in an Events API body, or why there is none we act on."""
    if not isinstance(body, dict) or body.get("type") != "event_callback":
        return Skip(f"not an event callback ({_text(body, 'type') or type(body).__name__})")
    event = _dict(body, "event")
    kind = _text(event, "type")
    if kind not in ("message", "app_mention"):
        return Skip(f"{kind or 'untyped'} event: not used")
    subtype = event.get("subtype")
    original_ts = edited_ts = ""
    if subtype == "message_changed":
        changed, previous = _dict(event, "message"), _dict(event, "previous_message")
        if is_own(changed, bot_user_id, bot_id):
            return Skip("an edit of a bot's message")
        if _text(changed, "text") == _text(previous, "text") and changed.get("files") == previous.get("files"):
            return Skip("message changed without a text change (an unfurl or a reaction)")
        original_ts = _text(changed, "ts")
        edited_ts = _text(_dict(changed, "edited"), "ts") or _text(event, "ts")
        thread_ts = _text(changed, "thread_ts")
        source = {**changed, "channel": _text(event, "channel"), "channel_type": _text(event, "channel_type")}
    elif subtype in _MESSAGE_SUBTYPES or not isinstance(subtype, str):
        if subtype not in _MESSAGE_SUBTYPES:
            return Skip("message with an odd subtype")
        source = event
        thread_ts = _text(event, "thread_ts")
    else:
        return Skip(f"message subtype {subtype}: not used")
    if is_own(source, bot_user_id, bot_id) or is_own(event, bot_user_id, bot_id):
        return Skip("our own or another bot's message")
    channel, user, ts = _text(source, "channel"), _text(source, "user"), _text(source, "ts")
    if not (channel and user and ts):
        return Skip("message without channel, user or ts")
    if thread_ts == ts:
        thread_ts = ts if kind == "app_mention" else ""  # the thread's own root is not "in" the thread
    return SlackMessage(channel=channel, user=user, text=_text(source, "text"), ts=ts, thread_ts=thread_ts,
                        channel_type=_text(source, "channel_type"), mention=kind == "app_mention",
                        original_ts=original_ts, edited_ts=edited_ts, files=_files(source.get("files")))


def _files(raw: Any) -> tuple[Attachment, ...]:
    if not isinstance(raw, list):
        return ()
    files = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        size = item.get("size")
        files.append(Attachment(
            name=_text(item, "name") or _text(item, "title") or "file",
            media_type=_text(item, "mimetype") or "application/octet-stream",
            size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
            ref=_text(item, "url_private") or _text(item, "id")))
    return tuple(files)


def customer_address(message: SlackMessage, customer_channels: Sequence[str], known_thread: bool = False) -> str | None:
    """The conversation address of a customer's message, or None when it is not one.

    A direct message is one conversation per DM channel; in a customer channel a mention of the app
    starts a conversation in its thread, and later messages in a thread we know continue it.
    """
    if message.is_direct:
        return f"{message.channel}:"
    if message.channel not in customer_channels:
        return None
    if message.mention:
        return f"{message.channel}:{message.thread_ts or message.original_ts or message.ts}"
    if message.thread_ts and known_thread:
        return f"{message.channel}:{message.thread_ts}"
    return None


def inbound_message(message: SlackMessage, address: str, sender_name: str, text: str,
                    now: float | None = None) -> InboundMessage:
    """The core message for a customer's Slack message (text already rendered as plain text)."""
    return InboundMessage(
        id=new_id(now), channel=CHANNEL, address=address,
        sender=Sender(id=message.user, name=(sender_name or message.user)[:MAX_NAME_CHARS]),
        text=text[:MAX_INBOUND_TEXT_CHARS],
        attachments=message.files, platform_id=message.platform_id,
        received_at=time.time() if now is None else now,
        reply_to=f"{message.channel}:{message.original_ts}" if message.original_ts else None)


# == interactions ============================================================================

@dataclass(frozen=True, slots=True)
class Interaction:
    """A button press or select choice in a message we posted."""

    user: str
    user_name: str
    channel: str
    message_ts: str
    thread_ts: str
    action_id: str
    value: str
    label: str = ""


def interaction_of(payload: Any) -> Interaction | Skip:
    """The first action of a block_actions payload, or why we leave the payload alone."""
    if not isinstance(payload, dict):
        return Skip(f"interaction is a {type(payload).__name__}")
    kind = _text(payload, "type") or "untyped"
    if kind != "block_actions":
        return Skip(f"{kind} interaction: not used")
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    user = _dict(payload, "user")
    container = _dict(payload, "container")
    message = _dict(payload, "message")
    channel = _text(_dict(payload, "channel"), "id") or _text(container, "channel_id")
    option = _dict(action, "selected_option")
    value = _text(action, "value") or _text(option, "value")
    label = _text(_dict(action, "text"), "text") or _text(_dict(option, "text"), "text")
    if not (_text(user, "id") and channel and _text(action, "action_id")):
        return Skip("block action without user, channel or action id")
    return Interaction(user=_text(user, "id"), user_name=_text(user, "name") or _text(user, "username"),
                       channel=channel, message_ts=_text(container, "message_ts") or _text(message, "ts"),
                       thread_ts=_text(message, "thread_ts") or _text(container, "thread_ts"),
                       action_id=_text(action, "action_id"), value=value, label=label)


@dataclass(frozen=True, slots=True)
class DeskChoice:
    """A desk button: what to do to which case."""

    kind: ActionKind
    case: int
    team: str | None = None


def desk_choice(interaction: Interaction) -> DeskChoice | Skip:
    kind = DESK_ACTIONS.get(interaction.action_id)
    if kind is None:
        return Skip(f"action {interaction.action_id!r} is not ours")
    number, _, team = interaction.value.partition(":")
    if not number.isdigit() or len(number) > 12:
        return Skip(f"action {interaction.action_id} without a case number")
    if kind is ActionKind.TRANSFER and not team:
        return Skip("transfer without a team")
    return DeskChoice(kind, int(number), team or None)


def option_message(interaction: Interaction, sender_name: str = "", now: float | None = None) -> InboundMessage:
    """A customer's button press: an inbound message with the option's value and no text."""
    thread = "" if interaction.channel.startswith("D") else interaction.thread_ts
    return InboundMessage(
        id=new_id(now), channel=CHANNEL, address=f"{interaction.channel}:{thread}",
        sender=Sender(id=interaction.user, name=sender_name or interaction.user_name or interaction.user),
        option=interaction.value, platform_id=f"{interaction.channel}:{interaction.message_ts}:option:{interaction.user}",
        received_at=time.time() if now is None else now)


# == slash commands ==========================================================================

@dataclass(frozen=True, slots=True)
class Command:
    verb: str
    args: tuple[str, ...] = ()

    def number(self, index: int = 0) -> int | None:
        """The argument at `index` as a case number (`1042` or `#1042`), if it is one."""
        if index >= len(self.args):
            return None
        value = self.args[index].lstrip("#")
        return int(value) if value.isdigit() and len(value) <= 12 else None


def parse_command(text: Any) -> Command:
    words = text.split() if isinstance(text, str) else []
    if not words:
        return Command("help")
    return Command(words[0].lower(), tuple(words[1:]))


HELP = ("`/helpline queue` waiting cases · `/helpline case N` a case · `/helpline claim N` · "
        "`/helpline resolve [N]` · `/helpline transfer TEAM [N]` · `/helpline reply NAME [N]` a saved reply · "
        "`/helpline away` / `back`")


# == Block Kit ===============================================================================

def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT] or " "}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT] or " "}]}


def _label(text: str) -> str:
    text = " ".join(text.split()) or "?"
    return text if len(text) <= OPTION_TEXT_LIMIT else text[:OPTION_TEXT_LIMIT - 1] + "…"


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": _label(label), "emoji": True},
                              "action_id": action_id, "value": value[:VALUE_LIMIT]}
    if style:
        button["style"] = style
    return button


def _transfer_select(case: int, teams: Mapping[str, str], current: str) -> dict[str, Any] | None:
    options = [{"text": {"type": "plain_text", "text": _label(name)}, "value": f"{case}:{key}"}
               for key, name in teams.items() if key != current][:100]
    if not options:
        return None
    return {"type": "static_select", "action_id": TRANSFER,
            "placeholder": {"type": "plain_text", "text": "Transfer ▾"}, "options": options}


def case_summary(event: DeskEvent, now: float, teams: Mapping[str, str]) -> list[dict[str, Any]]:
    """The body of a case notice: who, where from, how long, and the exchange so far."""
    waited = duration(now - event.queued_at) if event.queued_at else "just now"
    facts = [f"*Case #{event.case}*", escape(event.customer_name or "a customer"),
             _CHANNEL_LABELS.get(event.channel, escape(event.channel or "?")), escape(event.language or "?"),
             f"waiting {waited}"]
    head = " · ".join(facts)
    if event.kind is DeskEventKind.CASE_TRANSFERRED and event.from_team:
        head += (f"\nTransferred from {escape(teams.get(event.from_team, event.from_team))}"
                 f" by {person(event.agent, event.agent_name)}")
    if event.kind is DeskEventKind.CASE_REOPENED:
        head += "\nReopened by the customer"
    blocks = [_section(head)]
    lines = [_history_line(line, event.customer_name) for line in event.history]
    for piece in _packed(lines, SECTION_LIMIT, MAX_SECTIONS - 2):
        blocks.append(_section(piece))
    return blocks


def _history_line(line: HistoryLine, customer: str) -> str:
    who = escape(customer or "Customer") if line.role == "customer" else _ROLE_LABELS.get(line.role, escape(line.role))
    return f"*{who}:* {escape(line.text)}"


def _packed(lines: list[str], limit: int, max_pieces: int) -> list[str]:
    """Lines joined into at most `max_pieces` pieces of `limit` characters; the newest lines win."""
    pieces: list[str] = []
    current = ""
    for line in reversed(lines):
        if len(line) > limit:
            line = line[:limit - 1] + "…"
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = ""
            if len(pieces) == max_pieces:
                break
        current = f"{line}\n{current}" if current else line
    else:
        if current:
            pieces.append(current)
    if len(pieces) == max_pieces and len(lines) > sum(piece.count("\n") + 1 for piece in pieces):
        pieces[-1] = "_(earlier messages left out)_\n" + pieces[-1][:limit - 40]
    return list(reversed(pieces))


def notice_blocks(summary: Sequence[dict[str, Any]], case: int, team: str, teams: Mapping[str, str],
                  status: str = "", claimable: bool = True) -> list[dict[str, Any]]:
    """A case notice: the summary, a status line, and Claim / Transfer while the case waits."""
    blocks = list(summary)
    if status:
        blocks.append(_context(status))
    if claimable:
        elements: list[dict[str, Any]] = [_button("Claim", CLAIM, str(case), "primary")]
        select = _transfer_select(case, teams, team)
        if select:
            elements.append(select)
        blocks.append({"type": "actions", "block_id": f"hl_notice_{case}", "elements": elements})
    return blocks


_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{6,}$")


def sla_warning_blocks(event: DeskEvent, usergroup: str | None, target_minutes: float | None
                       ) -> tuple[str, list[dict[str, Any]]]:
    """The re-announcement of a case near its first-response target: text (with the on-call mention) and a Claim button."""
    mention = f"<!subteam^{usergroup}> " if usergroup and _USERGROUP_ID.match(usergroup) else ""
    target = f" (target: {target_minutes:g} min)" if target_minutes else ""
    text = (f"⏰ {mention}Case #{event.case} from {escape(event.customer_name or 'a customer')} has waited "
            f"{duration(event.waited)} for a first response{target}.")
    return text, [_section(text), {"type": "actions", "block_id": f"hl_sla_{event.case}",
                                   "elements": [_button("Claim", CLAIM, str(event.case), "primary")]}]


def thread_controls(case: int, team: str, teams: Mapping[str, str], agent: str, agent_name: str) -> list[dict[str, Any]]:
    """The buttons under a claimed case's thread: Resolve, Release, Transfer."""
    elements: list[dict[str, Any]] = [_button("Resolve", RESOLVE, str(case), "primary"),
                                      _button("Release", RELEASE, str(case))]
    select = _transfer_select(case, teams, team)
    if select:
        elements.append(select)
    return [_section(f"{person(agent, agent_name)} is talking with the customer. Messages here are relayed; "
                     "start with `note:` to keep one internal."),
            {"type": "actions", "block_id": f"hl_controls_{case}", "elements": elements}]


def message_payloads(text: str, options: Sequence[QuickReply] = ()) -> list[dict[str, Any]]:
    """A bot or agent message to a customer as Slack messages: escaped text in sections, options as buttons."""
    payloads = []
    messages = split_escaped(text, MESSAGE_LIMIT)
    for index, message in enumerate(messages):
        sections = _split(message, SECTION_LIMIT, escaped=True)  # never cut an entity in two
        blocks: list[dict[str, Any]] = [_section(piece) for piece in sections if piece.strip()]
        if index == len(messages) - 1 and options:
            buttons = [_button(option.label, OPTION, option.value) for option in options[:MAX_BUTTONS]]
            blocks.append({"type": "actions", "elements": buttons})
        payload: dict[str, Any] = {"text": message or " "}
        if blocks and len(blocks) <= 50:
            payload["blocks"] = blocks
        payloads.append(payload)
    return payloads


def thread_texts(prefix: str, text: str) -> Iterator[str]:
    """A line for an agents' thread (`prefix` is already Slack markup), the text escaped and split."""
    pieces = split_escaped(text, MESSAGE_LIMIT - len(prefix) - 20)
    for index, piece in enumerate(pieces):
        yield (prefix if index == 0 else "(continued) ") + piece
