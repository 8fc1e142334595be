"""The conversation and case state machine (see router/states.md).

`Router.handle(entry_id, fields)` applies one inbox entry: a customer message or an agent action.
It decides on what it reads under WATCH and writes every effect in one transaction, so it can run
in any number of workers at once and a redelivered entry changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from redis.asyncio import Redis
from redis.exceptions import WatchError

from faq import Decision, KnowledgeBase, detect_language
from router.agent_actions import HANDLERS, ActionRefused
from router.intents import Intents, choice_in, rating_in
from router.keys import Keys
from router.messages import (
    AgentAction,
    Attachment,
    DeliveryReport,
    DeskEvent,
    DeskEventKind,
    InboundMessage,
    OutboundMessage,
    PayloadError,
    QuickReply,
    from_json,
)
from router.sanitize import clean_text
from router.store import (
    HIGH_PRIORITY,
    NORMAL_PRIORITY,
    Case,
    CaseStatus,
    Conversation,
    Transaction,
)
from router.texts import Texts

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50  # WATCH conflicts under heavy contention; each retry re-reads and re-decides
SEEN_TTL_SECONDS = 14 * 24 * 3600
_COMMANDS = ("/start", "/help", "/case")


@dataclass(frozen=True, slots=True)
class RouterConfig:
    languages: tuple[str, ...]
    default_team: str
    teams: Mapping[str, str]  # team key → name shown to customers
    answer_at: float = 0.82
    suggest_at: float = 0.65
    reopen_days: float = 7.0
    relay_template: str = "$agent_name: $message"
    max_message_chars: int = 4000
    desk: bool = False  # an agents' desk (Slack) reads hl:outbox:desk


class Router:
    def __init__(self, redis: Redis, keys: Keys, knowledge_base: Callable[[], KnowledgeBase], texts: Texts,
                 config: RouterConfig, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.keys = keys
        self.knowledge_base = knowledge_base
        self.texts = texts
        self.config = config
        self.clock = clock
        self.intents = Intents(texts.words("handoff_words"), texts.words("yes_words"), texts.words("no_words"))

    async def handle(self, entry_id: str, fields: Mapping[str, str]) -> None:
        """Apply one inbox entry; raises PayloadError for an entry that is not a valid message."""
        kind, data = fields.get("kind"), fields.get("data")
        if data is None:
            raise PayloadError(f"inbox entry {entry_id}: no data field")
        if kind == "message":
            message = from_json(InboundMessage, data)
            await self._transact(entry_id, lambda tx: self._on_message(tx, message))
        elif kind == "action":
            action = from_json(AgentAction, data)
            await self._transact(entry_id, lambda tx: self._on_action(tx, action))
        elif kind == "delivery":
            report = from_json(DeliveryReport, data)
            await self._transact(entry_id, lambda tx: self._on_delivery(tx, report))
        else:
            raise PayloadError(f"inbox entry {entry_id}: unknown kind {kind!r}")

    async def _transact(self, entry_id: str, decide: Callable[[Transaction], object]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for _attempt in range(MAX_ATTEMPTS):
                tx = Transaction(pipe, self.keys, entry_id, self.clock())
                try:
                    if await tx.already_done():
                        await pipe.reset()
                        return
                    await decide(tx)  # type: ignore[misc]
                    await tx.commit()
                    return
                except WatchError:
                    continue  # someone changed what we read: read again and decide again
            raise RuntimeError(f"inbox entry {entry_id}: gave up after {MAX_ATTEMPTS} conflicting attempts")

    # == customer messages ===================================================================
    async def _on_message(self, tx: Transaction, message: InboundMessage) -> None:
        if message.platform_id:
            seen_key = self.keys.seen(message.channel, message.platform_id)
            await tx.watch(seen_key)
            first_seen_as = await tx.pipe.get(seen_key)
            if first_seen_as and first_seen_as != message.id:
                log.info("duplicate delivery of %s %s ignored", message.channel, message.platform_id)
                return
            tx.set(seen_key, message.id, ex=SEEN_TTL_SECONDS)

        text, shortened = clean_text(message.text, self.config.max_message_chars)
        conversation = await self._conversation_for(tx, message, text)
        tx.log(conversation.id, "customer", text, sender=message.sender.name, option=message.option,
               attachments=", ".join(a.name for a in message.attachments))
        tx.event("message_in", conversation=conversation.id, channel=message.channel, case=conversation.case,
                 language=conversation.language, chars=len(message.text))
        if shortened:
            self.say(tx, conversation, "too_long")

        if not text and not message.attachments and not message.option:
            self.say(tx, conversation, "empty_message")  # nothing to answer, nothing for an agent to read
            return
        case = await tx.case(conversation.case) if conversation.case else None
        command = text.split(maxsplit=1)[0].casefold() if text.startswith("/") else ""
        if command in _COMMANDS:
            await self._command(tx, conversation, case, command)
            return
        if case is not None:
            if case.status in CaseStatus.OPEN:
                await self._while_case_open(tx, conversation, case, message, text)
                return
            if case.status == CaseStatus.RESOLVED:
                if await self._after_resolution(tx, conversation, case, message, text):
                    return
                conversation = replace(conversation, case=None, pending={})
            else:  # closed elsewhere: the conversation starts afresh
                conversation = replace(conversation, case=None, pending={})
        await self._bot_turn(tx, conversation, message, text)

    async def _command(self, tx: Transaction, conversation: Conversation, case: Case | None, command: str) -> None:
        """/start, /help and /case work in every state, on every channel."""
        tx.event("command", conversation=conversation.id, command=command)
        if command == "/start":
            self.say(tx, conversation, "greeting")
        elif command == "/help":
            self.say(tx, conversation, "help")
        elif case is None or case.status not in CaseStatus.OPEN:
            self.say(tx, conversation, "case_status_none")
        elif case.status == CaseStatus.QUEUED:
            position = await tx.queue_position(case.team, case.queue_score())
            self.say(tx, conversation, "case_status_queued", case=case.number, position=position)
        else:
            self.say(tx, conversation, "case_status_assigned", case=case.number, agent_name=case.agent_name)

    async def _conversation_for(self, tx: Transaction, message: InboundMessage, text: str) -> Conversation:
        address_key = self.keys.address(message.channel, message.address)
        await tx.watch(address_key)
        conversation_id = await tx.pipe.get(address_key)
        conversation = await tx.conversation(conversation_id) if conversation_id else None
        hint = (conversation.language if conversation else None) or message.language_hint
        language = (detect_language(text, hint, self.config.languages, self.knowledge_base().language_profile)
                    if text else (hint or self.config.languages[0]))
        if language not in self.config.languages:
            language = self.config.languages[0]
        if conversation is None:
            conversation = Conversation(
                id=message.id, channel=message.channel, address=message.address, customer_id=message.sender.id,
                customer_name=message.sender.name, language=language, created_at=tx.now, updated_at=tx.now)
            tx.set(address_key, conversation.id)
            tx.event("conversation_started", conversation=conversation.id, channel=message.channel, language=language)
        else:
            conversation = replace(conversation, language=language, updated_at=tx.now,
                                   customer_name=message.sender.name or conversation.customer_name)
        tx.save_conversation(conversation)
        return conversation

    async def _while_case_open(self, tx: Transaction, conversation: Conversation, case: Case,
                               message: InboundMessage, text: str) -> None:
        # A person is on it (or will be): the bot stays quiet, the message is on the case transcript.
        if case.status == CaseStatus.QUEUED and not case.acknowledged:
            position = await tx.queue_position(case.team, case.queue_score())
            self.say(tx, conversation, "still_queued", case=case.number, position=position)
            tx.save_case(case.with_changes(acknowledged=1))
        tx.event("case_message", conversation=conversation.id, case=case.number, status=case.status, agent=case.agent)
        self.tell_desk(tx, DeskEventKind.CUSTOMER_MESSAGE, case, text=text, attachments=message.attachments,
                   platform_id=message.platform_id, reply_to=message.reply_to)

    async def _after_resolution(self, tx: Transaction, conversation: Conversation, case: Case,
                                message: InboundMessage, text: str) -> bool:
        """Rating or reopening; False when the case is too old and the bot should take over."""
        rating = _rating_option(message.option) or rating_in(text)
        if rating is not None:
            closed = case.with_changes(status=CaseStatus.CLOSED, csat=rating, closed_at=tx.now)
            tx.save_case(closed)
            tx.awaiting_rating(closed, False)
            tx.save_conversation(replace(conversation, case=None, pending={}))
            tx.event("case_rated", case=case.number, conversation=conversation.id, csat=rating, agent=case.last_agent)
            tx.event("case_closed", case=case.number, conversation=conversation.id, why="rated")
            self.tell_desk(tx, DeskEventKind.CASE_RATED, closed, csat=rating)
            self.say(tx, conversation, "rating_thanks")
            return True
        if not message.option and self.intents.yes_or_no(text) is True:
            # "thanks!" after a resolution is a goodbye, not a new problem: no reopening.
            tx.event("case_thanked", case=case.number, conversation=conversation.id)
            self.say(tx, conversation, "glad_to_help")
            return True
        if tx.now - case.resolved_at > self.config.reopen_days * 86400:
            closed = case.with_changes(status=CaseStatus.CLOSED, closed_at=tx.now)
            tx.save_case(closed)
            tx.awaiting_rating(closed, False)
            tx.event("case_closed", case=case.number, conversation=conversation.id, why="expired")
            self.tell_desk(tx, DeskEventKind.CASE_CLOSED, closed)
            return False
        await self.reopen(tx, conversation, case, by="customer", attachments=message.attachments)
        return True

    async def reopen(self, tx: Transaction, conversation: Conversation, case: Case, by: str,
                     attachments: tuple[Attachment, ...] = ()) -> Case:
        """Back to its last agent when they are available, else into the team's queue."""
        last_agent_status = ""
        if case.last_agent:
            agent_key = self.keys.agent(case.last_agent)
            await tx.watch(agent_key)
            last_agent_status = await tx.pipe.hget(agent_key, "status") or "available"
        common = dict(resolved_at=0.0, reopened=case.reopened + 1, csat=0, acknowledged=0)
        if case.last_agent and last_agent_status != "away":
            reopened = case.with_changes(status=CaseStatus.ASSIGNED, agent=case.last_agent,
                                         agent_name=case.last_agent_name, **common)
            tx.agent_open_cases(case.last_agent, +1)
        else:
            reopened = case.with_changes(status=CaseStatus.QUEUED, agent="", agent_name="", queued_at=tx.now,
                                         priority=HIGH_PRIORITY, **common)
            tx.enqueue(reopened)
        tx.save_case(reopened)
        tx.awaiting_rating(reopened, False)
        tx.save_conversation(replace(conversation, case=case.number, pending={}))
        tx.event("case_reopened", case=case.number, conversation=conversation.id, by=by, agent=reopened.agent,
                 team=reopened.team)
        self.say(tx, conversation, "reopened", case=case.number)
        # The files of the message that reopened it travel with the notice: the history has only their names.
        self.tell_desk(tx, DeskEventKind.CASE_REOPENED, reopened, history=await tx.history(conversation.id),
                       attachments=attachments)
        return reopened

    async def _bot_turn(self, tx: Transaction, conversation: Conversation, message: InboundMessage, text: str) -> None:
        pending = conversation.pending
        if pending.get("kind") == "feedback":
            verdict = _yes_no_option(message.option)
            if verdict is None:
                verdict = self.intents.yes_or_no(text)
            if verdict is True:
                tx.event("answer_helpful", conversation=conversation.id, faq_entry=pending.get("entry"))
                tx.save_conversation(replace(conversation, pending={}))
                self.say(tx, conversation, "glad_to_help")
                return
            if verdict is False:
                tx.event("answer_not_helpful", conversation=conversation.id, faq_entry=pending.get("entry"),
                         question=pending.get("question"), language=conversation.language)
                await self._open_case(tx, replace(conversation, pending={}), team=pending.get("team"),
                                      reason="not_helpful", subject=pending.get("question", ""))
                return
        if pending.get("kind") == "choice":
            entries: list[str] = pending.get("entries", [])
            picked = _picked_entry(message.option, text, entries)
            if picked == "none":
                tx.event("suggestions_rejected", conversation=conversation.id, faq_entries=",".join(entries),
                         question=pending.get("question"), language=conversation.language)
                await self._open_case(tx, replace(conversation, pending={}), team=pending.get("team"),
                                      reason="none_of_these", subject=pending.get("question", ""))
                return
            if picked is not None and picked in self.knowledge_base().entries:
                tx.event("suggestion_picked", conversation=conversation.id, faq_entry=picked)
                self._answer(tx, conversation, picked, pending.get("question", ""))
                return

        if not text and message.attachments:
            await self._open_case(tx, replace(conversation, pending={}), team=None, reason="attachment",
                                  subject=", ".join(a.name for a in message.attachments),
                                  attachments=message.attachments)
            return
        if not text:
            # A button from an earlier question pressed again: nothing is waiting for it any more.
            tx.event("stale_option", conversation=conversation.id, option=message.option)
            return
        if self.intents.wants_person(text):
            tx.event("handoff_requested", conversation=conversation.id, question=pending.get("question") or text[:500],
                     language=conversation.language)
            await self._open_case(tx, replace(conversation, pending={}), team=pending.get("team"), reason="requested",
                                  subject=pending.get("question", "") or text)
            return
        await self._faq_turn(tx, conversation, text)

    async def _faq_turn(self, tx: Transaction, conversation: Conversation, text: str) -> None:
        knowledge_base = self.knowledge_base()
        result = knowledge_base.match(text, conversation.language, answer_at=self.config.answer_at,
                                      suggest_at=self.config.suggest_at)
        best = result.matches[0] if result.matches else None
        tx.event("faq_match", conversation=conversation.id, decision=result.decision.value,
                 faq_entry=best.entry_id if best else None, score=f"{best.score:.3f}" if best else None,
                 language=conversation.language, question=text[:500])
        if result.decision is Decision.ANSWER and best is not None:
            self._answer(tx, conversation, best.entry_id, text)
        elif result.decision is Decision.SUGGEST:
            suggestions = [match.entry_id for match in knowledge_base.suggestions(result, self.config.suggest_at)]
            options = tuple(QuickReply(f"pick:{entry_id}", knowledge_base.title(entry_id, conversation.language))
                            for entry_id in suggestions)
            options += (QuickReply("none", self.texts.render(conversation.language, "none_of_these")),)
            team = best.team if best else None
            tx.save_conversation(replace(conversation, pending={"kind": "choice", "entries": suggestions,
                                                                "team": team, "question": text[:500]}))
            self.say(tx, conversation, "suggest_prompt", options=options)
        else:
            tx.event("no_match", conversation=conversation.id, question=text[:500], language=conversation.language)
            self.say(tx, conversation, "no_match")
            await self._open_case(tx, replace(conversation, pending={}), team=None, reason="no_match", subject=text)

    def _answer(self, tx: Transaction, conversation: Conversation, entry_id: str, question: str) -> None:
        knowledge_base = self.knowledge_base()
        entry = knowledge_base.entries[entry_id]
        answer = knowledge_base.answer(entry_id, conversation.language)
        tx.save_conversation(replace(conversation, pending={"kind": "feedback", "entry": entry_id,
                                                            "team": entry.team, "question": question[:500]}))
        tx.event("bot_answer", conversation=conversation.id, faq_entry=entry_id)
        self.send(tx, conversation, answer)
        self.say(tx, conversation, "did_this_help", options=(
            QuickReply("yes", self.texts.render(conversation.language, "yes")),
            QuickReply("no", self.texts.render(conversation.language, "no")),
        ))

    async def _open_case(self, tx: Transaction, conversation: Conversation, team: str | None, reason: str,
                         subject: str, attachments: tuple[Attachment, ...] = ()) -> Case:
        team = team if team in self.config.teams else self.config.default_team
        number = await tx.reserve_case_number()
        case = Case(
            number=number, conversation=conversation.id, status=CaseStatus.QUEUED, team=team,
            channel=conversation.channel, customer_name=conversation.customer_name, language=conversation.language,
            priority=NORMAL_PRIORITY, reason=reason, subject=subject[:200], created_at=tx.now, queued_at=tx.now)
        position = await tx.queue_position(team, case.queue_score())
        tx.save_case(case)
        tx.enqueue(case)
        tx.save_conversation(replace(conversation, case=number, pending={}))
        tx.event("case_opened", case=number, conversation=conversation.id, team=team, reason=reason,
                 channel=conversation.channel, language=conversation.language)
        key = "case_opened_on_request" if reason == "requested" else "case_opened"
        self.say(tx, conversation, key, case=number, position=position)
        self.tell_desk(tx, DeskEventKind.CASE_WAITING, case, history=await tx.history(conversation.id),
                       attachments=attachments)
        return case

    # == delivery reports ====================================================================
    async def _on_delivery(self, tx: Transaction, report: DeliveryReport) -> None:
        case = await tx.case(report.case) if report.case else None
        if case is not None and report.author == "agent":
            self.tell_desk(tx, DeskEventKind.DELIVERY, case, ref=report.source_ref, delivered=report.delivered,
                       reason=report.reason)
        if report.delivered:
            tx.event("message_delivered", conversation=report.conversation, case=report.case, channel=report.channel,
                     message=report.message_id, platform_id=report.platform_id, author=report.author)
            return
        tx.event("delivery_failed", conversation=report.conversation, case=report.case, channel=report.channel,
                 message=report.message_id, why=report.reason, author=report.author,
                 unreachable=1 if report.close_conversation else None)
        if report.conversation:
            note = f"not delivered to the customer: {report.reason}"
            if report.close_conversation:
                note += " (the customer can no longer be reached on this channel)"
            tx.log(report.conversation, "system", note, message=report.message_id)

    # == agent actions =======================================================================
    async def _on_action(self, tx: Transaction, action: AgentAction) -> None:
        try:
            case = await tx.case(action.case)
            if case is None:
                raise ActionRefused(f"there is no case #{action.case}")
            conversation = await tx.conversation(case.conversation)
            if conversation is None:
                raise ActionRefused(f"case #{case.number} has lost its conversation {case.conversation}")
            message = await HANDLERS[action.kind](self, tx, action, case, conversation)
        except ActionRefused as refusal:
            tx.result(action.id, {"ok": False, "case": action.case, "message": str(refusal)})
            tx.event("action_refused", case=action.case, action=action.kind.value, agent=action.agent,
                     why=str(refusal))
            return
        tx.result(action.id, {"ok": True, "case": action.case, "message": message})


    # == sending =============================================================================
    def tell_desk(self, tx: Transaction, kind: DeskEventKind, case: Case, **fields: object) -> None:
        """Tell the agents' desk, when there is one."""
        if self.config.desk:
            tx.send_desk(_desk_event(tx, kind, case, **fields))

    def say(self, tx: Transaction, conversation: Conversation, key: str, options: Sequence[QuickReply] = (),
             **values: object) -> None:
        text = self.texts.render(conversation.language, key, **values)
        self.send(tx, conversation, text, options=options)

    def send(self, tx: Transaction, conversation: Conversation, text: str, options: Sequence[QuickReply] = (),
              author: str = "bot", agent_name: str = "", source_ref: str = "") -> None:
        message = OutboundMessage(
            id=tx.next_outbound_id(), channel=conversation.channel, address=conversation.address, text=text,
            options=tuple(options), conversation=conversation.id, case=conversation.case, author=author,
            agent_name=agent_name, language=conversation.language, source_ref=source_ref)
        tx.send(message)
        if author == "bot":
            tx.log(conversation.id, "bot", text, options="|".join(option.label for option in options))


def _desk_event(tx: Transaction, kind: DeskEventKind, case: Case, **fields: object) -> DeskEvent:
    values: dict[str, object] = dict(
        id=tx.next_desk_id(), kind=kind, case=case.number, team=case.team, agent=case.agent,
        agent_name=case.agent_name, customer_name=case.customer_name, channel=case.channel, language=case.language,
        queued_at=case.queued_at, at=tx.now)
    values.update(fields)
    return DeskEvent(**values)  # type: ignore[arg-type]


def _yes_no_option(option: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(option or "")


def _rating_option(option: str | None) -> int | None:
    if option and option.startswith("rate:") and option[5:].isdigit() and 1 <= int(option[5:]) <= 5:
        return int(option[5:])
    return None


def _picked_entry(option: str | None, text: str, entries: Sequence[str]) -> str | None:
    """The suggested entry the customer chose, "none" for none of these, or None for something else."""
    if option == "none":
        return "none"
    if option and option.startswith("pick:"):
        return option[5:]
    choice = choice_in(text, len(entries) + 1)
    if choice is None:
        return None
    return entries[choice - 1] if choice <= len(entries) else "none"
