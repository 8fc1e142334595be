"""The feedback questions: how each is asked (buttons, and links in e-mail) and what its answers look like.

Asked after a resolve: the CSAT rating (1-5) always, then, as `feedback.*` switches them on, NPS
(0-10), Customer Effort (1-7) and a comment, one after another, each with a Skip button. Button
values: `rate:<n>` (a rating link's message carries `rate:<n>:<case>:<round>`), `nps:<n>`, `ces:<n>`,
`skip`. What the answers do is `router/survey.py`'s; this module is what `lifecycle.resolve` needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from router.config import FeedbackConfig
from router.events import Event
from router.feedback_token import make_token
from router.messages import Link, QuickReply
from router.store import Case, Conversation
from router.turn import Turn

# kind → (lowest, highest) score; csat is the rating every resolve asks for.
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
PROMPTS = {"nps": "nps_prompt", "ces": "ces_prompt", "comment": "comment_prompt"}
SKIP_OPTION = "skip"
_OPTION_KIND = {"rate": "csat", "nps": "nps", "ces": "ces"}
_OPTION = re.compile(r"(rate|nps|ces):([0-9]{1,2})(?::([1-9][0-9]{0,11}):([0-9]{1,6}))?")
# "7", "7/10", "7 of 10", "7!" : a bare score typed as the answer to a scale question.
_TYPED_SCORE = re.compile(r"\s*([0-9]{1,2})\s*(?:/\s*[0-9]{1,2}|(?:out\s+)?of\s+[0-9]{1,2})?\s*[.!]*\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    """A survey button's value read back: a score of one question, or a skip."""

    kind: str  # csat, nps, ces or skip
    score: int | None = None
    case: int | None = None  # set by a rating link: the case and round it was sent for
    round: int | None = None


def survey_option(option: str | None) -> SurveyAnswer | None:
    """The survey answer a button value carries, or None when it is no survey button (or out of scale)."""
    if not option:
        return None
    if option == SKIP_OPTION:
        return SurveyAnswer("skip")
    match = _OPTION.fullmatch(option)
    if match is None:
        return None
    kind, score = _OPTION_KIND[match.group(1)], int(match.group(2))
    lowest, highest = SCALES[kind]
    if not lowest <= score <= highest or (match.group(3) and kind != "csat"):
        return None
    if match.group(3):
        return SurveyAnswer(kind, score, int(match.group(3)), int(match.group(4)))
    return SurveyAnswer(kind, score)


def typed_score(text: str, kind: str) -> int | None:
    """The score a typed answer to the `kind` question gives ("8", "8/10"), None when it is no score in range."""
    match = _TYPED_SCORE.fullmatch(text)
    if match is None:
        return None
    score = int(match.group(1))
    lowest, highest = SCALES[kind]
    return score if lowest <= score <= highest else None


def is_typed_number(text: str) -> bool:
    """A bare number, in whatever range: an attempt at a score, even when outside the question's scale."""
    return _TYPED_SCORE.fullmatch(text) is not None


def rating_options() -> tuple[QuickReply, ...]:
    return tuple(QuickReply(f"rate:{score}", str(score)) for score in range(1, 6))


def rating_links(feedback: FeedbackConfig, case: int, round_: int) -> tuple[Link, ...]:
    """One link per score for e-mail, served by `GET /feedback/<token>`."""
    base = feedback.public_url.rstrip("/")
    return tuple(Link(f"{score}/5", f"{base}/feedback/{make_token(feedback.secret, case, round_, score)}")
                 for score in range(1, 6))


def ask_rating(turn: Turn, case: Case, conversation: Conversation) -> None:
    """The CSAT question after a resolve: buttons everywhere, and in e-mail a link per score when configured."""
    round_ = case.reopened
    feedback = turn.config.feedback
    turn.event(Event.RATING_ASKED, case=case.number, conversation=conversation.id, round=round_,
               channel=conversation.channel, team=case.team)
    if conversation.channel == "email" and feedback.links:
        turn.say(conversation, "rating_prompt_email", options=rating_options(),
                 links=rating_links(feedback, case.number, round_))
        return
    turn.say(conversation, "rating_prompt", options=rating_options())


def step_options(turn: Turn, conversation: Conversation, step: str) -> tuple[QuickReply, ...]:
    """The buttons of an optional question: its scale, then Skip."""
    skip = turn.option(conversation, SKIP_OPTION, "skip_button")
    if step not in SCALES:
        return (skip,)
    lowest, highest = SCALES[step]
    return (*(QuickReply(f"{step}:{score}", str(score)) for score in range(lowest, highest + 1)), skip)


def ask_step(turn: Turn, conversation: Conversation, step: str, before: str = "") -> None:
    """Ask an optional question; `before` (the thanks for the rating) opens the same message."""
    question = turn.texts.render(conversation.language, PROMPTS[step])
    turn.send(conversation, f"{before} {question}" if before else question,
              options=step_options(turn, conversation, step))
