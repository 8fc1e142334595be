"""`helpline doctor`: is this installation ready to serve, and if not, what to do about it.

Each check gives `Finding`s: what was looked at, ok / warning / error, what is wrong, how to fix it.
Checks: the settings file (and the bot's texts), Redis (reachable, version, persistence: a restart
that would lose the queue is an error, said loudly; eviction; a replica), the clock (against Redis
and the platforms' Date headers), the knowledge base, and each enabled channel's credentials and
reachability (Telegram getMe and its webhook, Slack auth.test and Socket Mode, IMAP login, SMTP).

Nothing here raises on a broken installation: every failure is a finding. Secrets never appear in
a finding (a bot token in a URL is replaced by `<token>`).
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from bot.redis_connect import connect
from bot.redis_url import RedisUrlError, parse_redis_url
from bot.settings import CONFIG_ENV_VAR, DEFAULT_CONFIG, Settings, SettingsError, load_settings

MIN_REDIS_VERSION = (6, 2)  # XAUTOCLAIM, XADD MINID
CLOCK_WARN_SECONDS = 5.0
CLOCK_ERROR_SECONDS = 300.0  # Slack refuses requests signed more than 5 minutes from our clock
DEFAULT_TIMEOUT_SECONDS = 10.0
SLACK_API = "https://slack.com/api/"
Clock = Callable[[], float]


class Level(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    """One result: which check, how bad, what is the matter, and how to fix it (empty when ok)."""

    check: str
    level: Level
    summary: str
    fix: str = ""


def ok(check: str, summary: str) -> Finding:
    return Finding(check, Level.OK, summary)


def warning(check: str, summary: str, fix: str) -> Finding:
    return Finding(check, Level.WARNING, summary, fix)


def error(check: str, summary: str, fix: str) -> Finding:
    return Finding(check, Level.ERROR, summary, fix)


# --- the whole diagnosis ---------------------------------------------------------------------------------------


async def diagnose_file(config: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                        now: Clock = time.time) -> list[Finding]:
    """Every check, starting from the settings file (`--config`, else $HELPLINE_CONFIG, else the default)."""
    settings, findings = check_config(config)
    if settings is None:
        return findings  # without settings there is nothing else to look at
    return findings + await diagnose(settings, timeout=timeout, now=now)


async def diagnose(settings: Settings, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                   now: Clock = time.time) -> list[Finding]:
    """Every check but the settings file's: Redis and the clock, the knowledge base, each enabled channel."""
    checks: list[Awaitable[list[Finding]]] = [check_redis(settings, timeout, now)]
    channels = settings.channels
    if channels.telegram.enabled:
        checks.append(check_telegram(settings, timeout, now))
    if channels.slack.enabled:
        checks.append(check_slack(settings, timeout, now))
    if channels.email.enabled:
        checks.append(check_imap(settings, timeout))
        checks.append(check_smtp(settings, timeout))
    results = await asyncio.gather(*(_bounded(check, timeout * 3) for check in checks))
    findings = [finding for result in results for finding in result]
    return findings + check_knowledge_base(settings) + check_wiring(settings)


async def _bounded(check: Awaitable[list[Finding]], seconds: float) -> list[Finding]:
    """A check that hangs or breaks is itself a finding, never a traceback."""
    try:
        return await asyncio.wait_for(check, seconds)
    except TimeoutError:
        return [error("doctor", f"a check did not finish in {seconds:.0f}s", "run again; if it repeats, look "
                      "at the network between this machine and the server that check talks to")]
    except Exception as failure:  # noqa: BLE001 - a bug in a check must not hide the other findings
        return [error("doctor", f"a check failed: {type(failure).__name__}: {failure}",
                      "report this; the other findings stand")]


def exit_code(findings: Sequence[Finding]) -> int:
    """1 when any finding is an error, else 0 (warnings do not fail)."""
    return 1 if any(finding.level is Level.ERROR for finding in findings) else 0


def render(findings: Sequence[Finding]) -> str:
    """The findings for a terminal: one line each, the fix under it, a count at the end."""
    width = max((len(finding.check) for finding in findings), default=0)
    mark = {Level.OK: "ok   ", Level.WARNING: "WARN ", Level.ERROR: "ERROR"}
    lines = []
    for finding in findings:
        lines.append(f"{mark[finding.level]} {finding.check.ljust(width)}  {finding.summary}")
        if finding.fix:
            lines.append(f"      {' ' * width}  fix: {finding.fix}")
    errors = sum(finding.level is Level.ERROR for finding in findings)
    warnings = sum(finding.level is Level.WARNING for finding in findings)
    lines.append(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    return "\n".join(lines)


def render_json(findings: Sequence[Finding]) -> str:
    return json.dumps([{**asdict(finding), "level": finding.level.value} for finding in findings],
                      ensure_ascii=False, indent=2)


# --- settings ---------------------------------------------------------------------------------------------------


def check_config(config: str | None) -> tuple[Settings | None, list[Finding]]:
    """The settings file validates, and the bot's texts load from the folder it names."""
    from router.texts import TextsError, load_texts

    if config is None and not os.environ.get(CONFIG_ENV_VAR) and not DEFAULT_CONFIG.exists():
        settings = Settings()
        findings = [warning("config", f"no settings file ({DEFAULT_CONFIG} is absent): built-in defaults",
                            f"copy config/helpline.yaml from the repository, or name yours with --config or "
                            f"${CONFIG_ENV_VAR}")]
    else:
        try:
            settings = load_settings(config)
        except SettingsError as failure:
            return None, [error("config", str(failure), "correct the key named above; `helpline check-config` "
                                "checks the file again")]
        findings = [ok("config", f"{config or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG} is valid")]
    try:
        load_texts(settings.router.messages_path, settings.languages)
    except TextsError as failure:
        findings.append(error("config", f"the bot's texts do not load: {failure}",
                              f"fix the file named, or point router.messages_path at the folder of "
                              f"<language>.yaml files (now {settings.router.messages_path})"))
    return settings, findings


def check_wiring(settings: Settings) -> list[Finding]:
    """Settings that validate one by one but do not work together."""
    findings = []
    channels = settings.channels
    if not settings.http.enabled:
        for name, needs in (("telegram", channels.telegram.enabled and channels.telegram.mode == "webhook"),
                            ("slack", channels.slack.enabled and channels.slack.mode == "http")):
            if needs:
                findings.append(error(name, "its webhook needs the HTTP server, and http.enabled is false",
                                      "set http.enabled: true (or use polling / Socket Mode)"))
    if not channels.slack.enabled:
        findings.append(warning("desk", "the Slack desk is off: agents can work cases with the `helpline case` "
                                "commands only, and admin alerts go to the log only",
                                "enable channels.slack to give agents their queue channels"))
    return findings


# --- Redis and the clock ----------------------------------------------------------------------------------------


# redis-py reports a refused AUTH as a plain ConnectionError on some paths; Redis's own words tell it.
_AUTH_REFUSED = re.compile(r"WRONGPASS|NOAUTH|invalid username-password|Authentication required", re.IGNORECASE)


def redis_location(settings: Settings) -> str:
    """The configured Redis without its password: host:port/db."""
    try:
        return parse_redis_url(settings.redis.url.get_secret_value()).location()
    except RedisUrlError:
        return "?"  # settings validation refuses such a URL before the doctor runs


async def check_redis(settings: Settings, timeout: float, now: Clock = time.time) -> list[Finding]:
    """Reachable, new enough, writable, persistent, never evicting; and this machine's clock against Redis's."""
    where = redis_location(settings)
    client = connect(settings.redis.url.get_secret_value(), settings.redis.prefix,
                     socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        try:
            info = await client.info()
        except (RedisError, OSError) as failure:
            if isinstance(failure, AuthenticationError) or _AUTH_REFUSED.search(str(failure)):
                return [error("redis", f"Redis at {where} refused the login: {failure}",
                              "put the right password in redis.url (REDIS_URL), e.g. redis://:PASSWORD@host:6379/0")]
            return [error("redis", f"Redis at {where} is not reachable: {type(failure).__name__}: {failure}",
                          "start Redis, or point redis.url (REDIS_URL) at the one Helpline should use")]
        findings = [_redis_version(info, where)]
        if info.get("role") not in (None, "master"):
            findings.append(error("redis", f"{where} is a read-only replica", "point redis.url at the primary "
                                  "(with Sentinel, at the master the sentinels name)"))
        config = await _redis_config(client, ("appendonly", "appendfsync", "save"))
        findings += _redis_persistence(info, config, now)
        findings += _redis_memory(info)
        findings.append(await _clock_against_redis(client, now))
        return findings
    finally:
        await client.aclose()


def _redis_version(info: dict[str, Any], where: str) -> Finding:
    version = str(info.get("redis_version", "0"))
    numbers = tuple(int(part) if part.isascii() and part.isdigit() else 0 for part in version.split(".")[:2])
    if numbers < MIN_REDIS_VERSION:
        return error("redis", f"Redis {version} at {where} is too old: Helpline needs "
                     f"{'.'.join(map(str, MIN_REDIS_VERSION))} or newer (XAUTOCLAIM)", "upgrade Redis (7.x)")
    return ok("redis", f"Redis {version} at {where} answers")


async def _redis_config(client: Redis, names: Sequence[str]) -> dict[str, str] | None:
    """CONFIG GET of `names`, or None where CONFIG is disabled (managed services rename it)."""
    try:
        values: dict[str, str] = {}
        for name in names:
            values.update(await client.config_get(name))
        return values
    except ResponseError:
        return None


_PERSISTENCE_FIX = ("turn on the append-only file: `appendonly yes` and `appendfsync everysec` in redis.conf "
                    "(or CONFIG SET appendonly yes, then CONFIG REWRITE)")


def _redis_persistence(info: dict[str, Any], config: dict[str, str] | None, now: Clock) -> list[Finding]:
    check = "redis persistence"
    findings = []
    if info.get("aof_last_write_status") == "err" or info.get("rdb_last_bgsave_status") == "err":
        findings.append(error(check, "Redis's last write to disk FAILED: what it holds is not safe on disk",
                              "look at the Redis log (a full or read-only disk is the usual cause)"))
    aof = str(info.get("aof_enabled", "0")) == "1"
    save = None if config is None else config.get("save", "")
    if aof:
        fsync = (config or {}).get("appendfsync", "")
        if fsync == "always":
            findings.append(ok(check, "append-only file on, fsync always: a restart or crash loses nothing"))
        elif fsync == "no":
            findings.append(warning(check, "append-only file on, but fsync is left to the OS: a power loss can "
                                    "lose the last ~30 s of messages", "set `appendfsync everysec`"))
        else:
            findings.append(ok(check, "append-only file on (fsync every second): a restart loses nothing; a power "
                               "loss at most the last second" if fsync else "append-only file on"))
    elif save:
        last = info.get("rdb_last_save_time")
        age = f" (the last one {now() - float(last):.0f}s ago)" if last else ""
        findings.append(warning(check, f"ONLY SNAPSHOTS (save \"{save}\"){age}: A CRASH OR KILL OF REDIS LOSES "
                                "EVERYTHING SINCE THE LAST ONE: waiting cases, conversations, unsent replies",
                                _PERSISTENCE_FIX))
    elif save is None:
        findings.append(warning(check, "the append-only file is off and CONFIG is disabled, so whether snapshots "
                                "are taken cannot be seen: A RESTART MAY LOSE THE QUEUE",
                                "ask your Redis provider for persistence (AOF), or " + _PERSISTENCE_FIX))
    else:
        findings.append(error(check, "NO PERSISTENCE: A REDIS RESTART LOSES THE WHOLE QUEUE: every waiting case, "
                              "every conversation and every message not yet answered", _PERSISTENCE_FIX))
    return findings


def _redis_memory(info: dict[str, Any]) -> list[Finding]:
    limit = int(info.get("maxmemory", 0) or 0)
    policy = str(info.get("maxmemory_policy", "noeviction"))
    if limit <= 0:
        return []
    findings = []
    if policy != "noeviction":
        findings.append(error("redis memory", f"when full, Redis evicts keys (maxmemory-policy {policy}): queued "
                              "cases and unprocessed messages would vanish without a trace",
                              "set `maxmemory-policy noeviction` (CONFIG SET maxmemory-policy noeviction)"))
    used = int(info.get("used_memory", 0) or 0)
    if used > 0.9 * limit:
        findings.append(warning("redis memory", f"{used / limit:.0%} of maxmemory in use: writes will be refused "
                                "soon", "raise maxmemory, or trim old data (dead letters, events)"))
    return findings


async def _clock_against_redis(client: Redis, now: Clock) -> Finding:
    before = now()
    seconds, microseconds = await client.time()
    after = now()
    return clock_finding("Redis", (before + after) / 2 - (seconds + microseconds / 1e6))


def clock_finding(against: str, skew: float) -> Finding:
    """This machine's clock `skew` seconds ahead of (or behind, negative) `against`'s."""
    direction = "ahead of" if skew > 0 else "behind"
    text = f"this machine's clock is {abs(skew):.1f}s {direction} {against}'s"
    fix = ("run time synchronisation (chrony, or `timedatectl set-ntp true`) here and on the other machines; case "
           "times and KPIs are taken from the clock")
    if abs(skew) >= CLOCK_ERROR_SECONDS:
        return error("clock", text, fix + ", and Slack refuses requests signed more than 5 minutes away from it")
    if abs(skew) >= CLOCK_WARN_SECONDS:
        return warning("clock", text, fix)
    return ok("clock", f"within {CLOCK_WARN_SECONDS:g}s of {against}'s ({skew:+.1f}s)")


def _clock_from_date_header(against: str, header: str | None, now: Clock) -> list[Finding]:
    """A platform's HTTP Date header (whole seconds) as a second opinion on the clock; only when far off."""
    if not header:
        return []
    try:
        theirs = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return []
    skew = now() - theirs
    # Whole seconds and the request's own time: only a clearly wrong clock is worth a finding here.
    return [clock_finding(against, skew)] if abs(skew) >= CLOCK_ERROR_SECONDS else []


# --- the knowledge base -----------------------------------------------------------------------------------------


def check_knowledge_base(settings: Settings) -> list[Finding]:
    """Every FAQ file loads (as `helpline faq check` reads them); the matcher is not built here."""
    from faq import KnowledgeBaseError
    from faq.loader import load_entries

    path = settings.faq.path
    try:
        entries = load_entries(path, settings.languages)
    except KnowledgeBaseError as failure:
        shown = "; ".join(str(problem) for problem in failure.problems[:5])
        more = f" (and {len(failure.problems) - 5} more)" if len(failure.problems) > 5 else ""
        return [error("knowledge base", f"the FAQ in {path} does not load: {shown}{more}",
                      "fix the lines named; `helpline faq check` lists every problem")]
    except OSError as failure:
        return [error("knowledge base", f"the FAQ in {path} cannot be read: {failure}",
                      "check faq.path and the files' permissions")]
    return [ok("knowledge base", f"{len(entries)} entries in {path}")]


# --- channels ---------------------------------------------------------------------------------------------------


async def _http_json(method: str, url: str, timeout: float, **kwargs: Any) -> tuple[int, Any, str | None]:
    """One request: status, the JSON body (None when not JSON), the Date header."""
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.request(method, url, **kwargs) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            return response.status, body, response.headers.get("Date")


def _network_errors() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (aiohttp.ClientError, OSError, TimeoutError)


async def check_telegram(settings: Settings, timeout: float, now: Clock = time.time) -> list[Finding]:
    """The token is accepted (getMe), and the webhook is set as the mode needs (getWebhookInfo)."""
    from channels.telegram.settings import DEFAULT_API_BASE_URL

    telegram = settings.channels.telegram
    token = telegram.token.get_secret_value() if telegram.token else ""
    base = telegram.api_base_url or DEFAULT_API_BASE_URL
    host = urlsplit(base).netloc

    def safe(text: str) -> str:
        return text.replace(token, "<token>") if token else text

    try:
        status, body, date = await _http_json("GET", f"{base}/bot{token}/getMe", timeout)
    except _network_errors() as failure:
        return [error("telegram", f"the Bot API at {host} is not reachable: {type(failure).__name__}: "
                      f"{safe(str(failure))}", f"check that this machine reaches {host} (DNS, firewall, proxy); "
                      "a self-hosted Bot API server goes in channels.telegram.api_base_url")]
    if status in (401, 404):
        return [error("telegram", "Telegram rejected the bot token",
                      "set TELEGRAM_TOKEN (channels.telegram.token) to the token @BotFather gave the bot")]
    if status != 200 or not isinstance(body, dict) or not body.get("ok"):
        description = body.get("description", "") if isinstance(body, dict) else ""
        return [error("telegram", f"getMe answered HTTP {status}: {safe(str(description))[:200]}",
                      f"try again later; if it persists, check {host}")]
    bot = body.get("result") or {}
    findings = [ok("telegram", f"bot @{bot.get('username', '?')} answers at {host} ({telegram.mode})")]
    findings += _clock_from_date_header(f"Telegram ({host})", date, now)
    try:
        status, body, _ = await _http_json("GET", f"{base}/bot{token}/getWebhookInfo", timeout)
    except _network_errors() as failure:
        return findings + [warning("telegram", f"getWebhookInfo failed: {safe(str(failure))}",
                                   "run doctor again to see whether the webhook is set as the mode needs")]
    webhook = body.get("result") if isinstance(body, dict) and body.get("ok") else None
    if isinstance(webhook, dict):
        findings += _telegram_webhook(telegram.mode, telegram.webhook_path, webhook, now)
    return findings


def _telegram_webhook(mode: str, path: str, webhook: dict[str, Any], now: Clock) -> list[Finding]:
    url = str(webhook.get("url") or "")
    if mode == "polling" and url:
        return [error("telegram", f"a webhook is set ({url}) while channels.telegram.mode is polling: Telegram "
                      "refuses getUpdates, so no message arrives",
                      "run `helpline telegram delete-webhook`, or set channels.telegram.mode: webhook")]
    if mode == "webhook" and not url:
        return [error("telegram", "no webhook is set: Telegram sends the bot nothing",
                      f"run `helpline telegram set-webhook https://<public host>{path}`")]
    findings = []
    if mode == "webhook" and urlsplit(url).path != path:
        findings.append(warning("telegram", f"the webhook {url} does not end in channels.telegram.webhook_path "
                                f"({path})", f"run `helpline telegram set-webhook https://<public host>{path}`"))
    message = webhook.get("last_error_message")
    if mode == "webhook" and message:
        when = webhook.get("last_error_date")
        age = f" {now() - float(when):.0f}s ago" if isinstance(when, (int, float)) else ""
        findings.append(warning("telegram", f"Telegram's last delivery to the webhook failed{age}: {message}",
                                f"make {url} reachable from the internet with a valid TLS certificate"))
    return findings


async def check_slack(settings: Settings, timeout: float, now: Clock = time.time) -> list[Finding]:
    """The bot token works (auth.test); in Socket Mode the app token opens a connection; alerts have a channel."""
    slack = settings.channels.slack
    base = (slack.api_base_url or SLACK_API).rstrip("/") + "/"
    host = urlsplit(base).netloc
    bot_token = slack.bot_token.get_secret_value() if slack.bot_token else ""
    try:
        status, body, date = await _http_json("POST", base + "auth.test", timeout,
                                              headers={"Authorization": f"Bearer {bot_token}"})
    except _network_errors() as failure:
        return [error("slack", f"the Slack API at {host} is not reachable: {type(failure).__name__}: {failure}",
                      f"check that this machine reaches {host} (DNS, firewall, proxy)")]
    if not isinstance(body, dict) or not body.get("ok"):
        code = body.get("error", f"HTTP {status}") if isinstance(body, dict) else f"HTTP {status}"
        return [error("slack", f"Slack refused the bot token ({code})",
                      "set SLACK_BOT_TOKEN (channels.slack.bot_token) to the app's Bot User OAuth Token (xoxb-...)")]
    findings = [ok("slack", f"bot {body.get('user', '?')} in workspace {body.get('team', '?')} ({slack.mode} mode)")]
    findings += _clock_from_date_header(f"Slack ({host})", date, now)
    if slack.mode == "socket":
        app_token = slack.app_token.get_secret_value() if slack.app_token else ""
        try:
            status, body, _ = await _http_json("POST", base + "apps.connections.open", timeout,
                                               headers={"Authorization": f"Bearer {app_token}"})
        except _network_errors() as failure:
            findings.append(error("slack", f"apps.connections.open failed: {type(failure).__name__}: {failure}",
                                  f"check that this machine reaches {host}"))
        else:
            if isinstance(body, dict) and body.get("ok"):
                findings.append(ok("slack", "Socket Mode: the app token opens a connection"))
            else:
                code = body.get("error", f"HTTP {status}") if isinstance(body, dict) else f"HTTP {status}"
                findings.append(error("slack", f"Socket Mode refused ({code})",
                                      "set SLACK_APP_TOKEN (channels.slack.app_token) to an app-level token (xapp-...) "
                                      "with connections:write, and turn Socket Mode on in the app's settings"))
    if not slack.admin_channel:
        findings.append(warning("slack", "no channels.slack.admin_channel: alerts (a channel down, dead letters) go "
                                "to the log only", "set channels.slack.admin_channel to the id of a channel the app "
                                "is a member of"))
    return findings


async def check_imap(settings: Settings, timeout: float) -> list[Finding]:
    """Log in to the mailbox and select the folder Helpline reads."""
    from channels.email.imap import Mailbox, MailboxError

    imap = settings.channels.email.imap.model_copy(update={"timeout_seconds": timeout})
    where = f"{imap.host}:{imap.port}"
    mailbox = Mailbox(imap)
    try:
        await mailbox.connect()
        await mailbox.select(imap.folder)
    except ssl.SSLError as failure:
        return [error("email imap", f"TLS with {where} failed: {failure}",
                      "security: tls is for port 993, starttls for 143; a private CA goes in imap.ca_file")]
    except MailboxError as failure:
        text = str(failure)
        if "login" in text.lower():
            return [error("email imap", text, "check channels.email.imap.user and imap.password "
                          "(HELPLINE_IMAP_USER, HELPLINE_IMAP_PASSWORD)")]
        return [error("email imap", text, f"check channels.email.imap.folder ({imap.folder}) and the server")]
    except (OSError, TimeoutError) as failure:
        return [error("email imap", f"the mailbox {where} is not reachable: {type(failure).__name__}: {failure}",
                      "check channels.email.imap.host, port and security, and the firewall")]
    finally:
        await mailbox.close()
    return [ok("email imap", f"logged in to {where} as {imap.user}; folder {imap.folder} selected")]


async def check_smtp(settings: Settings, timeout: float) -> list[Finding]:
    """Connect to the SMTP server (TLS as configured) and log in, without sending anything."""
    import aiosmtplib

    from channels.email.tls import tls_context

    smtp = settings.channels.email.smtp
    where = f"{smtp.host}:{smtp.port}"
    client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, use_tls=smtp.security == "tls",
                             start_tls=smtp.security == "starttls", timeout=timeout,
                             tls_context=tls_context(smtp.verify_tls, smtp.ca_file) if smtp.security != "none" else None)
    try:
        await client.connect()
        if smtp.user:
            await client.login(smtp.user, smtp.password.get_secret_value() if smtp.password else "")
        await client.quit()
    except aiosmtplib.SMTPAuthenticationError as failure:
        return [error("email smtp", f"SMTP login as {smtp.user} refused: {failure.code} {failure.message}",
                      "check channels.email.smtp.user and smtp.password (HELPLINE_SMTP_USER, HELPLINE_SMTP_PASSWORD)")]
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected, OSError,
            TimeoutError) as failure:
        return [error("email smtp", f"the SMTP server {where} is not reachable: {type(failure).__name__}: {failure}",
                      "check channels.email.smtp.host, port and security (starttls: 587, tls: 465)")]
    except aiosmtplib.SMTPException as failure:
        return [error("email smtp", f"SMTP {where}: {type(failure).__name__}: {failure}",
                      "check channels.email.smtp.security and the server's log")]
    finally:
        client.close()
    return [ok("email smtp", f"{where} accepts the connection{' and the login' if smtp.user else ''}")]

