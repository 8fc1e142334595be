"""The report of what the real router wrote: customers and an agent through the real streams."""

from __future__ import annotations

import time

from router.messages import ActionKind
from router.report import ReportQuery, build_report
from tests.drivers import Agent, Customer
from tests.router.test_flow import case_number_in


async def test_a_report_of_real_conversations(helpline, worker, agent: Agent) -> None:
    start = time.time()
    answered = Customer(helpline, worker)
    replies = await answered.say("How long does delivery take?")
    assert replies and replies[0].author == "bot"
    await answered.say("", option="yes")  # it helped

    rated = Customer(helpline, worker)
    first = case_number_in((await rated.say("agent please"))[-1].text)
    await agent.act(ActionKind.CLAIM, first)
    await agent.act(ActionKind.REPLY, first, text="Let me check.")
    await agent.act(ActionKind.RESOLVE, first)
    await rated.say("", option="rate:5")

    reopened = Customer(helpline, worker)
    second = case_number_in((await reopened.say("agent please"))[-1].text)
    await agent.act(ActionKind.CLAIM, second)
    await agent.act(ActionKind.RESOLVE, second)  # resolved without a word: no first response in round 0
    await reopened.say("actually it is still broken")
    await agent.act(ActionKind.REPLY, second, text="Sorry, fixed now.")
    await agent.act(ActionKind.RESOLVE, second)
    await reopened.say("", option="rate:4")  # the reopened round is rated again

    report = (await build_report(helpline.redis, helpline.keys,
                                 ReportQuery(since=start - 1, until=time.time() + 1, bucket_seconds=60))).to_json()
    assert report["conversations"] == 3
    assert report["deflection_rate"] == round(1 / 3, 4) and report["handoff_rate"] == round(2 / 3, 4)
    assert report["cases"] == {"opened": 2, "resolved": 3, "reopened": 1, "backlog": 0}
    # No sender runs here, so no delivery reports: each round's first agent_reply stands in.
    assert report["first_response_seconds"]["count"] == 2
    assert report["resolution_seconds"]["count"] == 3
    assert report["first_contact_resolution"] == 0.5  # the first case, not the reopened one
    assert report["csat"]["responses"] == 2 and report["csat"]["score"] == 1.0
    assert report["csat"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert set(report["by_agent"]) == {"maria"} and set(report["by_team"]) == {"support"}
    assert report["by_channel"]["console"]["conversations"] == 3
    assert report["top_entries"][0]["answered"] == 1 and report["top_entries"][0]["resolved_rate"] == 1.0
