"""Admin alerts (e.g. a mailbox that cannot be reached) go to the desk's admin channel."""

from __future__ import annotations

from bot.app import Helpline
from channels.slack import create
from tests.slack.conftest import TEAMS, slack_section
from tests.slack.fake_slack import FakeSlack

ADMINS = "C0ADMINS"


async def test_alerts_are_posted_escaped_in_the_admin_channel(fake: FakeSlack, desk_helpline: Helpline) -> None:
    channel = create(slack_section(fake, admin_channel=ADMINS), desk_helpline.channel_context(), TEAMS)
    desk_helpline.channels["slack"] = channel
    try:
        await desk_helpline.channel_context().alert("📭 mailbox <imap.example.com> unreachable")  # type: ignore[misc]
        [post] = fake.posts(ADMINS)
        assert post["text"] == "📭 mailbox &lt;imap.example.com&gt; unreachable"
    finally:
        await channel.stop()


async def test_without_an_admin_channel_nothing_is_posted(fake: FakeSlack, desk_helpline: Helpline) -> None:
    channel = create(slack_section(fake), desk_helpline.channel_context(), TEAMS)
    try:
        await channel.alert("mailbox down")
        assert fake.posts() == []
    finally:
        await channel.stop()
