"""Customers' files on the desk: uploaded into the case thread when they can be, a line saying what was
sent when not; once per event and file. The router in-process, Slack a loopback fake, Redis real."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.app import Helpline
from bot.settings import (
    ChannelsSettings,
    ConsoleChannelSettings,
    Settings,
    TeamSettings,
)
from channels.base import PermanentDeliveryError, TemporaryDeliveryError
from channels.slack import create
from channels.slack.adapter import SlackChannel
from channels.slack.settings import SlackSettings
from router.messages import (
    Attachment,
    DeskEvent,
    DeskEventKind,
    InboundMessage,
    Sender,
    from_json,
    inbox_fields,
    new_id,
)
from router.worker import StreamWorker
from tests.conftest import make_settings
from tests.drivers import Customer, serving
from tests.slack.conftest import SUPPORT, TEAMS, slack_section
from tests.slack.fake_slack import Failure, FakeSlack
from tests.slack.test_desk import open_case, show_desk
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi, text_update

PHOTO = b"\xff\xd8\xff\xe0 a small JPEG " * 40
MB = 1024 * 1024


class FilesChannel:
    """The customer's channel as the desk sees it: files by ref, and failures to fetch them."""

    name = "console"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.errors: dict[str, list[Exception]] = {}  # ref → what the next fetches of it raise
        self.fetched: list[str] = []

    async def fetch_attachment(self, attachment: Attachment) -> bytes | None:
        self.fetched.append(attachment.ref)
        if self.errors.get(attachment.ref):
            raise self.errors[attachment.ref].pop(0)
        return self.files.get(attachment.ref)


@pytest.fixture
def files(desk_helpline: Helpline) -> FilesChannel:
    channel = FilesChannel()
    desk_helpline.channels[channel.name] = channel  # type: ignore[assignment]
    return channel


async def send_files(helpline: Helpline, worker: StreamWorker, customer: Customer, text: str,
                     *attachments: Attachment) -> None:
    """The console customer sends `attachments` (and `text`) while their case is open."""
    message = InboundMessage(id=new_id(), channel="console", address=customer.address,
                             sender=Sender(id=customer.address, name=customer.name), text=text, attachments=attachments,
                             platform_id=new_id(), received_at=time.time())
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(message))
    await worker.drain()


def thread_lines(fake: FakeSlack, ts: str) -> list[str]:
    return [post["text"] for post in fake.posts(SUPPORT, thread_ts=ts)]


async def desk_events(helpline: Helpline, kind: DeskEventKind) -> list[DeskEvent]:
    events = [from_json(DeskEvent, fields["data"]) for _, fields in await helpline.redis.xrange(helpline.keys.desk)]
    return [event for event in events if event.kind is kind]


async def test_a_photo_under_the_limit_is_uploaded_into_the_thread(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack,
        files: FilesChannel) -> None:
    _, ts = await open_case(desk_helpline, customer, slack)
    files.files["ph-1"] = PHOTO
    await send_files(desk_helpline, worker, customer, "This is what arrived",
                     Attachment("photo.jpg", "image/jpeg", len(PHOTO), "ph-1"))
    await show_desk(desk_helpline, slack)
    [shared] = fake.files_in(SUPPORT, ts)
    assert shared.data == PHOTO and shared.title == "photo.jpg"
    assert "Ann Customer" in shared.initial_comment
    assert fake.called("files.getUploadURLExternal")[0]["length"] in (len(PHOTO), str(len(PHOTO)))
    lines = thread_lines(fake, ts)
    assert lines == ["*Ann Customer:* This is what arrived"]  # the file itself, not a line about it


async def test_files_over_the_limit_are_described_instead(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack,
        files: FilesChannel) -> None:
    _, ts = await open_case(desk_helpline, customer, slack)
    await send_files(desk_helpline, worker, customer, "",
                     Attachment("photo.jpg", "image/jpeg", int(25.3 * MB), "big-1"))
    await show_desk(desk_helpline, slack)
    assert fake.files_in(SUPPORT) == [] and files.fetched == []  # not even fetched
    assert thread_lines(fake, ts) == [
        "📎 Ann Customer sent photo.jpg (image/jpeg, 25.3 MB) — too large to copy here (over 20 MB)"]


async def test_a_file_of_unknown_size_is_capped_after_fetching(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, fake: FakeSlack,
        files: FilesChannel) -> None:
    small_desk = create(slack_section(fake, max_attachment_mb=0.25), desk_helpline.channel_context(), TEAMS)
    await small_desk._identify()
    try:
        _, ts = await open_case(desk_helpline, customer, small_desk)
        files.files["clip"] = b"x" * (MB // 2)
        await send_files(desk_helpline, worker, customer, "a clip", Attachment("clip.mp4", "video/mp4", 0, "clip"))
        await show_desk(desk_helpline, small_desk)
        assert files.fetched == ["clip"] and fake.files_in(SUPPORT) == []
        assert thread_lines(fake, ts)[-1] == \
            "📎 Ann Customer sent clip.mp4 (video/mp4, 512 KB) — too large to copy here (over 0.25 MB)"
    finally:
        await small_desk.stop()


async def test_a_redelivered_event_uploads_once(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack,
        files: FilesChannel) -> None:
    _, ts = await open_case(desk_helpline, customer, slack)
    files.files.update({"a": b"first file", "b": b"second file"})
    # The first upload gets a 503 and the second file's first fetch fails: the event is shown three times,
    # and each file goes up once. Shown again later (a redelivery after a crash), nothing is uploaded.
    fake.fail("upload", Failure(503))
    files.errors["b"] = [TemporaryDeliveryError("Telegram: timed out")]
    await send_files(desk_helpline, worker, customer, "two files",
                     Attachment("a.txt", "text/plain", 10, "a"), Attachment("b.txt", "text/plain", 11, "b"))
    await show_desk(desk_helpline, slack)
    [event] = await desk_events(desk_helpline, DeskEventKind.CUSTOMER_MESSAGE)
    await slack.show(event)  # the desk worker crashed before acknowledging: the same event again
    await desk_helpline.redis.hdel(slack.desk.key(f"shown:{event.id}"), "done")  # ... before it was marked done
    await slack.show(event)
    assert [(shared.title, shared.data) for shared in fake.files_in(SUPPORT, ts)] == [
        ("a.txt", b"first file"), ("b.txt", b"second file")]
    assert thread_lines(fake, ts) == ["*Ann Customer:* two files"]
    assert len(fake.called("upload")) == 3  # a refused with 503, a again, b
    assert len(fake.called("files.completeUploadExternal")) == 2


async def test_a_file_that_cannot_be_fetched_is_described(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack,
        files: FilesChannel) -> None:
    _, ts = await open_case(desk_helpline, customer, slack)
    files.errors["gone"] = [PermanentDeliveryError("Telegram: Bad Request: invalid file_id")]
    await send_files(desk_helpline, worker, customer, "", Attachment("scan.pdf", "application/pdf", 2048, "gone"))
    await show_desk(desk_helpline, slack)
    assert thread_lines(fake, ts)[-1] == ("📎 Ann Customer sent scan.pdf (application/pdf, 2 KB) — could not be "
                                          "fetched: Telegram: Bad Request: invalid file_id")
    assert fake.files_in(SUPPORT) == []


async def test_temporary_fetch_failures_are_retried_then_described(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack,
        files: FilesChannel) -> None:
    _, ts = await open_case(desk_helpline, customer, slack)
    files.files["later"] = b"worth the wait"
    files.errors["later"] = [TemporaryDeliveryError("Telegram: timed out")]
    await send_files(desk_helpline, worker, customer, "", Attachment("later.txt", "text/plain", 14, "later"))
    await show_desk(desk_helpline, slack)
    assert [shared.data for shared in fake.files_in(SUPPORT, ts)] == [b"worth the wait"]  # the second try
    files.errors["never"] = [TemporaryDeliveryError("Telegram: timed out")] * 3
    await send_files(desk_helpline, worker, customer, "", Attachment("never.txt", "text/plain", 5, "never"))
    await show_desk(desk_helpline, slack)
    assert thread_lines(fake, ts)[-1] == ("📎 Ann Customer sent never.txt (text/plain, 5 bytes) — could not be "
                                          "fetched: Telegram: timed out (3 tries)")


async def test_a_channel_without_files_and_a_refused_upload_are_described(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel,
        fake: FakeSlack) -> None:
    _, ts = await open_case(desk_helpline, customer, slack)  # the console channel cannot fetch files
    await send_files(desk_helpline, worker, customer, "", Attachment("a.png", "image/png", 100, "a"))
    await show_desk(desk_helpline, slack)
    assert thread_lines(fake, ts)[-1] == ("📎 Ann Customer sent a.png (image/png, 100 bytes) — could not be "
                                          "fetched: the console channel does not provide its files")
    files = FilesChannel()
    files.files["b"] = b"b" * 100
    desk_helpline.channels["console"] = files  # type: ignore[assignment]
    fake.fail("files.completeUploadExternal", Failure(200, "not_in_channel"))
    await send_files(desk_helpline, worker, customer, "", Attachment("b.png", "image/png", 100, "b"))
    await show_desk(desk_helpline, slack)
    assert thread_lines(fake, ts)[-1] == ("📎 Ann Customer sent b.png (image/png, 100 bytes) — could not be "
                                          "copied here: files.completeUploadExternal: not_in_channel")



async def test_a_case_opened_by_a_file_shows_it_under_the_notice(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack,
        files: FilesChannel) -> None:
    files.files["ph-2"] = PHOTO
    await send_files(desk_helpline, worker, customer, "", Attachment("photo.jpg", "image/jpeg", len(PHOTO), "ph-2"))
    await show_desk(desk_helpline, slack)
    [event] = await desk_events(desk_helpline, DeskEventKind.CASE_WAITING)
    ts = (await slack.desk.mapping(event.case))["ts"]
    assert [(shared.title, shared.data) for shared in fake.files_in(SUPPORT, ts)] == [("photo.jpg", PHOTO)]


# -- end to end: a Telegram customer's photo through the whole service into the Slack thread ---------------

TELEGRAM_CHAT = 8811


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.close()


@pytest.fixture
async def service(bot_api: FakeBotApi, fake: FakeSlack, prefix: str) -> AsyncIterator[Settings]:
    base = make_settings(prefix)
    settings = base.model_copy(update={
        "teams": {key: TeamSettings(name=team["name"], slack_channel=team["slack_channel"])
                  for key, team in TEAMS.items()},
        "channels": ChannelsSettings(console=ConsoleChannelSettings(enabled=False),
                                     telegram=telegram_settings(bot_api),
                                     slack=SlackSettings.model_validate(slack_section(fake)))})
    async with serving(settings):
        yield settings


async def until(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)
    return value


async def test_a_telegram_customers_photo_reaches_the_slack_thread(bot_api: FakeBotApi, fake: FakeSlack,
                                                                   service: Settings) -> None:
    await bot_api.push(text_update(1, "/human", chat_id=TELEGRAM_CHAT))
    notice = await until(lambda: fake.posts(SUPPORT))
    bot_api.files["AgACAgIAAxkBAAIB"] = PHOTO
    photo = text_update(2, "", chat_id=TELEGRAM_CHAT, caption="It arrived broken")
    del photo["message"]["text"]
    photo["message"]["photo"] = [
        {"file_id": "AgACAgIAAxkBAAIA", "file_unique_id": "s", "width": 90, "height": 67, "file_size": 1200},
        {"file_id": "AgACAgIAAxkBAAIB", "file_unique_id": "m", "width": 320, "height": 240, "file_size": len(PHOTO)}]
    await bot_api.push(photo)
    [shared] = await until(lambda: fake.files_in(SUPPORT))
    assert shared.data == PHOTO and shared.title == "photo.jpg"
    assert shared.thread_ts and "Case #" in notice[0]["text"]
    assert [call.params["file_id"] for call in bot_api.calls_of("getFile")] == ["AgACAgIAAxkBAAIB"]
    # in the case's thread, after the customer's caption
    assert any("It arrived broken" in post["text"] for post in fake.posts(SUPPORT, thread_ts=shared.thread_ts))


async def test_a_telegram_customers_edit_updates_their_message_in_the_thread(bot_api: FakeBotApi, fake: FakeSlack,
                                                                            service: Settings) -> None:
    await bot_api.push(text_update(1, "/human", chat_id=TELEGRAM_CHAT))
    await until(lambda: fake.posts(SUPPORT))
    await bot_api.push(text_update(2, "My order number is 1234", chat_id=TELEGRAM_CHAT, message_id=77))
    [posted] = await until(lambda: [post for post in fake.posts(SUPPORT) if "1234" in post["text"]])
    edit = text_update(3, "My order number is 1243", chat_id=TELEGRAM_CHAT, message_id=77, edit_date=int(time.time()))
    edit["edited_message"] = edit.pop("message")
    await bot_api.push(edit)
    [update] = await until(lambda: [call for call in fake.called("chat.update") if "1243" in call.get("text", "")])
    assert update["ts"] == posted["posted_ts"], "the edit should change the earlier thread message, not add one"
    assert update["text"].count("edited") == 1
