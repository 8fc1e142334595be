"""What the customer's feedback answers do: one answer per question, per case, per round.

The round is how many times the case was reopened when it was resolved (`Case.reopened`), so a
reopened case is asked again after its next resolve and its new answers do not overwrite the old
ones. Each round's answers live in `hl:survey:<case>:<round>`, read under WATCH in the entry's
transaction: the first answer to a question counts, a repeated one is thanked ("you have already
rated") and changes nothing, whichever way it came (button, typed, a link in e-mail).

A rating that comes after the case was closed unrated (`reopen_days` passed) still counts, with
`late=1` on its event, up to `feedback.late_days` after the close; later, the customer is told it
can no longer be recorded. A rating for a round the case has left (it was reopened since) is not
counted: the customer is told they will be asked again.

After the rating come the optional questions (`feedback.nps`, `ces`, `comment`), one at a time,
each skippable; a message that is no answer (a new question, a request for a person) ends the
survey and is handled as it would be without it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from router import lifecycle
from router.events import Event
from router.intents import Reading
from router.lifecycle import CloseReason
from router.messages import DeskEventKind
from router.pending import Surveying
from router.store import Case, CaseStatus, Conversation
from router.survey_questions import SCALES, SurveyAnswer, ask_step, is_typed_number, typed_score
from router.turn import Turn

log = logging.getLogger(__name__)

DONE = "done"
FOLLOW_UPS = ("nps", "ces", "comment")  # the steps with a Skip button
_SCORE_EVENTS = {"nps": Event.NPS_RATED, "ces": Event.CES_RATED}


async def rate(turn: Turn, case: Case, conversation: Conversation, score: int) -> None:
    """A CSAT rating for the case's current round: counted once, then the next question or thanks."""
    round_ = case.reopened
    answers = await turn.survey(case.number, round_)
    if answers.get("csat"):
        turn.event(Event.STALE_OPTION, conversation=conversation.id, case=case.number, option=f"rate:{score}",
                   why="already rated")
        turn.say(conversation, "rating_already", case=case.number)
        return
    if case.status is CaseStatus.RESOLVED:
        await lifecycle.close(turn, case, conversation, CloseReason.RATED, rating=score, thank=False)
    elif case.status is CaseStatus.CLOSED and case.resolved_at:
        if turn.now - (case.closed_at or case.resolved_at) > turn.config.feedback.late_days * 86400:
            turn.event(Event.STALE_OPTION, conversation=conversation.id, case=case.number, option=f"rate:{score}",
                       why="too late")
            turn.say(conversation, "rating_too_late", case=case.number)
            return
        # Closed unrated by time: the rating still says how the help was; the case stays closed.
        turn.save_case(case.with_changes(csat=score))
        turn.event(Event.CASE_RATED, case=case.number, conversation=conversation.id, csat=score, round=round_,
                   agent=case.last_agent, team=case.team, channel=case.channel, late=1)
        turn.log(conversation.id, "system", f"rated {score} (after the case closed)")
        turn.tell_desk(DeskEventKind.CASE_RATED, case, csat=score)
    else:
        stale(turn, conversation, case, f"rate:{score}")
        return
    turn.record_survey(case.number, round_, csat=score, rated_at=turn.now)
    _continue(turn, conversation, case, round_, after="csat")


def stale(turn: Turn, conversation: Conversation, case: Case, option: str) -> None:
    """A rating for a round the case has left (reopened since, or never resolved): not counted."""
    turn.event(Event.STALE_OPTION, conversation=conversation.id, case=case.number, option=option, why="stale round")
    turn.say(conversation, "rating_stale", case=case.number)


def _continue(turn: Turn, conversation: Conversation, case: Case, round_: int, after: str) -> None:
    """Ask the next optional question, or thank the customer once the last was answered or skipped."""
    steps = turn.config.feedback.steps
    position = steps.index(after) + 1 if after in steps else 0
    following = steps[position:] if after != DONE else ()
    # After the rating the conversation has no case (close unlinked it); when it has moved on to a new
    # case meanwhile (a late rating by link), the optional questions would only be in the way.
    free = conversation.case in (None, case.number)
    # The rating is thanked in the same message as the next question: fewer messages (and in e-mail
    # fewer automatic mails, which `auto_reply_limit` counts).
    thanks = turn.texts.render(conversation.language, "rating_thanks") if after == "csat" else ""
    if following and free:
        step = following[0]
        turn.save_conversation(replace(conversation, case=None, pending=Surveying(case.number, round_, step)))
        ask_step(turn, conversation, step, before=thanks)
        return
    if after == "csat":
        turn.say(conversation, "rating_thanks")
    else:
        turn.say(conversation, "feedback_thanks")
    if free:
        turn.save_conversation(replace(conversation, case=None, pending=Surveying(case.number, round_, DONE)))


def _finish(turn: Turn, conversation: Conversation, pending: Surveying) -> None:
    turn.say(conversation, "feedback_thanks")
    turn.save_conversation(replace(conversation, pending=replace(pending, step=DONE)))


async def _score(turn: Turn, conversation: Conversation, pending: Surveying, kind: str, score: int) -> None:
    case = await turn.case(pending.case)
    if case is None:
        return
    answers = await turn.survey(case.number, pending.round)
    if answers.get(kind):
        turn.say(conversation, "rating_already", case=case.number)
        return
    turn.record_survey(case.number, pending.round, **{kind: score})
    turn.event(_SCORE_EVENTS[kind], case=case.number, conversation=conversation.id, round=pending.round,
               team=case.team, channel=case.channel, **{kind: score})
    _continue(turn, conversation, case, pending.round, after=kind)


async def _comment(turn: Turn, conversation: Conversation, pending: Surveying, text: str) -> None:
    case = await turn.case(pending.case)
    if case is None:
        return
    answers = await turn.survey(case.number, pending.round)
    if answers.get("comment_chars"):
        return  # one comment per round: a second message is a message like any other (never reached)
    # The words are in the transcript already (every customer line is); events carry only their length.
    turn.record_survey(case.number, pending.round, comment_chars=len(text))
    turn.event(Event.FEEDBACK_COMMENT, case=case.number, conversation=conversation.id, round=pending.round,
               chars=len(text), team=case.team, channel=case.channel)
    turn.log(conversation.id, "system", f"feedback comment on case #{case.number}")
    turn.tell_desk(DeskEventKind.CUSTOMER_MESSAGE, case, text=text)  # the agents read it in the case's thread
    _continue(turn, conversation, case, pending.round, after="comment")


async def on_button(turn: Turn, conversation: Conversation, case: Case | None, answer: SurveyAnswer) -> None:
    """A survey button pressed (or a rating link followed): counted when it answers what is asked."""
    pending = conversation.pending if isinstance(conversation.pending, Surveying) else None
    if answer.kind == "csat":
        assert answer.score is not None
        target = case
        if answer.case is not None:
            target = await turn.case(answer.case)
            if target is None or target.conversation != conversation.id:
                # A link for a case of another conversation cannot come from a link we sent this customer.
                log.warning("a rating link for case #%s reached conversation %s: ignored", answer.case, conversation.id)
                turn.event(Event.STALE_OPTION, conversation=conversation.id, option="rate", why="foreign case")
                return
            if target.reopened != answer.round:
                stale(turn, conversation, target, f"rate:{answer.score}")
                return
        elif target is None and pending is not None:
            target = await turn.case(pending.case)
        if target is None:
            turn.event(Event.STALE_OPTION, conversation=conversation.id, option=f"rate:{answer.score}")
            return
        await rate(turn, target, conversation, answer.score)
        return
    if pending is None or pending.step not in FOLLOW_UPS or (answer.kind != "skip" and answer.kind != pending.step):
        if pending is not None and answer.kind in SCALES and (
                pending.step == DONE or (await turn.survey(pending.case, pending.round)).get(answer.kind)):
            turn.say(conversation, "rating_already", case=pending.case)
            return
        # A question no longer asked (skipped, or the survey gave way to a new question).
        turn.event(Event.STALE_OPTION, conversation=conversation.id, option=answer.kind)
        return
    if answer.kind == "skip":
        case_now = await turn.case(pending.case)
        if case_now is None:
            return
        _continue(turn, conversation, case_now, pending.round, after=pending.step)
        return
    assert answer.score is not None
    await _score(turn, conversation, pending, answer.kind, answer.score)


async def on_typed(turn: Turn, conversation: Conversation, pending: Surveying, text: str, reading: Reading,
                   skip_label: str, new_question: bool) -> bool:
    """A typed message while a survey question waits; False when it is no answer (the survey gives way)."""
    skipped = reading.no or text.strip().casefold() in {skip_label.casefold(), "skip"}
    if pending.step == "csat":  # a late rating of a case closed unrated
        if reading.rating is None:
            return False
        case = await turn.case(pending.case)
        if case is None:
            return False
        await rate(turn, case, conversation, reading.rating)
        return True
    if pending.step == DONE:
        if reading.rating is not None or is_typed_number(text):
            turn.say(conversation, "rating_already", case=pending.case)
            return True
        return False
    if pending.step in SCALES:
        score = typed_score(text, pending.step)
        if score is not None:
            await _score(turn, conversation, pending, pending.step, score)
            return True
        if is_typed_number(text):  # a number outside the scale: the question again
            ask_step(turn, conversation, pending.step)
            return True
    if skipped:
        case = await turn.case(pending.case)
        if case is None:
            return False
        _continue(turn, conversation, case, pending.round, after=pending.step)
        return True
    if reading.small_talk is not None and reading.small_talk != "greeting":
        _finish(turn, conversation, pending)  # "thanks", "ok", "bye": done with the questions
        return True
    if pending.step == "comment" and text and not new_question:
        await _comment(turn, conversation, pending, text)
        return True
    return False
