"""Every Redis key Helpline uses, in one place (prefix configurable, default `hl:`).

Keys of one conversation share the hash tag `{<conversation id>}` so they land in one Cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass

INBOX_GROUP = "router"
OUTBOX_GROUP = "sender"
DESK_GROUP = "desk"
FIRST_CASE_NUMBER = 1001


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "hl:"

    @property
    def inbox(self) -> str:
        return f"{self.prefix}inbox"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def questions(self) -> str:
        """Stream: the customer's words of the events that carry a question (`ref` = the event's
        `question_ref`), trimmed to the retention by router/retention.py."""
        return f"{self.prefix}questions"

    @property
    def metrics(self) -> str:
        """Hash of Prometheus counters and histogram buckets, shared by every process (router/metrics.py)."""
        return f"{self.prefix}metrics"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}dead"

    @property
    def case_counter(self) -> str:
        return f"{self.prefix}case:counter"

    @property
    def workers(self) -> str:
        """Sorted set: worker name → last heartbeat (unix seconds)."""
        return f"{self.prefix}workers"

    @property
    def teams_seen(self) -> str:
        """Set of teams that ever had a queue, so `queue` lists empty ones too."""
        return f"{self.prefix}teams"

    @property
    def desk(self) -> str:
        """Stream of DeskEvents for the agents' desk (Slack), group `desk`."""
        return f"{self.prefix}outbox:desk"

    @property
    def resolved(self) -> str:
        """Sorted set: resolved cases waiting for a rating → resolution time, for the closing sweep."""
        return f"{self.prefix}resolved"

    @property
    def conversations(self) -> str:
        """Sorted set: conversation id → when it last changed (its hash or transcript), for the retention
        sweep (router/retention.py)."""
        return f"{self.prefix}conversations"

    @property
    def closed(self) -> str:
        """Sorted set: closed cases whose customer text is still kept → when they closed (router/retention.py)."""
        return f"{self.prefix}closed"

    @property
    def retention_indexed(self) -> str:
        """Set once the conversations and closed cases stored before the retention sweep existed are indexed."""
        return f"{self.prefix}retention:indexed"

    def outbox(self, channel: str) -> str:
        return f"{self.prefix}outbox:{channel}"

    def conversation(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{{{conversation_id}}}"

    def transcript(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{{{conversation_id}}}:log"

    def address(self, channel: str, address: str) -> str:
        return f"{self.prefix}addr:{channel}:{address}"

    def case(self, number: int) -> str:
        return f"{self.prefix}case:{number}"

    def case_for_message(self, message_id: str) -> str:
        """Which case number a message already reserved, so a retried message reuses it."""
        return f"{self.prefix}case:by-msg:{message_id}"

    def queue(self, team: str) -> str:
        return f"{self.prefix}queue:{team}"

    def waits(self, team: str) -> str:
        """List: the waits (seconds, business hours) of the team's last claimed cases, newest first."""
        return f"{self.prefix}waits:{team}"

    def survey(self, case: int, round_: int) -> str:
        """Hash: a case's feedback for one round (csat, nps, ces, comment_chars): one answer each."""
        return f"{self.prefix}survey:{case}:{round_}"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def seen(self, channel: str, platform_id: str) -> str:
        return f"{self.prefix}seen:{channel}:{platform_id}"

    def login_failures(self, digest: str) -> str:
        """Sorted set: a dashboard login key's recent failures (member per failure → unix time); the key is
        a digest of `address:<ip>` or `user:<name>`, so names typed (or passwords typed as names) are not kept."""
        return f"{self.prefix}login:failed:{digest}"

    def flood(self, channel: str, customer: str) -> str:
        """Sorted set: ids of a customer's messages of the last minute, scored by arrival (flood limit)."""
        return f"{self.prefix}flood:{channel}:{customer}"

    def flood_warned(self, channel: str, customer: str) -> str:
        """Set for a minute once the customer was told to slow down."""
        return f"{self.prefix}flood:{channel}:{customer}:warned"

    def done(self, entry_id: str) -> str:
        """Marks an inbox entry whose effects are written; a redelivery then changes nothing."""
        return f"{self.prefix}done:{entry_id}"

    def result(self, action_id: str) -> str:
        """List where the outcome of an agent action is pushed for whoever is waiting on it."""
        return f"{self.prefix}result:{action_id}"

    def console(self, address: str) -> str:
        """List of messages waiting for one terminal chat session."""
        return f"{self.prefix}console:{address}"

    def sent(self, channel: str, message_id: str) -> str:
        """Marks an outbound message delivered, so a redelivered outbox entry is not sent twice."""
        return f"{self.prefix}sent:{channel}:{message_id}"

    def sending(self, channel: str, message_id: str) -> str:
        """Lease of the sender that is sending an outbound message right now (expires if it dies)."""
        return f"{self.prefix}sending:{channel}:{message_id}"


def lane_key(stream: str, conversation: str) -> str:
    """List of a conversation's unfinished entry ids in `stream`, oldest first: whose turn it is,
    across every process reading the stream (see router/lanes.py)."""
    return f"{stream}:lane:{conversation}"
