"""The `helpline` command. Only this module turns errors into exit codes and messages."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.settings import CONFIG_ENV_VAR, DEFAULT_CONFIG, Settings, SettingsError, load_settings

# Each command imports what it uses inside its function: Redis, the router's types, the FAQ and the
# channels cost a command that does not use them tens of milliseconds (tests/bot/test_cli_imports.py).

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
AGENT_ENV_VAR = "HELPLINE_AGENT"
MAX_WORKER_PROCESSES = 64
REDIS_CHECK_SECONDS = 10.0  # `helpline run` gives up on a Redis that does not answer (a dropped SYN) after this
log = logging.getLogger("helpline")


def build_parser() -> argparse.ArgumentParser:
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help=f"settings file (default: ${CONFIG_ENV_VAR}, else {DEFAULT_CONFIG})")
    parser = argparse.ArgumentParser(prog="helpline", parents=[config],
                                     description="Helpline: support bot and agent-handoff router.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, parent: Any = commands) -> argparse.ArgumentParser:
        return parent.add_parser(name, parents=[config], help=help_text, description=help_text)

    check = command("check-config", "validate the settings file without starting anything")
    check.add_argument("file", nargs="?", help="the file to check (default: --config)")

    run = command("run", "run the service: workers, channels, /healthz and /metrics")
    run.add_argument("--workers", type=_worker_count, default=0, metavar="N",
                     help="run the router workers and the Telegram and console senders in N separate worker "
                          "processes (restarted when they die) instead of in this one, which keeps the receivers, "
                          "the other senders and HTTP")
    worker = command("worker", "run only router workers and the FAQ reload, or senders (any number, on any machines)")
    worker.add_argument("--role", choices=("router", "send", "all"), default="router",
                        help="router: the router workers and the FAQ reload (the default); send: the Telegram and "
                             "console senders; all: both (what `helpline run --workers N` starts)")

    # -- doctor (begin) --
    doctor = command("doctor", "check the settings, Redis, the clock, the FAQ and each channel; say how to fix")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long each server may take to answer (default 10)")
    # -- doctor (end) --

    chat = command("chat", "be a customer in the terminal (one message a line)")
    chat.add_argument("--lang", help="language hint, e.g. el")
    chat.add_argument("--session", help="continue the conversation of this session id")
    chat.add_argument("--name", default="Console customer", help="the customer's name agents see")

    queue = command("queue", "waiting cases per team; with --mine, the cases an agent holds")
    queue.add_argument("--team")
    queue.add_argument("--mine", action="store_true", help="the cases assigned to the agent instead")
    _add_agent_argument(queue)
    queue.add_argument("--json", action="store_true")

    case = command("case", "look at and act on a case")
    case_commands = case.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    show = command("show", "status, team, agent, times and transcript", case_commands)
    show.add_argument("number", type=_case_number)
    show.add_argument("--json", action="store_true")
    for name, help_text, extra in (
        ("claim", "take a waiting case", ()),
        ("reply", "write to the customer", ("text",)),
        ("note", "add a private note (never shown to the customer)", ("text",)),
    ):
        action = command(name, help_text, case_commands)
        action.add_argument("number", type=_case_number)
        for argument in extra:
            action.add_argument(argument)
        _add_agent_argument(action)
    transfer = command("transfer", "move a case to another team's queue", case_commands)
    transfer.add_argument("number", type=_case_number)
    transfer.add_argument("team")
    _add_agent_argument(transfer)
    for name, help_text in (("release", "put a claimed case back in its queue"),
                            ("resolve", "mark solved; the customer is asked to rate"),
                            ("reopen", "reopen a resolved case")):
        action = command(name, help_text, case_commands)
        action.add_argument("number", type=_case_number)
        _add_agent_argument(action)

    faq = command("faq", "the FAQ knowledge base")
    faq_commands = faq.add_subparsers(dest="faq_command", required=True, metavar="ACTION")
    faq_check = command("check", "validate the knowledge base; every error listed", faq_commands)
    faq_check.add_argument("dir", nargs="?", type=Path)
    ask = command("ask", "what the bot would do with a question", faq_commands)
    ask.add_argument("text")
    ask.add_argument("--kb", type=Path, metavar="DIR")
    ask.add_argument("--lang")
    ask.add_argument("--json", action="store_true")
    faq_lint = command("lint", "warn about entries that fight, near-duplicates, thin or missing translations",
                       faq_commands)
    faq_lint.add_argument("dir", nargs="?", type=Path)
    faq_lint.add_argument("--json", action="store_true")
    gaps = command("gaps", "what customers asked that the FAQ could not answer, grouped by need", faq_commands)
    gaps.add_argument("--since", default="7d", help="how far back: 30m, 12h, 7d, 2w (default 7d)")
    gaps.add_argument("--kb", type=Path, metavar="DIR")
    gaps.add_argument("--json", action="store_true")
    evaluate = command("eval", "measure matching on JSON Lines cases", faq_commands)
    evaluate.add_argument("cases", type=Path)
    evaluate.add_argument("--kb", type=Path, metavar="DIR")
    evaluate.add_argument("--json", action="store_true")
    # -- email (begin) --
    email_group = command("email", "the email channel")
    email_commands = email_group.add_subparsers(dest="email_command", required=True, metavar="ACTION")
    email_parse = command("parse", "how Helpline reads a message file (.eml): sender, thread, new text, quote",
                          email_commands)
    email_parse.add_argument("file", type=Path)
    email_parse.add_argument("--json", action="store_true")
    # -- email (end) --
    # -- telegram (begin) --
    telegram = command("telegram", "the Telegram channel's webhook")
    telegram_commands = telegram.add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    set_webhook = command("set-webhook", "have Telegram post updates to URL (with the configured secret token)",
                          telegram_commands)
    set_webhook.add_argument("url", metavar="URL", help="public https URL ending in channels.telegram.webhook_path")
    command("delete-webhook", "stop webhook delivery, so long polling receives again", telegram_commands)
    # -- telegram (end) --
    # -- report (begin) --
    report = command("report", "support numbers of a period: deflection, cases, response times, CSAT, NPS, CES, "
                               "per team, agent, channel and language; top FAQ entries and gaps")
    report.add_argument("--since", default="7d", help="start: a span back (30m, 12h, 7d, 2w) or an ISO date/time "
                                                      "(default 7d)")
    report.add_argument("--until", help="end: a span back or an ISO date/time (default: now)")
    report.add_argument("--team")
    report.add_argument("--channel")
    report_format = report.add_mutually_exclusive_group()
    report_format.add_argument("--json", action="store_true")
    report_format.add_argument("--csv", action="store_true", help="one row per figure per grouping")
    report_format.add_argument("--html", type=Path, metavar="FILE", help="write a report with charts to FILE")
    # -- report (end) --
    # -- dashboard (begin) --
    dashboard = command("dashboard", "the dashboard's users: make the password hash for dashboard.users")
    dashboard_commands = dashboard.add_subparsers(dest="dashboard_command", required=True, metavar="ACTION")
    command("hash-password", "read a password (asked twice on a terminal, else one line of standard input) "
                             "and print its hash for dashboard.users", dashboard_commands)
    # -- dashboard (end) --
    # -- dead-letters (begin) --
    dead = command("dead-letters", "entries that could not be handled: list, show, put back or drop them")
    dead_commands = dead.add_subparsers(dest="dead_command", required=True, metavar="ACTION")
    dead_list = command("list", "the oldest dead letters with their reasons", dead_commands)
    dead_list.add_argument("--limit", type=int, default=100)
    dead_list.add_argument("--json", action="store_true")
    dead_show = command("show", "one dead letter in full", dead_commands)
    dead_show.add_argument("ids", nargs="+", metavar="ID")
    dead_show.add_argument("--json", action="store_true")
    command("retry", "put dead letters back where they came from, to be handled again",
            dead_commands).add_argument("ids", nargs="+", metavar="ID")
    command("drop", "delete dead letters for good", dead_commands).add_argument("ids", nargs="+", metavar="ID")
    # -- dead-letters (end) --
    return parser


def _add_agent_argument(parser: argparse.ArgumentParser) -> None:
    # Not required by argparse: $HELPLINE_AGENT may give it, which `_agent_name` checks.
    parser.add_argument("--agent", metavar="NAME", help=f"the agent acting (default: ${AGENT_ENV_VAR})")


def _agent_name(args: argparse.Namespace, command: str) -> str | None:
    """`--agent NAME`, else $HELPLINE_AGENT; None, after saying so on stderr, when neither names one."""
    name = (args.agent or os.environ.get(AGENT_ENV_VAR) or "").strip()
    if not name:
        print(f"helpline: {command} needs an agent: pass --agent NAME or set {AGENT_ENV_VAR}", file=sys.stderr)
        return None
    return name


def _worker_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = -1
    if not 0 <= count <= MAX_WORKER_PROCESSES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes (0-{MAX_WORKER_PROCESSES})")
    return count


def _case_number(text: str) -> int:
    try:
        number = int(text.lstrip("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a case number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a case number")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_arg = getattr(args, "config", None)
    if args.command == "check-config":
        return _check_config(args.file or config_arg)
    if args.command == "doctor":
        return _doctor(args, config_arg)  # a broken settings file is one of its findings
    if args.command == "dashboard":
        from bot.commands_dashboard import hash_password_command

        return hash_password_command(sys.stdin, sys.stdout, sys.stderr)  # needs no settings
    try:
        settings = _settings_for(config_arg)
    except SettingsError as error:
        print(f"helpline: {error}", file=sys.stderr)
        return EXIT_USAGE
    from bot.logs import configure_logging, secrets_of

    configure_logging(settings.logging.level, settings.logging.format, secrets_of(settings), sys.stderr)
    if args.command not in ("run", "worker"):
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    handler = _HANDLERS[args.command]
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130


def _settings_for(config_arg: str | None) -> Settings:
    """The settings file; built-in defaults when none is named and the default file is absent."""
    if config_arg is None and not os.environ.get(CONFIG_ENV_VAR) and not DEFAULT_CONFIG.exists():
        return Settings()
    return load_settings(config_arg)


# -- doctor (begin) --
def _doctor(args: argparse.Namespace, config_arg: str | None) -> int:
    import asyncio

    from bot.doctor import diagnose_file, exit_code, render, render_json

    # The findings say what failed; the libraries' own log lines would only repeat them.
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    findings = asyncio.run(diagnose_file(config_arg, timeout=args.timeout))
    print(render_json(findings) if args.json else render(findings))
    return EXIT_FAILED if exit_code(findings) else EXIT_OK
# -- doctor (end) --


def _check_config(path: str | None) -> int:
    try:
        settings = load_settings(path)
    except SettingsError as error:
        print(f"helpline: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"ok: languages {', '.join(settings.languages)}; teams {', '.join(settings.teams)}; "
          f"FAQ {settings.faq.path}")
    return EXIT_OK


def _with_helpline(body: Callable[[Any], Coroutine[Any, Any, int]], settings: Settings) -> int:
    """Run `body(helpline)` in a fresh event loop, turning start-up failures into messages."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError

    from bot.app import Helpline, KnowledgeBaseUnavailable
    from router.store import reply
    from router.texts import TextsError

    async def runner() -> int:
        try:
            helpline = Helpline(settings)
        except TextsError as error:
            print(f"helpline: {error}", file=sys.stderr)
            return EXIT_FAILED
        try:
            await reply(helpline.redis.ping())
            return await body(helpline)
        except KnowledgeBaseUnavailable as error:
            print(f"helpline: {error}", file=sys.stderr)
            return EXIT_FAILED
        except (RedisConnectionError, OSError) as error:
            print(f"helpline: Redis at {_where(settings)} is not reachable: {error}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await helpline.close()

    return asyncio.run(runner())


def _with_redis(body: Callable[[Any], Coroutine[Any, Any, int]], settings: Settings) -> int:
    """Run `body(redis)` with a client of the configured Redis."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError

    from bot.app import connect_redis

    async def runner() -> int:
        redis = connect_redis(settings)
        try:
            return await body(redis)
        except (RedisConnectionError, OSError) as error:
            print(f"helpline: Redis is not reachable: {error}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await redis.aclose()

    return asyncio.run(runner())


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve

    config = getattr(args, "config", None)
    return _serving(serve(settings, worker_processes=args.workers,
                          config_path=Path(config).resolve() if config else None), settings)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve_workers
    from bot.processes import sending_processes

    return _serving(serve_workers(settings, role=args.role, sending_processes=sending_processes()), settings)


def _serving(service: Coroutine[Any, Any, None], settings: Settings) -> int:
    """Run `service` (`helpline run` or `helpline worker`) until it stops, turning start-up failures into messages."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from bot.app import KnowledgeBaseUnavailable
    from router.texts import TextsError

    problem = asyncio.run(_redis_problem(settings))
    if problem is not None:
        service.close()
        print(problem, file=sys.stderr)
        return EXIT_FAILED
    try:
        asyncio.run(service)
    except (KnowledgeBaseUnavailable, TextsError) as error:
        print(f"helpline: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BaseExceptionGroup as group:
        # Redis went away while the service started: one line, not a traceback per task.
        _, rest = group.split((RedisConnectionError, RedisTimeoutError, OSError))
        if rest is not None:
            raise
        print(f"helpline: {_unreachable(settings, _first_leaf(group))}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


async def _redis_problem(settings: Settings) -> str | None:
    """One line saying why the configured Redis cannot be used, or None when it answers."""
    import asyncio

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from bot.app import connect_redis
    from router.store import reply

    redis = connect_redis(settings)
    try:
        await asyncio.wait_for(reply(redis.ping()), REDIS_CHECK_SECONDS)
    except TimeoutError:
        return f"helpline: {_unreachable(settings, f'no answer within {REDIS_CHECK_SECONDS:g}s')}"
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        return f"helpline: {_unreachable(settings, error)}"
    finally:
        await redis.aclose()
    return None


def _unreachable(settings: Settings, error: BaseException | str) -> str:
    return f"Redis at {_where(settings)} is not reachable ({error}); start it, or set redis.url"


def _where(settings: Settings) -> str:
    """The configured Redis, never its passwords (nor a sentinel's in the query)."""
    from bot.redis_url import parse_redis_url

    return parse_redis_url(settings.redis.url.get_secret_value()).location()


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chat import chat

    if args.lang and args.lang not in settings.languages:
        print(f"helpline: --lang {args.lang}: not one of {', '.join(settings.languages)}", file=sys.stderr)
        return EXIT_USAGE
    return _with_helpline(lambda helpline: chat(helpline, args.lang, args.session, args.name), settings)


def _queue(args: argparse.Namespace, settings: Settings) -> int:
    if not args.mine:
        return _with_helpline(lambda helpline: _print_waiting(helpline, args.team, args.json), settings)
    agent_name = _agent_name(args, "queue --mine")
    if agent_name is None:
        return EXIT_USAGE
    return _with_helpline(lambda helpline: _print_claimed(helpline, agent_name, args.team, args.json), settings)


async def _print_waiting(helpline: Any, team: str | None, as_json: bool) -> int:
    from bot.agent_desk import queue_listing, sla_text

    listing = await queue_listing(helpline, team)
    if as_json:
        print(json.dumps({"teams": listing}, ensure_ascii=False, indent=2))
        return EXIT_OK
    for name, cases in listing.items():
        print(f"{name}: {len(cases)} waiting")
        for item in cases:
            sla = sla_text(item["sla"])
            print(f"  {item['position']:>3}. {_listed_case(item, item['waiting_seconds'], 'waiting')}"
                  + (f"\n       {sla}" if sla else ""))
    return EXIT_OK


async def _print_claimed(helpline: Any, agent_name: str, team: str | None, as_json: bool) -> int:
    from bot.agent_desk import claimed_cases

    cases = [item for item in await claimed_cases(helpline, agent_name) if team in (None, item["team"])]
    if as_json:
        print(json.dumps({"agent": agent_name, "cases": cases}, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{agent_name}: {len(cases)} claimed")
    for item in cases:
        print(f"  {item['team']:<10} {_listed_case(item, item['claimed_seconds'], 'claimed')}")
    return EXIT_OK


def _listed_case(item: dict[str, Any], seconds: float, since: str) -> str:
    """One line of a listing: the case, for how long, where, and what the customer said last."""
    from bot.agent_desk import format_duration

    said = (item["latest_message"] or item["subject"]).replace("\n", " ")
    return (f"#{item['case']}  {since} {format_duration(seconds):>7}  {item['channel']:<8} {item['language']:<3} "
            f"{item['customer']}: {said[:60]}")


def _case(args: argparse.Namespace, settings: Settings) -> int:
    from bot.agent_desk import act, case_details

    async def show(helpline: Any) -> int:
        details = await case_details(helpline, args.number)
        if details is None:
            print(f"helpline: there is no case #{args.number}", file=sys.stderr)
            return EXIT_FAILED
        if args.json:
            print(json.dumps(details, ensure_ascii=False, indent=2))
        else:
            print(_format_case(details))
        return EXIT_OK

    async def action(helpline: Any, agent_name: str) -> int:
        from router.messages import ActionKind

        kind = ActionKind(args.case_command)
        outcome = await act(helpline, kind, args.number, agent_name=agent_name, text=getattr(args, "text", ""),
                            team=getattr(args, "team", None))
        print(outcome.message, file=sys.stdout if outcome.ok else sys.stderr)
        return EXIT_OK if outcome.ok else EXIT_FAILED

    if args.case_command == "show":
        return _with_helpline(show, settings)
    agent_name = _agent_name(args, f"case {args.case_command}")
    if agent_name is None:
        return EXIT_USAGE
    return _with_helpline(lambda helpline: action(helpline, agent_name), settings)


def _format_case(details: dict[str, Any]) -> str:
    def when(value: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value)) if value else "-"

    lines = [f"case #{details['case']}  {details['status']}  team {details['team']}  "
             f"agent {details['agent'] or '-'}  priority {details['priority']}",
             f"customer {details['customer']} on {details['channel']} ({details['language']}); opened because: "
             f"{details['reason']}"]
    if details["queue"]:
        lines.append(f"waiting: place {details['queue']['position']}, {details['queue']['seconds']:.0f}s")
    if details.get("sla"):
        from bot.agent_desk import sla_text

        lines.append(sla_text(details["sla"]))
    if details["csat"]:
        lines.append(f"rating: {details['csat']}/5")
    lines.append("times: " + ", ".join(f"{name} {when(value)}" for name, value in details["times"].items() if value))
    lines.append("transcript:")
    for item in details["transcript"]:
        who = item["role"] if item["role"] not in ("agent", "note") else f"{item['role']} ({item.get('agent', '')})"
        text = item["text"].replace("\n", "\n      ")
        lines.append(f"  {time.strftime('%H:%M:%S', time.localtime(item['at']))} {who}: {text}")
    return "\n".join(lines)


def _faq(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands_faq import cmd_faq_ask, cmd_faq_check, cmd_faq_eval, cmd_faq_lint, run_faq_gaps

    if args.faq_command == "check":
        return cmd_faq_check(args.dir or settings.faq.path, settings.languages, sys.stdout)
    if args.faq_command == "lint":
        return cmd_faq_lint(args.dir or settings.faq.path, settings.languages, sys.stdout, as_json=args.json,
                            suggest_at=settings.faq.suggest_at, answer_at=settings.faq.answer_at)
    if args.faq_command == "gaps":
        from router.texts import TextsError, load_texts

        try:  # the operator's extra handoff words tell requests for a person too
            extra_words = load_texts(settings.router.messages_path, settings.languages).extra_vocabulary()
        except TextsError:
            extra_words = None

        async def gaps(redis: Any) -> int:
            return await run_faq_gaps(redis, f"{settings.redis.prefix}events", args.since, args.kb or settings.faq.path,
                                      settings.languages, args.json, sys.stdout, sys.stderr, extra_words=extra_words)

        return _with_redis(gaps, settings)
    if args.faq_command == "ask":
        return cmd_faq_ask(args.text, args.kb or settings.faq.path, settings.languages, args.lang, args.json,
                           settings.faq.answer_at, settings.faq.suggest_at, sys.stdout,
                           semantic_model=settings.faq.semantic_model, sentence_encoder=settings.faq.sentence_encoder,
                           embedding_cache=settings.faq.embedding_cache)
    return cmd_faq_eval(args.cases, args.kb or settings.faq.path, settings.languages, args.json,
                        settings.faq.answer_at, settings.faq.suggest_at, sys.stdout,
                        semantic_model=settings.faq.semantic_model, sentence_encoder=settings.faq.sentence_encoder,
                        embedding_cache=settings.faq.embedding_cache)


# -- report (begin) --
def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands_report import hours_of, query_of, render_text, run_report, write_csv
    from router.keys import Keys

    try:
        query = query_of(args.since, args.until, args.team, args.channel)
    except ValueError as error:
        print(f"helpline: {error}", file=sys.stderr)
        return EXIT_USAGE
    write_html = None
    if args.html is not None:
        try:
            from bot.report_html import write_report_html  # the dashboard's module
        except ImportError:
            print("helpline: --html needs bot/report_html.py (the dashboard), which this installation lacks",
                  file=sys.stderr)
            return EXIT_USAGE
        write_html = write_report_html
    from router.texts import TextsError, load_texts

    try:  # the operator's extra handoff words tell bare requests for a person too
        extra_words = load_texts(settings.router.messages_path, settings.languages).extra_vocabulary()
    except TextsError:
        extra_words = None

    async def body(redis: Any) -> int:
        report = await run_report(redis, Keys(settings.redis.prefix), query, kb_dir=settings.faq.path,
                                  languages=settings.languages, extra_words=extra_words,
                                  hours=hours_of(settings))
        if write_html is not None:
            write_html(report, args.html)
            print(f"report written to {args.html}")
        elif args.json:
            print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        elif args.csv:
            write_csv(report.to_json(), sys.stdout)
        else:
            print(render_text(report.to_json()))
        return EXIT_OK

    return _with_redis(body, settings)


# -- report (end) --


# -- telegram (begin) --
def _telegram(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from channels.telegram.adapter import delete_webhook, set_webhook
    from channels.telegram.errors import TelegramError

    section = settings.channels.telegram
    if section.token is None:
        print("helpline: channels.telegram.token is not set (TELEGRAM_TOKEN)", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.telegram_command == "set-webhook":
            if section.mode != "webhook":
                print("helpline: note: channels.telegram.mode is polling; set mode: webhook so the service "
                      "receives what Telegram posts", file=sys.stderr)
            asyncio.run(set_webhook(section, args.url))
            print(f"webhook set: Telegram posts updates to {args.url}")
        else:
            asyncio.run(delete_webhook(section))
            print("webhook deleted: long polling can receive updates")
    except ValueError as error:
        print(f"helpline: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (TelegramError, OSError) as error:
        token = section.token.get_secret_value()
        print(f"helpline: Telegram refused: {str(error).replace(token, '<token>')}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
# -- telegram (end) --


_HANDLERS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "run": _run,
    "worker": _worker,
    "chat": _chat,
    "queue": _queue,
    "case": _case,
    "faq": _faq,
    "telegram": _telegram,
    "report": _report,
}


# -- email (begin) --
def _email(args: argparse.Namespace, settings: Settings) -> int:
    from channels.email.parse import parse_mail

    try:
        data = args.file.read_bytes()
    except OSError as error:
        print(f"helpline: {args.file}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    mail = parse_mail(data)
    # The language the router will answer in: Content-Language (or the parser's guess) as the hint.
    from faq import detect_language

    text = mail.text or mail.quoted or mail.subject or ""
    language = detect_language(text, mail.language, settings.languages)
    if args.json:
        print(json.dumps({**mail.to_dict(), "language": language}, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"from:        {mail.from_name} <{mail.from_address}>" if mail.from_name else f"from:        {mail.from_address}")
    fields: dict[str, str | int | tuple[str, ...] | None] = {
        "to": mail.to, "subject": mail.subject, "date": mail.date, "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to, "references": mail.references, "language": language,
        "case_number": mail.case_number}
    for key, value in fields.items():
        shown = ", ".join(value) if isinstance(value, tuple) else value
        print(f"{key + ':':<12} {'-' if shown in (None, '') else shown}")
    if mail.automatic:
        print(f"automatic:   yes ({mail.automatic_reason}): Helpline will not answer it")
    for item in mail.attachments:
        print(f"attachment:  {item.name} ({item.media_type}, {item.size} bytes)")
    for defect in mail.defects:
        print(f"defect:      {defect}")
    print("\n--- text ---\n" + mail.text)
    if mail.signature:
        print("\n--- signature ---\n" + mail.signature)
    if mail.quoted:
        print("\n--- quoted ---\n" + mail.quoted)
    return EXIT_OK


_HANDLERS["email"] = _email
# -- email (end) --


# -- dead-letters (begin) --
def _dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands_dead_letters import run_dead_letters
    from router.keys import Keys

    async def body(redis: Any) -> int:
        return await run_dead_letters(redis, Keys(settings.redis.prefix), args.dead_command, getattr(args, "ids", []),
                                      limit=getattr(args, "limit", 100), as_json=getattr(args, "json", False),
                                      out=sys.stdout, err=sys.stderr)

    return _with_redis(body, settings)


_HANDLERS["dead-letters"] = _dead_letters
# -- dead-letters (end) --


if __name__ == "__main__":
    sys.exit(main())
