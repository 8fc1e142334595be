"""The router: applies one inbox entry (a customer message, an agent action, a delivery report).

It decides on what it reads under WATCH and writes every effect in one transaction (`Turn`), so it
can run in any number of workers at once and a redelivered entry changes nothing. What happens to a
case is `router.lifecycle`'s; what the bot says when is here (router/states.md has the picture).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from redis.asyncio import Redis
from redis.exceptions import WatchError

from faq.langdetect import LanguageEvidence, language_evidence
from faq.model import Decision, MatchResult
from router import flood, lifecycle, survey
from router.agent_actions import ActionRefused, apply_action
from router.config import RouterConfig
from router.events import Event
from router.intents import QUESTION_MARKS, Intents, Reading, choice_in, load_vocabularies, option_named
from router.keys import Keys
from router.lifecycle import CloseReason, OpenReason
from router.log_context import log_scope
from router.log_context import note as note_ids
from router.matching import KnowledgeBaseView
from router.messages import (
    AgentAction,
    DeliveryReport,
    DeskEventKind,
    InboundMessage,
    PayloadError,
    QuickReply,
    from_json,
)
from router.offloop import OffLoop
from router.pending import AwaitingChoice, AwaitingFeedback, AwaitingRephrase, Surveying
from router.rounds import rounds_for
from router.sanitize import clean_text
from router.store import Case, CaseStatus, Command, Conversation, Finish
from router.survey_questions import survey_option
from router.texts import Texts
from router.turn import Turn

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50  # WATCH conflicts under heavy contention; each retry re-reads and re-decides
SEEN_TTL_SECONDS = 14 * 24 * 3600  # e-mail: a mail resubmitted after a receiver's crash and outage (docs/scaling.md)
# Telegram keeps an update it could not deliver 24 hours at most (getUpdates and webhooks alike), so a
# Telegram message id is never delivered again after a day; the mark keeps a day's margin.
SEEN_TTL_BY_CHANNEL = {"telegram": 2 * 24 * 3600}
KNOWN_ADDRESSES = 50_000  # conversation ids remembered per router (about 10 MB at most)
MAX_QUESTION_CHARS = 500  # of a question kept in events and pending state
_COMMANDS = ("/start", "/help", "/case")
_SMALL_TALK_TEXT = {"greeting": "greeting", "thanks": "thanks_reply", "goodbye": "goodbye", "ack": "ack_reply"}
LINGUA_FRANCA = "en"
PERSON_OPTION = "person"
SOLVED_OPTION = "solved"


class Router:
    def __init__(self, redis: Redis, keys: Keys, knowledge_base: Callable[[], KnowledgeBaseView], texts: Texts,
                 config: RouterConfig, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.keys = keys
        # Called only for customer messages: agent actions and delivery reports never load the FAQ.
        self.knowledge_base = knowledge_base
        self.texts = texts
        self.config = config
        self.clock = clock
        self.intents = Intents(load_vocabularies(config.languages, texts.extra_vocabulary()))
        # address key -> the conversation id it pointed to: lets a known conversation be read in the same
        # round trip as its address (checked there, under WATCH); bounded, oldest forgotten first.
        self._known: dict[str, str] = {}
        # Reads fingerprinted, commits checked by a script, round trips shared by the entries handled side by
        # side; False: WATCH and MULTI/EXEC on a connection per entry (the path before, kept for comparison).
        self.optimistic = True
        # kb.match runs on the matching thread, not on the event loop (router/offloop.py says why).
        self.off_loop = OffLoop()

    def _remember(self, address_key: str, conversation_id: str | None) -> None:
        self._known.pop(address_key, None)
        if conversation_id is None:
            return
        self._known[address_key] = conversation_id
        if len(self._known) > KNOWN_ADDRESSES:
            del self._known[next(iter(self._known))]

    async def handle(self, entry_id: str, fields: Mapping[str, str]) -> None:
        """Apply one inbox entry; raises PayloadError for an entry that is not a valid message."""
        await self.handle_finishing(entry_id, fields, None)

    async def handle_finishing(self, entry_id: str, fields: Mapping[str, str], finish: Finish | None) -> bool:
        """Apply one inbox entry with `finish` (its XACK) in the same MULTI/EXEC as its effects; True when
        it was written so, False when the entry was done already (then the caller acknowledges it)."""
        with log_scope(entry_id=entry_id):
            return await self._handle(entry_id, fields, finish)

    async def _handle(self, entry_id: str, fields: Mapping[str, str], finish: Finish | None) -> bool:
        kind, data = fields.get("kind"), fields.get("data")
        if data is None:
            raise PayloadError(f"inbox entry {entry_id}: no data field")
        if kind == "message":
            message = from_json(InboundMessage, data)
            # Read with the done marker, in the first round trip: the address, the platform id seen, and
            # the customer's flood count (idempotent, outside the transaction).
            # A conversation known here is read too: checked against the address read with it, under WATCH.
            address_key = self.keys.address(message.channel, message.address)
            get = [address_key]
            if message.platform_id:
                get.append(self.keys.seen(message.channel, message.platform_id))
            guess = self._known.get(address_key)
            hashes = [self.keys.conversation(guess)] if guess else []
            also = flood.count_commands(self.keys, message, self.config.flood_per_minute, self.clock())
            return await self._transact(entry_id, lambda turn: self._on_message(turn, message), finish, get,
                                        hashes, also)
        if kind == "action":
            action = from_json(AgentAction, data)
            return await self._transact(entry_id, lambda turn: self._on_action(turn, action), finish)
        if kind == "delivery":
            report = from_json(DeliveryReport, data)
            return await self._transact(entry_id, lambda turn: self._on_delivery(turn, report), finish)
        raise PayloadError(f"inbox entry {entry_id}: unknown kind {kind!r}")

    async def _transact(self, entry_id: str, decide: Callable[[Turn], Awaitable[None]], finish: Finish | None,
                        get: Sequence[str] = (), hashes: Sequence[str] = (), also: Sequence[Command] = ()) -> bool:
        """Read, decide and commit one entry, again from the reads when someone changed what was read.

        Optimistic (the default): reads fingerprinted and the commit one checking script, so the entries of
        a batch handled side by side share each round trip (router/rounds.py, router/optimistic.py). Else
        WATCH and MULTI/EXEC on a pipeline of this entry's own."""
        if self.optimistic:
            rounds = rounds_for(self.redis)
            return await self._attempts(
                entry_id, lambda: Turn(None, self.keys, entry_id, self.clock(), self.texts, self.config, rounds=rounds),
                decide, finish, get, hashes, also)
        async with self.redis.pipeline(transaction=True) as pipe:
            return await self._attempts(
                entry_id, lambda: Turn(pipe, self.keys, entry_id, self.clock(), self.texts, self.config),
                decide, finish, get, hashes, also, unwatch=pipe.reset)

    async def _attempts(self, entry_id: str, new_turn: Callable[[], Turn], decide: Callable[[Turn], Awaitable[None]],
                        finish: Finish | None, get: Sequence[str], hashes: Sequence[str], also: Sequence[Command],
                        unwatch: Callable[[], Awaitable[None]] | None = None) -> bool:
        for _attempt in range(MAX_ATTEMPTS):
            turn = new_turn()
            try:
                done, turn.early = await turn.begin(get, hashes, also)
                if done:
                    if unwatch is not None:
                        await unwatch()
                    return False
                await decide(turn)
                turn.finish = finish
                await turn.commit()
                return finish is not None
            except WatchError:
                continue  # someone changed what we read: read again and decide again
        raise RuntimeError(f"inbox entry {entry_id}: gave up after {MAX_ATTEMPTS} conflicting attempts")

    # == customer messages ===================================================================
    async def _on_message(self, turn: Turn, message: InboundMessage) -> None:
        if message.platform_id:
            seen_key = self.keys.seen(message.channel, message.platform_id)
            first_seen_as = await turn.get(seen_key)
            if first_seen_as and first_seen_as != message.id:
                log.info("duplicate delivery of %s %s ignored", message.channel, message.platform_id)
                return
            turn.set(seen_key, message.id, ex=SEEN_TTL_BY_CHANNEL.get(message.channel, SEEN_TTL_SECONDS))

        text, shortened = clean_text(message.text, self.config.max_message_chars)
        reading = self.intents.read(text) if text else Reading()
        conversation = await self._conversation_for(turn, message, text, reading)
        note_ids(conversation=conversation.id, case=conversation.case)
        turn.log(conversation.id, "customer", text, sender=message.sender.name, option=message.option,
                 attachments=", ".join(a.name for a in message.attachments))
        turn.event(Event.MESSAGE_IN, conversation=conversation.id, channel=message.channel, case=conversation.case,
                   language=conversation.language, chars=len(message.text))
        if flood.over(turn.early, self.config.flood_per_minute):
            # Kept above (transcript, event); no answer, no relay: one customer must not starve the rest.
            if await flood.first_warning(turn, message):
                log.warning("customer %s on %s sends over %d messages a minute: told to slow down",
                            message.sender.id or message.address, message.channel, self.config.flood_per_minute)
                turn.say(conversation, "slow_down")
            return
        if shortened:
            turn.say(conversation, "too_long")
        if not text and not message.attachments and not message.option:
            turn.say(conversation, "empty_message")  # nothing to answer, nothing for an agent to read
            return
        case = await turn.case(conversation.case) if conversation.case else None
        command = text.split(maxsplit=1)[0].casefold() if text.startswith("/") else ""
        if command in _COMMANDS:
            await self._command(turn, conversation, case, command)
            return
        answer = survey_option(message.option)
        if answer is not None:
            # A rating, NPS, effort or Skip button (or a rating link): counted once for its case and round.
            await survey.on_button(turn, conversation, case, answer)
            return
        if case is not None and case.status is CaseStatus.QUEUED:
            await self._while_queued(turn, conversation, case, message, text, reading)
            return
        if case is not None and case.status is CaseStatus.ASSIGNED:
            self._to_agent(turn, conversation, case, message, text)  # a person is on it: the bot stays quiet
            return
        if case is not None and case.status is CaseStatus.RESOLVED:
            if await self._after_resolution(turn, conversation, case, message, text, reading):
                return
            conversation = replace(conversation, case=None, pending=None)
        elif case is not None:  # closed elsewhere: the conversation starts afresh
            conversation = replace(conversation, case=None, pending=None)
        if isinstance(conversation.pending, Surveying):
            pending = conversation.pending
            asks = pending.step == "comment" and await self._asks_something(turn, conversation, text, reading)
            skip_label = self.texts.render(conversation.language, "skip_button")
            if await survey.on_typed(turn, conversation, pending, text, reading, skip_label, new_question=asks):
                return
            conversation = replace(conversation, pending=None)  # no answer: the survey gives way
            turn.save_conversation(conversation)
        await self._bot_turn(turn, conversation, message, text, reading)

    async def _asks_something(self, turn: Turn, conversation: Conversation, text: str, reading: Reading) -> bool:
        """Whether a message typed where a comment is invited is rather a new question or request."""
        if reading.wants_person or reading.complaint or reading.asks_case_status or not text:
            return True
        if text.rstrip().endswith(QUESTION_MARKS):
            return True
        return (await self._kb_match(turn, conversation, text)).decision is Decision.ANSWER

    async def _conversation_for(self, turn: Turn, message: InboundMessage, text: str, reading: Reading) -> Conversation:
        address_key = self.keys.address(message.channel, message.address)
        conversation = await turn.conversation_at(address_key, self._known.get(address_key))
        self._remember(address_key, conversation.id if conversation else None)
        hint = (conversation.language if conversation else None) or message.language_hint
        # "thanks", "ok", "bye" are typed in every language, and "status" is a word of several: no switch.
        brief_status = reading.asks_case_status and len(text.split()) <= 2
        if (reading.language == LINGUA_FRANCA or brief_status) and conversation is not None and conversation.language:
            language = conversation.language
        else:
            language = reading.language or self._language_of(turn, text, hint)
        if language not in self.config.languages:
            language = self.config.languages[0]
        if conversation is None:
            conversation = Conversation(
                id=message.id, channel=message.channel, address=message.address, customer_id=message.sender.id,
                customer_name=message.sender.name, language=language, created_at=turn.now, updated_at=turn.now)
            turn.set(address_key, conversation.id)
            self._remember(address_key, conversation.id)  # a guess only: read again, under WATCH, next time
            turn.event(Event.CONVERSATION_STARTED, conversation=conversation.id, channel=message.channel,
                       language=language)
        else:
            conversation = replace(conversation, language=language, updated_at=turn.now,
                                   customer_name=message.sender.name or conversation.customer_name)
        turn.save_conversation(conversation)
        return conversation

    def _language_of(self, turn: Turn, text: str, hint: str | None) -> str:
        if not text:
            return hint or self.config.languages[0]
        return self._evidence(turn, text, self.config.languages).choose(hint)

    def _evidence(self, turn: Turn, text: str, languages: tuple[str, ...]) -> LanguageEvidence:
        """Language detection's costly part, once per text and turn: the router's choice and the knowledge
        base's match weigh the same evidence, each with its own hint."""
        known = turn.language_evidence.get(text)
        if known is None or known.languages != languages:
            # The language profile comes with the knowledge base; without one loaded yet, the built-in one serves.
            known = language_evidence(text, languages, self.knowledge_base().language_profile)
            turn.language_evidence[text] = known
        return known

    async def _kb_match(self, turn: Turn, conversation: Conversation, text: str,
                        knowledge_base: KnowledgeBaseView | None = None) -> MatchResult:
        knowledge_base = knowledge_base if knowledge_base is not None else self.knowledge_base()
        # What kb.match would detect itself with the conversation's language as hint, from evidence already weighed.
        language = self._evidence(turn, text, tuple(knowledge_base.languages)).choose(conversation.language)
        hint, answer_at, suggest_at = conversation.language, self.config.answer_at, self.config.suggest_at
        return await self.off_loop.run(lambda: knowledge_base.match(text, hint, answer_at=answer_at,
                                                                    suggest_at=suggest_at, language=language))

    async def _command(self, turn: Turn, conversation: Conversation, case: Case | None, command: str) -> None:
        """/start, /help and /case work in every state, on every channel."""
        turn.event(Event.COMMAND, conversation=conversation.id, command=command)
        if command == "/start":
            turn.say(conversation, "greeting")
        elif command == "/help":
            turn.say(conversation, "help")
        else:
            await self._case_status(turn, conversation, case)

    async def _case_status(self, turn: Turn, conversation: Conversation, case: Case | None) -> None:
        turn.event(Event.CASE_STATUS_ASKED, conversation=conversation.id, case=case.number if case else None)
        if case is None or not case.status.is_open:
            turn.say(conversation, "case_status_none")
        elif case.status is CaseStatus.QUEUED:
            position = await turn.queue_position(case.team, case.queue_score())
            await lifecycle.say_with_expectation(turn, conversation, case, "case_status_queued", case=case.number,
                                                 position=position)
        else:
            turn.say(conversation, "case_status_assigned", case=case.number, agent_name=case.agent_name or case.agent)

    def _to_agent(self, turn: Turn, conversation: Conversation, case: Case, message: InboundMessage,
                  text: str) -> None:
        turn.event(Event.CASE_MESSAGE, conversation=conversation.id, case=case.number, status=case.status,
                   agent=case.agent)
        turn.tell_desk(DeskEventKind.CUSTOMER_MESSAGE, case, text=text, attachments=message.attachments,
                       platform_id=message.platform_id, reply_to=message.reply_to)

    # == a case waits for an agent ===========================================================
    async def _while_queued(self, turn: Turn, conversation: Conversation, case: Case, message: InboundMessage,
                            text: str, reading: Reading) -> None:
        """The message goes to the case; meanwhile the bot still helps with what it knows."""
        self._to_agent(turn, conversation, case, message, text)
        pending = conversation.pending
        answered_here = isinstance(pending, AwaitingFeedback) and pending.case == case.number
        if message.option == SOLVED_OPTION or reading.solved or (answered_here and reading.yes):
            await lifecycle.close(turn, case, conversation, CloseReason.SOLVED_BY_CUSTOMER)
            return
        if reading.asks_case_status or (reading.small_talk == "greeting" and case.acknowledged):
            await self._case_status(turn, conversation, case)
            return
        if reading.small_talk is not None and reading.small_talk != "greeting" and case.acknowledged:
            self._small_talk_reply(turn, conversation, reading, closes_loop=answered_here)
            return
        if text and reading.small_talk is None and not reading.wants_person and not reading.complaint:
            knowledge_base = self.knowledge_base()
            result = await self._match(turn, conversation, text, knowledge_base)
            best = result.matches[0] if result.matches else None
            if result.decision is Decision.ANSWER and best is not None:
                self._answer(turn, conversation, best.entry_id, text, case=case, knowledge_base=knowledge_base)
                return
        if not case.acknowledged:
            position = await turn.queue_position(case.team, case.queue_score())
            turn.say(conversation, "still_queued", case=case.number, position=position)
            turn.save_case(case.with_changes(acknowledged=1))

    # == after an agent resolved the case ====================================================
    async def _after_resolution(self, turn: Turn, conversation: Conversation, case: Case, message: InboundMessage,
                                text: str, reading: Reading) -> bool:
        """Rating, small talk, an FAQ answer or reopening; False when the case is too old and the bot takes over."""
        if reading.rating is not None:
            await survey.rate(turn, case, conversation, reading.rating)
            return True
        if not message.option and (reading.small_talk is not None or reading.yes):
            # "thanks!" after a resolution is a goodbye, not a new problem: no reopening.
            turn.event(Event.CASE_THANKED, case=case.number, conversation=conversation.id, kind=reading.small_talk)
            self._small_talk_reply(turn, conversation, reading, closes_loop=True)
            return True
        if turn.now - case.resolved_at > self.config.reopen_days * 86400:
            await lifecycle.close(turn, case, conversation, CloseReason.NOT_RATED)
            return False
        if text and not reading.wants_person and not reading.complaint and not reading.no:
            knowledge_base = self.knowledge_base()
            result = await self._match(turn, conversation, text, knowledge_base)
            best = result.matches[0] if result.matches else None
            if result.decision is Decision.ANSWER and best is not None:
                # Answered; the case stays resolved.
                self._answer(turn, conversation, best.entry_id, text, knowledge_base=knowledge_base)
                return True
        if message.option and not text:
            turn.event(Event.STALE_OPTION, conversation=conversation.id, option=message.option)
            return True
        await lifecycle.reopen(turn, case, conversation, by="customer", attachments=message.attachments)
        return True

    # == the bot alone =======================================================================
    async def _bot_turn(self, turn: Turn, conversation: Conversation, message: InboundMessage, text: str,
                        reading: Reading) -> None:
        if await self._answers_pending(turn, conversation, message, text, reading):
            return
        pending = conversation.pending
        team = pending.team if pending is not None else None
        if not text and message.attachments:
            await lifecycle.open_case(turn, conversation, team=team, reason=OpenReason.ATTACHMENT,
                                      subject=", ".join(a.name for a in message.attachments),
                                      attachments=message.attachments)
            return
        if not text:
            # A button from an earlier question pressed again: nothing is waiting for it any more.
            turn.event(Event.STALE_OPTION, conversation=conversation.id, option=message.option)
            return
        if reading.complaint:
            turn.event(Event.COMPLAINT, conversation=conversation.id, question=text[:MAX_QUESTION_CHARS],
                       language=conversation.language)
            await lifecycle.open_case(turn, conversation, team=team, reason=OpenReason.COMPLAINT, subject=text)
            return
        if reading.wants_person:
            await self._hand_off_on_request(turn, conversation, text)
            return
        if reading.asks_case_status:
            await self._case_status(turn, conversation, None)
            return
        if reading.small_talk is not None or reading.solved:
            # "That solved it" with no case open: nothing to close, a goodbye to answer.
            self._small_talk_reply(turn, conversation, reading, closes_loop=reading.solved)
            return
        if reading.wordless:
            turn.event(Event.SMALL_TALK, conversation=conversation.id, kind="wordless")
            turn.say(conversation, "help")
            return
        await self._faq_turn(turn, conversation, text)

    async def _answers_pending(self, turn: Turn, conversation: Conversation, message: InboundMessage, text: str,
                               reading: Reading) -> bool:
        """True when the message answered what the bot asked last (and was dealt with)."""
        pending = conversation.pending
        if isinstance(pending, AwaitingFeedback):
            verdict = {"yes": True, "no": False}.get(message.option or "")
            if verdict is None and (reading.yes or reading.solved or reading.small_talk in ("thanks", "ack")):
                verdict = True  # "thanks!", "great", "that solved it" after an answer: it helped
            if verdict is None and reading.no:
                verdict = False
            if verdict is True:
                turn.event(Event.ANSWER_HELPFUL, conversation=conversation.id, faq_entry=pending.entry)
                turn.save_conversation(replace(conversation, pending=None))
                turn.say(conversation, "glad_to_help")
                return True
            if verdict is False:
                turn.event(Event.ANSWER_NOT_HELPFUL, conversation=conversation.id, faq_entry=pending.entry,
                           question=pending.question, language=conversation.language)
                await lifecycle.open_case(turn, conversation, team=pending.team, reason=OpenReason.NOT_HELPFUL,
                                          subject=pending.question)
                return True
        elif isinstance(pending, AwaitingChoice):
            none_label = self.texts.render(conversation.language, "none_of_these")
            picked = _picked(message.option, text, reading, pending, none_label)
            if picked == "none":
                turn.event(Event.SUGGESTIONS_REJECTED, conversation=conversation.id,
                           faq_entries=",".join(pending.entries), question=pending.question,
                           language=conversation.language)
                await lifecycle.open_case(turn, conversation, team=pending.team, reason=OpenReason.NONE_OF_THESE,
                                          subject=pending.question)
                return True
            if picked == "ask again":
                turn.say(conversation, "pick_one", options=self._choice_options(turn, conversation, pending))
                return True
            if picked is not None and picked in self.knowledge_base().entries:
                turn.event(Event.SUGGESTION_PICKED, conversation=conversation.id, faq_entry=picked)
                self._answer(turn, conversation, picked, pending.question)
                return True
        elif isinstance(pending, AwaitingRephrase):
            if message.option == PERSON_OPTION or (not message.option and choice_in(text, 1) == 1):
                await self._hand_off_on_request(turn, conversation, " / ".join(pending.questions))
                return True
        return False

    async def _hand_off_on_request(self, turn: Turn, conversation: Conversation, text: str) -> None:
        pending = conversation.pending
        question = (pending.question if isinstance(pending, AwaitingFeedback | AwaitingChoice) else "") or text
        turn.event(Event.HANDOFF_REQUESTED, conversation=conversation.id, question=question[:MAX_QUESTION_CHARS],
                   language=conversation.language)
        await lifecycle.open_case(turn, conversation, team=pending.team if pending else None,
                                  reason=OpenReason.REQUESTED, subject=question)

    def _small_talk_reply(self, turn: Turn, conversation: Conversation, reading: Reading, closes_loop: bool) -> None:
        kind = reading.small_talk.value if reading.small_talk is not None else "ack"
        turn.event(Event.SMALL_TALK, conversation=conversation.id, kind=kind)
        # After an answer or a resolve, thanks and "ok" close the loop; a goodbye or greeting is itself.
        key = "glad_to_help" if closes_loop and kind in ("thanks", "ack") else _SMALL_TALK_TEXT[kind]
        turn.say(conversation, key)

    async def _match(self, turn: Turn, conversation: Conversation, text: str,
                     knowledge_base: KnowledgeBaseView | None = None) -> MatchResult:
        result = await self._kb_match(turn, conversation, text, knowledge_base)
        best = result.matches[0] if result.matches else None
        turn.event(Event.FAQ_MATCH, conversation=conversation.id, decision=result.decision.value,
                   faq_entry=best.entry_id if best else None, score=f"{best.score:.3f}" if best else None,
                   language=conversation.language, question=text[:MAX_QUESTION_CHARS], case=conversation.case)
        return result

    async def _faq_turn(self, turn: Turn, conversation: Conversation, text: str) -> None:
        knowledge_base = self.knowledge_base()
        # The same knowledge base for the match and its suggestions: a reload may go into service meanwhile.
        result = await self._match(turn, conversation, text, knowledge_base)
        best = result.matches[0] if result.matches else None
        if result.decision is Decision.ANSWER and best is not None:
            self._answer(turn, conversation, best.entry_id, text, knowledge_base=knowledge_base)
            return
        if result.decision is Decision.SUGGEST:
            entries = tuple(match.entry_id for match in knowledge_base.suggestions(result, self.config.suggest_at))
            labels = tuple(knowledge_base.title(entry_id, conversation.language) for entry_id in entries)
            choice = AwaitingChoice(entries=entries, labels=labels, question=text[:MAX_QUESTION_CHARS],
                                    team=best.team if best else None)
            turn.save_conversation(replace(conversation, pending=choice))
            turn.say(conversation, "suggest_prompt", options=self._choice_options(turn, conversation, choice))
            return
        pending = conversation.pending
        earlier = pending.questions if isinstance(pending, AwaitingRephrase) else ()
        if len(earlier) < self.config.rephrase_turns:
            # One more try in other words before a person is asked to step in, with a way out right away.
            turn.event(Event.REPHRASE_ASKED, conversation=conversation.id, question=text[:MAX_QUESTION_CHARS],
                       language=conversation.language)
            rephrase = AwaitingRephrase(questions=(*earlier, text[:MAX_QUESTION_CHARS]))
            turn.save_conversation(replace(conversation, pending=rephrase))
            turn.say(conversation, "rephrase", options=(turn.option(conversation, PERSON_OPTION, "talk_to_person"),))
            return
        questions = " / ".join((*earlier, text))
        # Only this message's words: the earlier ones are in their rephrase_asked events already.
        turn.event(Event.NO_MATCH, conversation=conversation.id, question=text[:MAX_QUESTION_CHARS],
                   language=conversation.language)
        turn.say(conversation, "no_match")
        await lifecycle.open_case(turn, conversation, team=None, reason=OpenReason.NO_MATCH, subject=questions)

    def _choice_options(self, turn: Turn, conversation: Conversation, choice: AwaitingChoice) -> tuple[QuickReply, ...]:
        options = tuple(QuickReply(f"pick:{entry}", label) for entry, label in zip(choice.entries, choice.labels))
        return (*options, turn.option(conversation, "none", "none_of_these"))

    def _answer(self, turn: Turn, conversation: Conversation, entry_id: str, question: str,
                case: Case | None = None, knowledge_base: KnowledgeBaseView | None = None) -> None:
        # The one it was matched against (a reload may have gone into service during the match).
        knowledge_base = knowledge_base if knowledge_base is not None else self.knowledge_base()
        entry = knowledge_base.entries[entry_id]
        answer = knowledge_base.answer(entry_id, conversation.language)
        feedback = AwaitingFeedback(entry=entry_id, question=question[:MAX_QUESTION_CHARS], team=entry.team,
                                    case=case.number if case else None)
        turn.save_conversation(replace(conversation, pending=feedback))
        turn.event(Event.BOT_ANSWER, conversation=conversation.id, faq_entry=entry_id,
                   case=case.number if case else None)
        turn.send(conversation, answer)
        if case is not None:
            # The agent who picks the case up sees what the bot already told the customer.
            turn.tell_desk(DeskEventKind.BOT_MESSAGE, case, text=answer)
            turn.say(conversation, "case_stays_open", case=case.number,
                     options=(turn.option(conversation, SOLVED_OPTION, "solved_button"),))
            return
        turn.say(conversation, "did_this_help", options=(
            turn.option(conversation, "yes", "yes"), turn.option(conversation, "no", "no")))

    # == delivery reports ====================================================================
    async def _on_delivery(self, turn: Turn, report: DeliveryReport) -> None:
        note_ids(conversation=report.conversation, case=report.case, message_id=report.message_id)
        case = await turn.case(report.case) if report.case else None
        if case is not None and report.author == "agent":
            turn.tell_desk(DeskEventKind.DELIVERY, case, ref=report.source_ref, delivered=report.delivered,
                           reason=report.reason)
        if report.delivered:
            turn.event(Event.MESSAGE_DELIVERED, conversation=report.conversation, case=report.case,
                       channel=report.channel, message=report.message_id, platform_id=report.platform_id,
                       author=report.author)
            return
        turn.event(Event.DELIVERY_FAILED, conversation=report.conversation, case=report.case, channel=report.channel,
                   message=report.message_id, why=report.reason, author=report.author,
                   unreachable=1 if report.close_conversation else None)
        if report.conversation:
            note = f"not delivered to the customer: {report.reason}"
            if report.close_conversation:
                note += " (the customer can no longer be reached on this channel)"
            turn.log(report.conversation, "system", note, message=report.message_id)

    # == agent actions =======================================================================
    async def _on_action(self, turn: Turn, action: AgentAction) -> None:
        note_ids(case=action.case)
        try:
            case = await turn.case(action.case)
            if case is None:
                raise ActionRefused(f"there is no case #{action.case}")
            conversation = await turn.conversation(case.conversation)
            if conversation is None:
                raise ActionRefused(f"case #{case.number} has lost its conversation {case.conversation}")
            message = await apply_action(turn, action, case, conversation)
        except ActionRefused as refusal:
            turn.result(action.id, {"ok": False, "case": action.case, "message": str(refusal)})
            turn.event(Event.ACTION_REFUSED, case=action.case, action=action.kind.value, agent=action.agent,
                       why=str(refusal))
            return
        turn.result(action.id, {"ok": True, "case": action.case, "message": message})


def _picked(option: str | None, text: str, reading: Reading, choice: AwaitingChoice, none_label: str) -> str | None:
    """The entry the customer chose; "none" for none of these; "ask again" for a yes among several; else None."""
    if option == "none":
        return "none"
    if option and option.startswith("pick:"):
        return option[5:]
    if option:
        return None
    number = choice_in(text, len(choice.entries) + 1)
    if number is not None:
        return choice.entries[number - 1] if number <= len(choice.entries) else "none"
    if reading.yes:
        return choice.entries[0] if len(choice.entries) == 1 else "ask again"
    if reading.no:
        return "none"
    named = option_named(text, (*choice.labels, none_label))  # the words of "None of these" pick it too
    if named is None:
        return None
    return choice.entries[named] if named < len(choice.entries) else "none"
