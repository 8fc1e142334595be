"""One inbox entry's transaction together with the effects it may have on people.

`Turn` is the `Transaction` of store.py plus what the customer is told (`say`, `send`) and what the
agents' desk is shown (`tell_desk`). Every one of these is buffered and written in the entry's one
MULTI/EXEC, so the lifecycle functions and agent actions need nothing but a Turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio.client import Pipeline

from faq.langdetect import LanguageEvidence
from router.config import RouterConfig
from router.keys import Keys
from router.messages import DeskEvent, DeskEventKind, HistoryLine, Link, OutboundMessage, QuickReply
from router.rounds import Rounds
from router.store import Case, Conversation, Transaction
from router.texts import Texts


class Turn(Transaction):
    def __init__(self, pipe: Pipeline | None, keys: Keys, entry_id: str, now: float, texts: Texts,
                 config: RouterConfig, rounds: Rounds | None = None) -> None:
        super().__init__(pipe, keys, entry_id, now, rounds)
        self.texts = texts
        self.config = config
        self.language_evidence: dict[str, LanguageEvidence] = {}  # by text: detection's costly part, once
        self.early: list[object] = []  # the replies of the commands sent with the first read (Router._handle)

    def say(self, conversation: Conversation, key: str, options: Sequence[QuickReply] = (),
            links: Sequence[Link] = (), **values: object) -> None:
        """Send the customer the bot text `key` in their language."""
        self.send(conversation, self.texts.render(conversation.language, key, **values), options=options,
                  links=links)

    def option(self, conversation: Conversation, value: str, key: str) -> QuickReply:
        """A quick reply whose label is the bot text `key` in the customer's language."""
        return QuickReply(value, self.texts.render(conversation.language, key))

    def send(self, conversation: Conversation, text: str, options: Sequence[QuickReply] = (),
             author: str = "bot", agent_name: str = "", source_ref: str = "", links: Sequence[Link] = ()) -> None:
        """Send the customer `text` on their channel; the bot's own messages also go on the transcript."""
        message = OutboundMessage(
            id=self.next_outbound_id(), channel=conversation.channel, address=conversation.address, text=text,
            options=tuple(options), conversation=conversation.id, case=conversation.case, author=author,
            agent_name=agent_name, language=conversation.language, source_ref=source_ref, links=tuple(links))
        self.send_outbound(message)
        if author == "bot":
            self.log(conversation.id, "bot", text, options="|".join(option.label for option in options))

    async def desk_history(self, conversation_id: str) -> tuple[HistoryLine, ...]:
        """The transcript lines a desk notice carries; read only when there is a desk to show them to."""
        return await self.history(conversation_id) if self.config.desk else ()

    def tell_desk(self, kind: DeskEventKind, case: Case, **fields: object) -> None:
        """Show the agents' desk what happened to `case`, when there is a desk."""
        if not self.config.desk:
            return
        values: dict[str, object] = dict(
            id=self.next_desk_id(), kind=kind, case=case.number, team=case.team, agent=case.agent,
            agent_name=case.agent_name, customer_name=case.customer_name, channel=case.channel,
            language=case.language, queued_at=case.queued_at, at=self.now)
        values.update(fields)
        self.send_desk(DeskEvent(**values))  # type: ignore[arg-type]
