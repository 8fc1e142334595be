"""The names of the events written to `hl:events`, defined once.

Every KPI and audit is computed from these (see router/states.md), so a name is a contract: rename
one and every report that counts it breaks. Readers outside `router/` (e.g. `faq gaps`, handed
`GAP_EVENTS` by `bot/`) take the names from here.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    # conversations and messages
    CONVERSATION_STARTED = "conversation_started"
    CONVERSATION_REMOVED = "conversation_removed"  # idle past the retention: conversation, channel (router/retention.py)
    MESSAGE_IN = "message_in"
    COMMAND = "command"
    SMALL_TALK = "small_talk"  # greeting, thanks, goodbye, acknowledgement: answered, never a case
    STALE_OPTION = "stale_option"
    MESSAGE_DELIVERED = "message_delivered"
    DELIVERY_FAILED = "delivery_failed"
    CASE_STATUS_ASKED = "case_status_asked"
    # the bot's answers
    FAQ_MATCH = "faq_match"
    BOT_ANSWER = "bot_answer"
    ANSWER_HELPFUL = "answer_helpful"
    ANSWER_NOT_HELPFUL = "answer_not_helpful"
    SUGGESTION_PICKED = "suggestion_picked"
    SUGGESTIONS_REJECTED = "suggestions_rejected"
    REPHRASE_ASKED = "rephrase_asked"
    NO_MATCH = "no_match"
    HANDOFF_REQUESTED = "handoff_requested"
    COMPLAINT = "complaint"
    # cases
    CASE_OPENED = "case_opened"
    CASE_MESSAGE = "case_message"
    CASE_CLAIMED = "case_claimed"
    FIRST_RESPONSE = "first_response"
    AGENT_REPLY = "agent_reply"
    AGENT_NOTE = "agent_note"
    CASE_TRANSFERRED = "case_transferred"
    CASE_RELEASED = "case_released"
    CASE_RESOLVED = "case_resolved"
    CASE_REOPENED = "case_reopened"
    CASE_RATED = "case_rated"  # CSAT 1-5: case, conversation, csat, round (= times reopened), agent, team, channel
    RATING_ASKED = "rating_asked"  # the survey was sent: case, conversation, round, channel, team
    NPS_RATED = "nps_rated"  # 0-10: case, conversation, nps, round, team, channel
    CES_RATED = "ces_rated"  # Customer Effort 1-7: case, conversation, ces, round, team, channel
    FEEDBACK_COMMENT = "feedback_comment"  # case, conversation, round, chars (the text is in the transcript)
    SLA_WARNING = "sla_warning"  # a queued case about to breach its first-response target: case, team, waited
    CASE_ESCALATED = "case_escalated"  # past the second limit, moved: case, from_team, team, waited
    OUTSIDE_HOURS = "outside_hours"  # the customer was told when the team is back: conversation, case, team, opens_at
    CASE_THANKED = "case_thanked"
    CASE_CLOSED = "case_closed"
    ACTION_REFUSED = "action_refused"


# The events that mean "the FAQ did not settle this question": what `helpline faq gaps` groups. A
# question the bot asked to have put another way counts even when the second wording matched: the
# first one is how a customer asks, and the FAQ should know it.
GAP_EVENTS: tuple[str, ...] = (
    Event.NO_MATCH, Event.REPHRASE_ASKED, Event.HANDOFF_REQUESTED, Event.ANSWER_NOT_HELPFUL,
    Event.SUGGESTIONS_REJECTED,
)
