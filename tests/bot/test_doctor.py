"""`helpline doctor` against real servers: private redis-servers with and without persistence, the loopback
Telegram and Slack fakes, a private Dovecot and an aiosmtpd server."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from hypothesis import given
from hypothesis import strategies as st

from bot import doctor
from bot.cli import main
from bot.doctor import Finding, Level, diagnose, exit_code, render
from bot.settings import Settings
from tests.conftest import FIXTURE_KB, REDIS_URL, REPO
from tests.email.conftest import dovecot  # noqa: F401 - the private Dovecot fixture
from tests.email.dovecot import Dovecot
from tests.email.smtp_peer import SmtpPeer
from tests.slack.fake_slack import FakeSlack
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of the test's own, on a Unix socket (no port to collide with), started with `args`."""

    def __init__(self, *args: str, password: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="helpline-redis-"))
        self.socket = self.root / "redis.sock"
        self.password = password
        extra = ["--requirepass", password] if password else []
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", str(self.socket), "--dir", str(self.root), *args, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                client = sync_redis.Redis(unix_socket_path=str(self.socket), password=password)
                client.ping()
                client.close()
                return
            except sync_redis.RedisError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def url(self, password: str | None = None) -> str:
        secret = password if password is not None else self.password
        return f"unix://{':' + secret + '@' if secret else ''}{self.socket}?db=0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_redis(*args: str, password: str | None = None) -> Iterator[PrivateRedis]:
    server = PrivateRedis(*args, password=password)
    try:
        yield server
    finally:
        server.stop()


def settings_for(redis_url: str = REDIS_URL, kb: Path = FIXTURE_KB, **channels: Any) -> Settings:
    return Settings.model_validate({
        "redis": {"url": redis_url, "prefix": "hltest:doctor:"},
        "faq": {"path": str(kb)},
        "router": {"messages_path": str(REPO / "config" / "messages")},
        "channels": channels,
    })


def of(findings: list[Finding], check: str) -> list[Finding]:
    return [finding for finding in findings if finding.check == check]


def one(findings: list[Finding], check: str) -> Finding:
    [finding] = of(findings, check)
    return finding


def text_of(findings: list[Finding]) -> str:
    return render(findings)


# --- Redis -------------------------------------------------------------------------------------------------------


async def test_a_redis_without_persistence_is_an_error_said_loudly() -> None:
    with private_redis("--save", "", "--appendonly", "no") as server:
        findings = await diagnose(settings_for(server.url()))
    persistence = one(findings, "redis persistence")
    assert persistence.level is Level.ERROR and "A REDIS RESTART LOSES THE WHOLE QUEUE" in persistence.summary
    assert "appendonly yes" in persistence.fix
    assert one(findings, "redis").level is Level.OK and "Redis 7" in one(findings, "redis").summary
    assert exit_code(findings) == 1


async def test_an_append_only_file_with_fsync_always_passes() -> None:
    with private_redis("--save", "", "--appendonly", "yes", "--appendfsync", "always") as server:
        findings = await diagnose(settings_for(server.url()))
    persistence = one(findings, "redis persistence")
    assert persistence.level is Level.OK and "loses nothing" in persistence.summary
    assert [f for f in findings if f.level is Level.ERROR] == [] and exit_code(findings) == 0


async def test_snapshots_only_is_a_loud_warning() -> None:
    with private_redis("--save", "3600 1", "--appendonly", "no") as server:
        findings = await diagnose(settings_for(server.url()))
    persistence = one(findings, "redis persistence")
    assert persistence.level is Level.WARNING and "LOSES EVERYTHING SINCE THE LAST ONE" in persistence.summary
    assert exit_code(findings) == 0  # a warning, not a failure


async def test_an_evicting_redis_is_an_error() -> None:
    with private_redis("--appendonly", "yes", "--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru") as server:
        findings = await diagnose(settings_for(server.url()))
    memory = one(findings, "redis memory")
    assert memory.level is Level.ERROR and "allkeys-lru" in memory.summary and "noeviction" in memory.fix


async def test_an_unreachable_redis_is_an_error_and_the_other_checks_still_run() -> None:
    with private_redis("--appendonly", "yes") as server:
        url = server.url()
    findings = await diagnose(settings_for(url))  # the server is gone now
    redis = one(findings, "redis")
    assert redis.level is Level.ERROR and "not reachable" in redis.summary and "redis.url" in redis.fix
    assert one(findings, "knowledge base").level is Level.OK


async def test_a_wrong_redis_password_is_named_without_showing_it() -> None:
    with private_redis("--appendonly", "yes", password="right-pw-1234") as server:
        findings = await diagnose(settings_for(server.url("wrong-pw-5678")))
    redis = one(findings, "redis")
    assert redis.level is Level.ERROR and "refused the login" in redis.summary
    assert "wrong-pw-5678" not in text_of(findings) and "right-pw-1234" not in text_of(findings)


async def test_a_clock_far_from_redis_is_an_error_and_a_little_off_a_warning() -> None:
    far = await diagnose(settings_for(), now=lambda: time.time() + 600)
    assert one(far, "clock").level is Level.ERROR and "600" in one(far, "clock").summary.replace(".0s", "s")
    assert "Slack refuses" in one(far, "clock").fix
    near = await diagnose(settings_for(), now=lambda: time.time() - 20)
    assert one(near, "clock").level is Level.WARNING and "behind" in one(near, "clock").summary
    right = await diagnose(settings_for())
    assert one(right, "clock").level is Level.OK


# --- knowledge base and settings ---------------------------------------------------------------------------------


async def test_a_broken_knowledge_base_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("entries:\n  - id: x\n    questions: [unclosed\n")
    findings = await diagnose(settings_for(kb=tmp_path))
    kb = one(findings, "knowledge base")
    assert kb.level is Level.ERROR and "broken.yaml" in kb.summary and "helpline faq check" in kb.fix


def test_cli_doctor_reports_an_invalid_settings_file_and_fails(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "helpline.yaml"
    config.write_text("redis: {url: redis://127.0.0.1:6379/0}\nrouter: {workres: 3}\n")
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "ERROR config" in out and "router.workres: unknown key" in out and "helpline check-config" in out


def test_cli_doctor_json_passes_on_a_sound_installation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with private_redis("--appendonly", "yes") as server:
        config = tmp_path / "helpline.yaml"
        config.write_text(json.dumps({"redis": {"url": server.url()}, "faq": {"path": str(FIXTURE_KB)},
                                      "router": {"messages_path": str(REPO / "config" / "messages")}}))
        assert main(["--config", str(config), "doctor", "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)
    assert {f["check"] for f in findings} >= {"config", "redis", "redis persistence", "clock", "knowledge base"}
    assert not [f for f in findings if f["level"] == "error"]


# --- Telegram ----------------------------------------------------------------------------------------------------


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.close()


def telegram(api_url: str, token: str = TOKEN, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "token": token, "api_base_url": api_url, **extra}


async def test_telegram_bot_answering_is_ok(telegram_api: FakeBotApi) -> None:
    findings = await diagnose(settings_for(telegram=telegram(telegram_api.url)))
    [finding] = of(findings, "telegram")
    assert finding.level is Level.OK and "@helpline_test_bot" in finding.summary


async def test_a_rejected_telegram_token_is_an_error_and_never_shown(telegram_api: FakeBotApi) -> None:
    wrong = "999999:WRONG-token_never-shown"
    findings = await diagnose(settings_for(telegram=telegram(telegram_api.url, token=wrong)))
    finding = one(findings, "telegram")
    assert finding.level is Level.ERROR and "rejected the bot token" in finding.summary and "TELEGRAM_TOKEN" in finding.fix
    assert wrong not in text_of(findings)


async def test_an_unreachable_bot_api_is_an_error_without_the_token(telegram_api: FakeBotApi) -> None:
    url = telegram_api.url
    await telegram_api.close()
    findings = await diagnose(settings_for(telegram=telegram(url)))
    finding = one(findings, "telegram")
    assert finding.level is Level.ERROR and "not reachable" in finding.summary
    assert TOKEN not in text_of(findings)


async def test_a_webhook_left_set_while_polling_is_an_error_with_its_fix(telegram_api: FakeBotApi) -> None:
    telegram_api.webhook = {"url": "https://bot.example.test/telegram/webhook"}
    findings = await diagnose(settings_for(telegram=telegram(telegram_api.url)))
    problem = [f for f in of(findings, "telegram") if f.level is Level.ERROR]
    assert len(problem) == 1 and "helpline telegram delete-webhook" in problem[0].fix


async def test_webhook_mode_without_a_webhook_and_a_failing_webhook(telegram_api: FakeBotApi) -> None:
    section = telegram(telegram_api.url, mode="webhook", webhook_secret="s3cret")
    findings = await diagnose(settings_for(telegram=section))
    assert any(f.level is Level.ERROR and "set-webhook" in f.fix for f in of(findings, "telegram"))
    telegram_api.webhook = {"url": "https://bot.example.test/telegram/webhook",
                            "last_error_message": "Connection timed out", "last_error_date": int(time.time()) - 60}
    findings = await diagnose(settings_for(telegram=section))
    warnings = [f for f in of(findings, "telegram") if f.level is Level.WARNING]
    assert len(warnings) == 1 and "Connection timed out" in warnings[0].summary


# --- Slack -------------------------------------------------------------------------------------------------------


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    yield server
    await server.stop()


def slack(server: FakeSlack, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "bot_token": "xoxb-test", "app_token": "xapp-test", "api_base_url": server.base_url,
            **extra}


async def test_slack_tokens_that_work_and_a_missing_admin_channel(slack_api: FakeSlack) -> None:
    findings = of(await diagnose(settings_for(slack=slack(slack_api))), "slack")
    assert [f.level for f in findings] == [Level.OK, Level.OK, Level.WARNING]
    assert "Socket Mode" in findings[1].summary and "admin_channel" in findings[2].fix
    findings = of(await diagnose(settings_for(slack=slack(slack_api, admin_channel="C0ADMIN"))), "slack")
    assert [f.level for f in findings] == [Level.OK, Level.OK]


async def test_rejected_slack_tokens_are_errors_with_their_fix(slack_api: FakeSlack) -> None:
    [bot] = of(await diagnose(settings_for(slack=slack(slack_api, bot_token="xoxb-wrong"))), "slack")
    assert bot.level is Level.ERROR and "invalid_auth" in bot.summary and "SLACK_BOT_TOKEN" in bot.fix
    findings = of(await diagnose(settings_for(slack=slack(slack_api, app_token="xapp-wrong", admin_channel="C0A"))),
                  "slack")
    assert [f.level for f in findings] == [Level.OK, Level.ERROR] and "SLACK_APP_TOKEN" in findings[1].fix


# --- email -------------------------------------------------------------------------------------------------------


def email(server: Dovecot, smtp_port: int, password: str | None = None) -> dict[str, Any]:
    return {"enabled": True, "address": "support@example.com",
            "imap": {"host": "127.0.0.1", "port": server.port, "security": "none", "user": server.user,
                     "password": password or server.password},
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"}}


async def test_mailbox_and_smtp_server_that_answer(dovecot: Dovecot, smtp: SmtpPeer) -> None:  # noqa: F811
    findings = await diagnose(settings_for(email=email(dovecot, smtp.port)))
    assert one(findings, "email imap").level is Level.OK and "INBOX" in one(findings, "email imap").summary
    assert one(findings, "email smtp").level is Level.OK


async def test_a_refused_imap_login_and_an_unreachable_smtp_server(dovecot: Dovecot, smtp: SmtpPeer) -> None:  # noqa: F811
    port = smtp.port
    await smtp.stop()
    findings = await diagnose(settings_for(email=email(dovecot, port, password="not-the-password")))
    imap = one(findings, "email imap")
    assert imap.level is Level.ERROR and "login" in imap.summary.lower() and "imap.password" in imap.fix
    assert "not-the-password" not in text_of(findings)
    smtp_finding = one(findings, "email smtp")
    assert smtp_finding.level is Level.ERROR and "not reachable" in smtp_finding.summary


async def test_an_unreachable_mailbox(dovecot: Dovecot, smtp: SmtpPeer) -> None:  # noqa: F811
    dovecot.stop()
    findings = await diagnose(settings_for(email=email(dovecot, smtp.port)), timeout=3)
    imap = one(findings, "email imap")
    assert imap.level is Level.ERROR and "not reachable" in imap.summary and "imap.host" in imap.fix


async def test_a_clock_far_off_is_also_seen_against_the_platforms(telegram_api: FakeBotApi,
                                                                  slack_api: FakeSlack) -> None:
    findings = await diagnose(settings_for(telegram=telegram(telegram_api.url), slack=slack(slack_api)),
                              now=lambda: time.time() - 900)
    clocks = of(findings, "clock")
    assert [f.level for f in clocks] == [Level.ERROR] * 3
    assert {f.summary.rsplit(" ", 1)[-1] for f in clocks} == {"Redis's", f"({slack_api.base_url.split('/')[2]})'s",
                                                               f"({telegram_api.url.split('/')[2]})'s"}


# --- what doctor reads from servers, however odd ---------------------------------------------------------------

@given(st.one_of(st.none(), st.text(max_size=80),
                 st.sampled_from(["Tue, 01 Dec 2026 12:00:00 GMT", "Tue, 01 Dec 2026 12:00:00 -0000", "garbage",
                                  "Mon, 99 Foo 2026 99:99:99 GMT", "", "Tue, 01 Dec 10000 12:00:00 GMT"])))
def test_any_date_header_gives_a_clock_finding_or_none(header: str | None) -> None:
    findings = doctor._clock_from_date_header("Slack", header, time.time)
    assert all(finding.check == "clock" for finding in findings) and len(findings) <= 1


@given(st.one_of(st.text(max_size=20), st.sampled_from(["7.2.4", "6.0.16", "6.2", "255.255.255-rc1", "", "x.y"])))
def test_any_redis_version_string_is_judged(version: str) -> None:
    finding = doctor._redis_version({"redis_version": version}, "redis.test:6379/0")
    assert finding.check == "redis" and (finding.level is Level.OK) == (
        finding.summary.endswith("answers"))


def test_old_redis_versions_are_errors() -> None:
    assert doctor._redis_version({"redis_version": "6.0.16"}, "r").level is Level.ERROR
    assert doctor._redis_version({"redis_version": "6.2.0"}, "r").level is Level.OK
    assert doctor._redis_version({"redis_version": "10.0.1"}, "r").level is Level.OK
