"""From ranked matches to what the bot does: answer, offer a few choices, or not match at all.

Scores are calibrated chances that answering with the entry would be right. The bot answers when the
best entry is likely enough (`answer_at`) and no other comes close; it offers choices when the message
is likely enough one the knowledge base covers (`suggest_at`, compared with the matcher's scope score
where it has one, see `scope`, else with the best score): the best and up to two contenders, so the
right entry is among them far more often than it is first. A choice list of entries that score
alike is better than a wrong answer, or a person for a question the FAQ covers.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import Decision, Match

MAX_CHOICES = 3
# An entry is offered beside the best one when it is a real contender: at least this share of the best
# score (a list padded with long shots reads as noise). On the bench sets' dev cases, offering
# contenders and not only entries above suggest_at puts the right entry in front of the customer
# 10-20 points more often, at the same number of out-of-scope questions offered choices.
CONTENDER_SHARE = 0.1
# The best entry is answered only when no other entry reaches this share of its score: two entries
# that score alike are offered, not guessed between (on the dev cases this halves wrong answers,
# mostly between entries that overlap, such as "turn on the blinds" and "turn on a device").
ANSWER_LEAD = 0.2


def choices(matches: Sequence[Match]) -> tuple[Match, ...]:
    """The entries worth offering: the best and up to two contenders."""
    if not matches:
        return ()
    floor = matches[0].score * CONTENDER_SHARE
    return tuple(match for match in matches[:MAX_CHOICES] if match.score >= floor and match.score > 0)


def decide(matches: Sequence[Match], answer_at: float, suggest_at: float,
           in_scope: float | None = None) -> tuple[Decision, tuple[Match, ...]]:
    """The decision for ranked `matches` (best first) and the choices to offer (empty unless SUGGEST).
    `in_scope`, when the matcher gives one, is the score that the message is one the knowledge base
    covers (see `scope`): choices are offered when it reaches `suggest_at`, else when the best score does."""
    if not matches:
        return Decision.NO_MATCH, ()
    best = matches[0].score
    runner_up = matches[1].score if len(matches) > 1 else 0.0
    if best >= answer_at and runner_up < best * ANSWER_LEAD:
        return Decision.ANSWER, ()
    offered = choices(matches) if (best if in_scope is None else in_scope) >= suggest_at else ()
    return (Decision.SUGGEST, offered) if offered else (Decision.NO_MATCH, ())
