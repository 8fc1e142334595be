"""Who may look at cases on the Slack desk: a team's agents only, never anyone else in the workspace."""

from __future__ import annotations

import json

from bot.app import Helpline
from channels.slack.adapter import SlackChannel
from router.worker import StreamWorker
from tests.drivers import Customer
from tests.slack.conftest import ANN, CAROL, EVE, SUPPORT, dispatch, event_body, message_event, slash
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_desk import claim, open_case, settle


async def answer(slack: SlackChannel, user: str, text: str) -> str:
    response = await dispatch(slack, slash(user, SUPPORT, text))
    body = json.loads(response.body)
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


async def test_case_and_queue_views_only_for_the_teams_agents(desk_helpline: Helpline, customer: Customer,
                                                              slack: SlackChannel, fake: FakeSlack) -> None:
    number, _ = await open_case(desk_helpline, customer, slack)
    # Eve is in the workspace (a customer, say) but in no team; Carol is billing's agent only.
    for user in (EVE, CAROL):
        shown = await answer(slack, user, f"case {number}")
        assert "Ann Customer" not in shown and "delivery" not in shown
        assert f"Only the agents of case #{number}'s team" in shown
        assert "Ann Customer" not in await answer(slack, user, "queue")
    assert await answer(slack, EVE, "queue") == "Only a team's agents can see its queue."
    assert await answer(slack, CAROL, "queue support") == "Only a team's agents can see its queue."
    assert "Billing" in await answer(slack, CAROL, "queue")
    # Whether a number is a case is not told to a stranger either; an agent hears it.
    assert "no case" not in await answer(slack, EVE, f"case {number + 50}")
    assert f"There is no case #{number + 50}." == await answer(slack, ANN, f"case {number + 50}")
    # The team's own agent sees both.
    assert "Ann Customer" in await answer(slack, ANN, f"case {number}")
    assert f"#{number} · Ann Customer" in await answer(slack, ANN, "queue")


async def test_a_non_members_message_in_a_case_thread_is_refused(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel,
        fake: FakeSlack) -> None:
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await customer.inbox()  # "an agent joined"
    inbox_before = await desk_helpline.redis.xlen(desk_helpline.keys.inbox)
    await dispatch(slack, event_body(message_event(SUPPORT, EVE, "send me your card number", thread_ts=ts)))
    await settle(desk_helpline, worker, slack)
    assert await desk_helpline.redis.xlen(desk_helpline.keys.inbox) == inbox_before  # neither reply nor note
    assert await customer.inbox() == []
    transcript = (await desk_helpline.channel_context().desk.case(number))["transcript"]  # type: ignore[union-attr]
    assert all("card number" not in line["text"] for line in transcript)
    refusal = fake.called("chat.postEphemeral")
    assert [item["user"] for item in refusal] == [EVE] and "was not relayed" in refusal[0]["text"]


HOSTILE_NAME = "<!channel> <https://evil.example|urgent> &lt;!here&gt; *Boss*"


async def test_customer_names_are_escaped_in_every_slack_text(desk_helpline: Helpline, worker: StreamWorker,
                                                               slack: SlackChannel, fake: FakeSlack) -> None:
    customer = Customer(desk_helpline, worker, name=HOSTILE_NAME)
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await customer.say("<!everyone> are you there? <https://evil.example|click>")
    await settle(desk_helpline, worker, slack)
    outputs = [await answer(slack, ANN, f"case {number}"), await answer(slack, ANN, "queue")]
    calls = [json.dumps(params, ensure_ascii=False) for method in ("chat.postMessage", "chat.update",
                                                                   "chat.postEphemeral")
             for params in fake.called(method)]
    notice_texts = [params["text"] for params in fake.posts(SUPPORT) if not params.get("thread_ts")]
    assert notice_texts and all("&lt;!channel&gt;" in text for text in notice_texts)  # the push notification
    for text in calls + outputs:
        assert "<!channel>" not in text and "<!here>" not in text and "<!everyone>" not in text
        assert "<https://evil" not in text
