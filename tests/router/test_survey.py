"""The feedback after a resolve, through the real router: CSAT once per case and round, then the optional
NPS, effort and comment questions, each skippable; repeated, late and stale answers."""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest

from bot.settings import Settings
from router.messages import ActionKind
from router.sweeper import close_unrated
from tests.conftest import REDIS_URL, REPO
from tests.drivers import Agent, Customer, case_hash, events

FIXTURE_KB = REPO / "tests" / "fixtures" / "kb"


def survey_settings(prefix: str, **feedback: object) -> Settings:
    return Settings.model_validate({
        "redis": {"url": REDIS_URL, "prefix": prefix},
        "languages": ["en", "el", "lv", "hu"],
        "faq": {"path": str(FIXTURE_KB), "answer_at": 0.82, "suggest_at": 0.45},
        "teams": {"support": {"name": "Customer Support"}, "billing": {"name": "Billing"}},
        "router": {"default_team": "support", "messages_path": str(REPO / "config" / "messages")},
        "http": {"port": 0},
        "feedback": feedback,
    })


@pytest.fixture
def settings(prefix: str) -> Settings:
    return survey_settings(prefix, nps=True, ces=True, comment=True)


def texts(helpline, key: str, **values: object) -> str:
    return helpline.texts.render("en", key, **values)


async def resolved_case(customer: Customer, agent: Agent) -> int:
    replies = await customer.say("I want to talk to a human")
    number = int(re.search(r"#(\d+)", replies[-1].text).group(1))  # type: ignore[union-attr]
    assert (await agent.act(ActionKind.CLAIM, number))["ok"]
    assert (await agent.act(ActionKind.RESOLVE, number))["ok"]
    await customer.inbox()
    return number


def of_type(all_events: list[dict[str, str]], kind: str) -> list[dict[str, str]]:
    return [event for event in all_events if event["type"] == kind]


async def test_rating_then_nps_effort_and_comment_with_their_events(customer: Customer, agent: Agent,
                                                                    helpline) -> None:
    number = await resolved_case(customer, agent)
    asked = of_type(await events(helpline), "rating_asked")
    assert [(e["case"], e["round"], e["channel"], e["team"]) for e in asked] == [(str(number), "0", "console",
                                                                                  "support")]
    replies = await customer.say("", option="rate:4")
    assert [reply.text for reply in replies] == [f'{texts(helpline, "rating_thanks")} {texts(helpline, "nps_prompt")}']
    assert [o.value for o in replies[-1].options] == [*(f"nps:{n}" for n in range(11)), "skip"]
    replies = await customer.say("9")
    assert [reply.text for reply in replies] == [texts(helpline, "ces_prompt")]
    assert [o.value for o in replies[-1].options] == [*(f"ces:{n}" for n in range(1, 8)), "skip"]
    replies = await customer.say("", option="ces:6")
    assert [reply.text for reply in replies] == [texts(helpline, "comment_prompt")]
    assert [o.value for o in replies[-1].options] == ["skip"]
    comment = "Maria was quick and very kind, thank you for that"
    replies = await customer.say(comment)
    assert [reply.text for reply in replies] == [texts(helpline, "feedback_thanks")]

    happened = await events(helpline)
    rated = of_type(happened, "case_rated")
    assert len(rated) == 1
    assert {k: rated[0][k] for k in ("case", "csat", "round", "agent", "team", "channel")} == {
        "case": str(number), "csat": "4", "round": "0", "agent": "maria", "team": "support", "channel": "console"}
    nps, = of_type(happened, "nps_rated")
    assert (nps["case"], nps["nps"], nps["round"], nps["team"], nps["channel"]) == (str(number), "9", "0",
                                                                                   "support", "console")
    ces, = of_type(happened, "ces_rated")
    assert (ces["ces"], ces["round"]) == ("6", "0")
    remark, = of_type(happened, "feedback_comment")
    assert (remark["case"], remark["round"], remark["chars"]) == (str(number), "0", str(len(comment)))
    assert all(comment not in value for event in happened for value in event.values())  # the words: transcript only
    conversation = (await case_hash(helpline, number))["conversation"]
    transcript = [fields for _, fields in await helpline.redis.xrange(helpline.keys.transcript(conversation))]
    assert any(line["role"] == "customer" and line["text"] == comment for line in transcript)
    assert await helpline.redis.hgetall(helpline.keys.survey(number, 0)) | {"rated_at": ""} == {
        "csat": "4", "nps": "9", "ces": "6", "comment_chars": str(len(comment)), "rated_at": ""}
    case = await case_hash(helpline, number)
    assert case["status"] == "closed" and case["csat"] == "4"

    # The survey is over: the bot answers questions again.
    replies = await customer.say("How long does delivery take?")
    assert replies[0].text == "Delivery takes 2 to 4 working days."


async def test_the_comment_reaches_the_agents_desk(customer: Customer, agent: Agent, helpline) -> None:
    helpline.router.config = dataclasses.replace(helpline.router.config, desk=True)
    number = await resolved_case(customer, agent)
    await customer.say("", option="rate:5")
    await customer.say("", option="skip")
    await customer.say("", option="skip")
    await customer.say("The <b>courier</b> was rude, but Maria fixed it")
    shown = [json.loads(fields["data"]) for _, fields in await helpline.redis.xrange(helpline.keys.desk)]
    assert [(e["kind"], e["case"], e["text"]) for e in shown if e["kind"] == "customer_message"][-1] == (
        "customer_message", number, "The <b>courier</b> was rude, but Maria fixed it")


async def test_every_question_can_be_skipped(customer: Customer, agent: Agent, helpline) -> None:
    number = await resolved_case(customer, agent)
    await customer.say("5")
    assert [r.text for r in await customer.say("", option="skip")] == [texts(helpline, "ces_prompt")]
    assert [r.text for r in await customer.say("skip")] == [texts(helpline, "comment_prompt")]
    assert [r.text for r in await customer.say("no")] == [texts(helpline, "feedback_thanks")]
    happened = await events(helpline)
    assert len(of_type(happened, "case_rated")) == 1
    assert not of_type(happened, "nps_rated") + of_type(happened, "ces_rated") + of_type(happened, "feedback_comment")
    assert (await case_hash(helpline, number))["csat"] == "5"


async def test_a_new_question_instead_of_an_answer_is_handled_as_usual(customer: Customer, agent: Agent,
                                                                       helpline) -> None:
    await resolved_case(customer, agent)
    await customer.say("", option="rate:5")
    replies = await customer.say("How long does delivery take?")  # instead of a 0-10 answer
    assert replies[0].text == "Delivery takes 2 to 4 working days."
    assert not of_type(await events(helpline), "nps_rated")
    # The survey gave way for good: a later number is not taken as an NPS answer.
    await customer.say("", option="yes")
    assert not of_type(await events(helpline), "nps_rated")


async def test_a_question_where_a_comment_is_invited_is_answered_not_kept(customer: Customer, agent: Agent,
                                                                          helpline) -> None:
    await resolved_case(customer, agent)
    await customer.say("", option="rate:3")
    await customer.say("", option="skip")
    await customer.say("", option="skip")
    replies = await customer.say("can i pay by card?")
    assert not of_type(await events(helpline), "feedback_comment")
    assert texts(helpline, "feedback_thanks") not in [reply.text for reply in replies]
    replies = await customer.say("I want to talk to a human")  # and a request for a person opens a new case
    assert "case_opened" in [e["type"] for e in await events(helpline)][-12:]
    assert len(of_type(await events(helpline), "case_opened")) == 2


async def test_a_score_outside_the_scale_asks_again(customer: Customer, agent: Agent, helpline) -> None:
    await resolved_case(customer, agent)
    await customer.say("", option="rate:5")
    assert [r.text for r in await customer.say("11")] == [texts(helpline, "nps_prompt")]
    assert [r.text for r in await customer.say("10/10")] == [texts(helpline, "ces_prompt")]
    assert of_type(await events(helpline), "nps_rated")[0]["nps"] == "10"


async def test_a_repeated_rating_is_thanked_and_the_first_counts(customer: Customer, agent: Agent, helpline,
                                                                 settings: Settings) -> None:
    number = await resolved_case(customer, agent)
    await customer.say("", option="rate:5")
    replies = await customer.say("", option="rate:2")  # the old buttons pressed again
    assert [r.text for r in replies] == [texts(helpline, "rating_already", case=number)]
    await customer.say("", option="skip")
    await customer.say("", option="skip")
    await customer.say("", option="skip")
    replies = await customer.say("1")  # typed after the survey
    assert [r.text for r in replies] == [texts(helpline, "rating_already", case=number)]
    replies = await customer.say("", option="nps:3")  # a question already skipped
    assert [r.text for r in replies] == [texts(helpline, "rating_already", case=number)]
    assert [e["csat"] for e in of_type(await events(helpline), "case_rated")] == ["5"]
    assert (await case_hash(helpline, number))["csat"] == "5"


async def test_a_redelivered_rating_counts_once(customer: Customer, agent: Agent, helpline) -> None:
    await resolved_case(customer, agent)
    await customer.say("", option="rate:4", platform_id="callback:77")
    assert await customer.say("", option="rate:4", platform_id="callback:77") == []
    assert len(of_type(await events(helpline), "case_rated")) == 1


async def test_a_reopened_case_is_asked_again_and_both_rounds_count(customer: Customer, agent: Agent,
                                                                    helpline) -> None:
    number = await resolved_case(customer, agent)
    await customer.say("", option="rate:2")
    await customer.say("", option="skip")
    await customer.say("", option="skip")
    await customer.say("", option="skip")
    assert (await agent.act(ActionKind.REOPEN, number))["ok"]
    await customer.inbox()
    # A button of the first round pressed while the case is open again: not counted.
    replies = await customer.say("", option="rate:1")
    assert [r.text for r in replies] == [texts(helpline, "rating_stale", case=number)]
    assert (await agent.act(ActionKind.RESOLVE, number))["ok"]
    prompt = (await customer.inbox())[-1]
    assert prompt.text == texts(helpline, "rating_prompt")
    await customer.say("", option="rate:5")
    happened = await events(helpline)
    assert [(e["round"]) for e in of_type(happened, "rating_asked")] == ["0", "1"]
    assert [(e["round"], e["csat"]) for e in of_type(happened, "case_rated")] == [("0", "2"), ("1", "5")]
    assert (await helpline.redis.hget(helpline.keys.survey(number, 0), "csat")) == "2"
    assert (await helpline.redis.hget(helpline.keys.survey(number, 1), "csat")) == "5"


async def test_a_rating_after_the_case_closed_unrated_counts_as_late(customer: Customer, agent: Agent,
                                                                     helpline, settings: Settings) -> None:
    number = await resolved_case(customer, agent)
    reopen_days = settings.router.reopen_days
    assert await close_unrated(helpline.redis, helpline.keys, reopen_days, now=time.time() + (reopen_days + 1) * 86400) == 1
    await helpline.router_workers(1, tag="sweep")[0].drain()
    assert (await case_hash(helpline, number))["status"] == "closed"
    replies = await customer.say("4")
    assert [r.text for r in replies] == [f'{texts(helpline, "rating_thanks")} {texts(helpline, "nps_prompt")}']
    rated, = of_type(await events(helpline), "case_rated")
    assert (rated["csat"], rated["late"], rated["round"]) == ("4", "1", "0")
    case = await case_hash(helpline, number)
    assert case["status"] == "closed" and case["csat"] == "4"
    assert [e["why"] for e in of_type(await events(helpline), "case_closed")] == ["not_rated"]


async def test_a_rating_long_after_the_close_is_not_recorded(customer: Customer, agent: Agent, helpline,
                                                             settings: Settings) -> None:
    number = await resolved_case(customer, agent)
    later = time.time() + (settings.router.reopen_days + 1) * 86400
    await close_unrated(helpline.redis, helpline.keys, settings.router.reopen_days, now=later)
    await helpline.router_workers(1, tag="sweep")[0].drain()
    helpline.router.clock = lambda: later + (settings.feedback.late_days + 1) * 86400
    replies = await customer.say("", option="rate:5")
    assert [r.text for r in replies] == [texts(helpline, "rating_too_late", case=number)]
    assert not of_type(await events(helpline), "case_rated")
    assert (await case_hash(helpline, number))["csat"] == "0"


async def test_without_the_optional_questions_the_rating_ends_it(prefix: str, redis) -> None:
    from redis.asyncio import Redis

    from bot.app import Helpline

    helpline = Helpline(survey_settings(prefix), redis=Redis.from_url(REDIS_URL, decode_responses=True))
    try:
        worker = helpline.router_workers(1, tag="plain")[0]
        customer, agent = Customer(helpline, worker), Agent(helpline, worker, "Maria")
        number = await resolved_case(customer, agent)
        assert [r.text for r in await customer.say("", option="rate:5")] == [texts(helpline, "rating_thanks")]
        assert [r.text for r in await customer.say("5")] == [texts(helpline, "rating_already", case=number)]
        replies = await customer.say("thanks")
        assert replies and texts(helpline, "rating_already", case=number) not in [r.text for r in replies]
    finally:
        await helpline.close()


async def test_an_earlier_questions_button_after_answering_it_is_thanked(customer: Customer, agent: Agent,
                                                                         helpline) -> None:
    number = await resolved_case(customer, agent)
    await customer.say("", option="rate:4")
    await customer.say("", option="nps:8")  # now the effort question waits
    replies = await customer.say("", option="nps:2")
    assert [r.text for r in replies] == [texts(helpline, "rating_already", case=number)]
    replies = await customer.say("", option="ces:5")  # and the question asked still takes its answer
    assert [r.text for r in replies] == [texts(helpline, "comment_prompt")]
    assert [e["nps"] for e in of_type(await events(helpline), "nps_rated")] == ["8"]
