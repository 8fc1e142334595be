"""Conversations as data: every tests/dialogues/*.yaml is one scripted dialogue, run as one test
(id = the file's stem) through the real router on the real Redis, with the shipped knowledge base
(config/faq) and the shipped bot texts (config/messages).

The format (tests/dialogues/README.md says the same):

    about: what this dialogue shows, one line        # required
    name: Anna                                       # optional customer name
    hint: el                                         # optional language hint sent with every message
    settings: {rephrase_turns: 0}                    # optional router settings for this dialogue
    feedback: {nps: true, ces: true, comment: true}  # optional feedback settings (the survey after a resolve)
    steps:                                           # required, in order
      - say: "hello"              # a customer line, or
      - press: yes                # a quick-reply button value: yes, no, none, person, solved, pick:<entry>, rate:<1-5>,
                                  #   nps:<0-10>, ces:<1-7>, skip
      - agent: claim              # or an agent action on the conversation's current (or last) case:
        text: "Let me check"      #   claim, reply, note, transfer, release, resolve, reopen;
        team: billing             #   text for reply/note, team for transfer,
        as: Maria                 #   the agent's name (default Maria)
        expect:                   # every key optional; about the replies the customer got from this step
          language: en            # every reply is in this language (OutboundMessage.language)
          says: [greeting]        # text keys of config/messages/<reply language>.yaml, found in the replies
                                  #   in this order (a template's $placeholders match any text)
          answers: shipping-cost  # one reply holds this FAQ entry's answer in the reply's language
          options: [yes, no]      # the values offered by the last reply that has options; pick:* = any pick:<entry>
          option_count: 4         # or just how many
          labels: [talk_to_person]  # text keys that are labels of those options
          contains: ["Λογιστήριο"]  # substrings that some reply holds
          replies: 2              # exactly this many replies (0: the bot stays quiet)
          case: opened            # opened: the conversation has an open (queued or assigned) case; none: it has not
          status: queued          # the conversation's current (or last) case: queued, assigned, resolved, closed
          priority: high          # high or normal
          reason: complaint       # why the case was opened
          team: billing           # the case's team
          cases: 1                # how many cases exist in this installation
          ok: true                # agent steps: the action's result (default: it must succeed)

In dialogue files `yes`, `no`, `on` and `off` are text (only true/false are booleans), and numbers
in `say`/`press` are text too. Unknown keys and values are errors naming the file and the step. Every
step also checks that nothing broke: no router error in the log, nothing left pending or dead-lettered,
no unfilled $placeholder in a reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from bot.app import Helpline
from bot.settings import Settings
from router.keys import FIRST_CASE_NUMBER, INBOX_GROUP
from router.messages import ActionKind, OutboundMessage
from tests.conftest import REDIS_URL, REPO
from tests.drivers import Agent, Customer

DIALOGUES = Path(__file__).resolve().parent
FILES = sorted(DIALOGUES.glob("*.yaml"))
KNOWLEDGE_BASE = REPO / "config" / "faq"
MESSAGES = REPO / "config" / "messages"
LANGUAGES = ("en", "el", "lv", "hu")
TEAMS: dict[str, dict[str, Any]] = {
    "support": {"name": "Customer Support", "display_name": {
        "en": "Customer Support", "el": "Εξυπηρέτηση Πελατών", "lv": "Klientu atbalsts", "hu": "Ügyfélszolgálat"}},
    "billing": {"name": "Billing", "display_name": {
        "en": "Billing", "el": "Λογιστήριο", "lv": "Norēķini", "hu": "Számlázás"}},
}
DEFAULT_AGENT = "Maria"

# Text keys the router uses: the shipped ones plus those of the new conversation (router/states.md).
# A `says` key outside this list and config/messages/en.yaml is a typo in the dialogue.
NEW_TEXT_KEYS = ("thanks_reply", "goodbye", "ack_reply", "rephrase", "talk_to_person", "case_stays_open",
                 "closed_by_customer", "complaint_opened")

TOP_KEYS = {"about", "name", "hint", "settings", "feedback", "steps"}
STEP_KINDS = ("say", "press", "agent")
AGENT_KEYS = {"text", "team", "as"}
AGENT_ACTIONS = {"claim": ActionKind.CLAIM, "reply": ActionKind.REPLY, "note": ActionKind.NOTE,
                 "transfer": ActionKind.TRANSFER, "release": ActionKind.RELEASE, "resolve": ActionKind.RESOLVE,
                 "reopen": ActionKind.REOPEN}
CASE_STATES = ("none", "opened")
STATUSES = ("queued", "assigned", "resolved", "closed")
PRIORITIES = {"high": 1, "normal": 0}
REASONS = ("requested", "complaint", "no_match", "not_helpful", "none_of_these", "attachment")
FIXED_OPTIONS = ({"yes", "no", "none", "person", "solved", "skip"} | {f"rate:{n}" for n in range(1, 6)}
                 | {f"nps:{n}" for n in range(0, 11)} | {f"ces:{n}" for n in range(1, 8)})
EXPECT_KEYS = {"language", "says", "answers", "options", "option_count", "labels", "contains", "replies", "case",
               "status", "priority", "reason", "team", "cases", "ok"}


# == loading and checking the files =======================================================

class DialogueError(Exception):
    """A dialogue file that does not follow the format; the text names the file and the step."""


class _DialogueLoader(yaml.SafeLoader):
    """YAML as people write dialogues: `yes`, `no`, `on`, `off` stay text; only true/false are booleans."""


_DialogueLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DialogueLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                      list("tTfF"))


@dataclass(frozen=True)
class Step:
    number: int
    kind: str  # say, press or agent
    value: str  # the customer's line, the button's value, or the agent action
    text: str = ""
    team: str | None = None
    agent_name: str = DEFAULT_AGENT
    expect: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "say":
            return f"say {self.value!r}"
        if self.kind == "press":
            return f"press {self.value!r}"
        extra = f" {self.text!r}" if self.text else ""
        extra += f" to {self.team}" if self.team else ""
        return f"agent {self.agent_name}: {self.value}{extra}"


@dataclass(frozen=True)
class Dialogue:
    path: Path
    about: str
    steps: tuple[Step, ...]
    name: str | None = None
    hint: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    feedback: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return str(self.path.relative_to(REPO)) if self.path.is_relative_to(REPO) else str(self.path)


def known_text_keys() -> set[str]:
    try:
        from router.texts import TEXT_KEYS
    except ImportError:
        TEXT_KEYS = ()
    keys = set(TEXT_KEYS) | set(NEW_TEXT_KEYS)
    keys |= set(read_messages("en"))
    return keys


def load_dialogue(path: Path, entries: Iterable[str], text_keys: Iterable[str]) -> Dialogue:
    """Read and check one dialogue file; raises DialogueError naming the file, the step and the key."""
    where = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    entries, text_keys = set(entries), set(text_keys)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_DialogueLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        raise DialogueError(f"{where}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise DialogueError(f"{where}: expected a mapping with `about` and `steps`")
    _no_unknown(data, TOP_KEYS, where)
    about = data.get("about")
    if not isinstance(about, str) or not about.strip():
        raise DialogueError(f"{where}: `about` is missing: say in one line what this dialogue shows")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise DialogueError(f"{where}: `name` must be text")
    hint = data.get("hint")
    if hint is not None and hint not in LANGUAGES:
        raise DialogueError(f"{where}: `hint` must be one of {', '.join(LANGUAGES)}, not {hint!r}")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise DialogueError(f"{where}: `settings` must be a mapping of router settings")
    feedback = data.get("feedback") or {}
    if not isinstance(feedback, dict):
        raise DialogueError(f"{where}: `feedback` must be a mapping of feedback settings")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DialogueError(f"{where}: `steps` must be a non-empty list")
    steps = tuple(_step(raw, number, f"{where}: step {number}", entries, text_keys)
                  for number, raw in enumerate(raw_steps, 1))
    return Dialogue(path=path, about=about.strip(), steps=steps, name=name, hint=hint, settings=settings,
                    feedback=feedback)


def _step(raw: object, number: int, where: str, entries: set[str], text_keys: set[str]) -> Step:
    if not isinstance(raw, dict):
        raise DialogueError(f"{where}: expected a mapping with one of {', '.join(STEP_KINDS)}")
    kinds = [kind for kind in STEP_KINDS if kind in raw]
    if len(kinds) != 1:
        raise DialogueError(f"{where}: needs exactly one of {', '.join(STEP_KINDS)}, found {kinds or 'none'}")
    kind = kinds[0]
    allowed = {kind, "expect"} | (AGENT_KEYS if kind == "agent" else set())
    _no_unknown(raw, allowed, where)
    value = raw[kind]
    if isinstance(value, bool) or value is None:
        raise DialogueError(f"{where}: `{kind}` must be text, not {value!r}")
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise DialogueError(f"{where}: `{kind}` must be text, not {value!r}")
    text, team, agent_name = "", None, DEFAULT_AGENT
    if kind == "press":
        _check_option(value, where, entries, wildcard=False)
    if kind == "agent":
        if value not in AGENT_ACTIONS:
            raise DialogueError(f"{where}: unknown agent action {value!r}; known: {', '.join(AGENT_ACTIONS)}")
        text = raw.get("text", "")
        if not isinstance(text, str):
            raise DialogueError(f"{where}: `text` must be text")
        if value in ("reply", "note") and not text.strip():
            raise DialogueError(f"{where}: agent {value} needs a `text`")
        team = raw.get("team")
        if value == "transfer" and team not in TEAMS:
            raise DialogueError(f"{where}: agent transfer needs a `team`, one of {', '.join(TEAMS)}; not {team!r}")
        if team is not None and value != "transfer":
            raise DialogueError(f"{where}: `team` is only for agent transfer")
        agent_name = raw.get("as", DEFAULT_AGENT)
        if not isinstance(agent_name, str) or not agent_name.strip():
            raise DialogueError(f"{where}: `as` must be the agent's name")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise DialogueError(f"{where}: `expect` must be a mapping")
    _check_expect(expect, f"{where}: expect", kind, entries, text_keys)
    return Step(number=number, kind=kind, value=value, text=text, team=team, agent_name=agent_name, expect=expect)


def _check_expect(expect: dict[str, Any], where: str, kind: str, entries: set[str], text_keys: set[str]) -> None:
    _no_unknown(expect, EXPECT_KEYS, where)

    def one_of(key: str, choices: Iterable[str]) -> None:
        if key in expect and expect[key] not in choices:
            raise DialogueError(f"{where}: `{key}` must be one of {', '.join(choices)}, not {expect[key]!r}")

    def count(key: str) -> None:
        if key in expect and (isinstance(expect[key], bool) or not isinstance(expect[key], int) or expect[key] < 0):
            raise DialogueError(f"{where}: `{key}` must be a whole number, not {expect[key]!r}")

    def text_list(key: str) -> None:
        if key not in expect:
            return
        if isinstance(expect[key], str):
            expect[key] = [expect[key]]
        if not isinstance(expect[key], list) or not all(isinstance(item, str) for item in expect[key]):
            raise DialogueError(f"{where}: `{key}` must be a list of text, not {expect[key]!r}")

    one_of("language", LANGUAGES)
    one_of("case", CASE_STATES)
    one_of("status", STATUSES)
    one_of("priority", PRIORITIES)
    one_of("reason", REASONS)
    one_of("team", TEAMS)
    for key in ("option_count", "replies", "cases"):
        count(key)
    for key in ("says", "labels", "contains", "options"):
        text_list(key)
    for key in ("says", "labels"):
        for text_key in expect.get(key, ()):
            if text_key not in text_keys:
                raise DialogueError(f"{where}: `{key}`: no text key {text_key!r} (known: {', '.join(sorted(text_keys))})")
    for option in expect.get("options", ()):
        _check_option(option, f"{where}: `options`", entries, wildcard=True)
    if "answers" in expect and expect["answers"] not in entries:
        raise DialogueError(f"{where}: `answers`: no FAQ entry {expect['answers']!r} in config/faq")
    if "ok" in expect:
        if kind != "agent":
            raise DialogueError(f"{where}: `ok` is only for agent steps")
        if not isinstance(expect["ok"], bool):
            raise DialogueError(f"{where}: `ok` must be true or false")


def _check_option(value: str, where: str, entries: set[str], wildcard: bool) -> None:
    if value in FIXED_OPTIONS or (wildcard and value == "pick:*"):
        return
    if value.startswith("pick:"):
        if value[5:] in entries:
            return
        raise DialogueError(f"{where}: {value!r}: no FAQ entry {value[5:]!r} in config/faq")
    known = ", ".join(sorted(FIXED_OPTIONS)) + ", pick:<entry>" + (", pick:*" if wildcard else "")
    raise DialogueError(f"{where}: unknown option {value!r}; known: {known}")


def _no_unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        raise DialogueError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(allowed))})")


# == the bot's texts as patterns ==========================================================

def read_messages(language: str) -> dict[str, str]:
    """The texts of config/messages/<language>.yaml, read afresh (others edit them while we run)."""
    file = MESSAGES / f"{language}.yaml"
    if not file.exists():
        return {}
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    texts = {}
    for key, value in data.items():
        if isinstance(key, bool):
            key = "yes" if key else "no"  # an unquoted yes: key
        if isinstance(value, str):
            texts[str(key)] = value.strip()
    return texts


_PLACEHOLDER = re.compile(r"\$(?:(\$)|\{([_a-zA-Z][_a-zA-Z0-9]*)\}|([_a-zA-Z][_a-zA-Z0-9]*))")


def template_pattern(template: str) -> re.Pattern[str]:
    """A template as a regex: literal text as it is, each $placeholder as any text."""
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last:match.start()]))
        parts.append(r"\$" if match.group(1) else r".+?")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL)


# == running ==============================================================================

@dataclass
class State:
    """What Redis holds about the dialogue's conversation after a step."""

    conversation_ids: set[str] = field(default_factory=set)
    case: dict[str, str] | None = None  # the conversation's current (or last) case
    case_number: int | None = None
    total_cases: int = 0

    def describe(self) -> str:
        if self.case is None:
            return f"the conversation has no case; cases in total: {self.total_cases}"
        case = self.case
        priority = {"1": "high", "0": "normal"}.get(case.get("priority", ""), case.get("priority", "?"))
        return (f"case #{self.case_number}: {case.get('status')}, priority {priority}, reason {case.get('reason')}, "
                f"team {case.get('team')}, agent {case.get('agent') or '-'}; cases in total: {self.total_cases}")


async def read_state(helpline: Helpline, customer: Customer, state: State) -> State:
    redis, keys = helpline.redis, helpline.keys
    conversation_id = await redis.get(keys.address("console", customer.address))
    ids = set(state.conversation_ids) | ({conversation_id} if conversation_id else set())
    counter = int(await redis.get(keys.case_counter) or 0)
    total, mine = 0, []
    for number in range(FIRST_CASE_NUMBER, counter + 1):
        data = await redis.hgetall(keys.case(number))
        if not data:
            continue
        total += 1
        if data.get("conversation") in ids:
            mine.append((number, data))
    number, case = max(mine, key=lambda item: item[0]) if mine else (None, None)
    return State(conversation_ids=ids, case=case, case_number=number, total_cases=total)


async def trouble(helpline: Helpline, records: Sequence[logging.LogRecord]) -> list[str]:
    """What shows that something broke: router errors, entries left pending or dead-lettered."""
    problems = []
    for record in records:
        if record.levelno >= logging.ERROR:
            problem = f"logged {record.levelname} ({record.name}): {record.getMessage()}"
            if record.exc_text:
                problem += "\n" + _indent(record.exc_text, "      ")
            problems.append(problem)
    try:
        pending = await helpline.redis.xpending(helpline.keys.inbox, INBOX_GROUP)
        if pending and pending.get("pending"):
            problems.append(f"{pending['pending']} inbox entries were not handled (left pending)")
    except Exception:  # noqa: BLE001 - no group yet: nothing was read
        pass
    dead = await helpline.redis.xrange(helpline.keys.dead_letters)
    for _, fields in dead:
        problems.append(f"an inbox entry went to the dead letters: {fields.get('reason', '?')}")
    return problems


def check(step: Step, replies: Sequence[OutboundMessage], state: State, result: Mapping[str, Any] | None,
          knowledge_base: Any) -> list[str]:
    """The step's expectations that do not hold, each as one line."""
    expect = step.expect
    wrong: list[str] = []
    for index, reply in enumerate(replies, 1):
        unfilled = re.findall(r"\$\{?[a-z_]+\}?", reply.text)
        if unfilled:
            wrong.append(f"reply {index} has unfilled placeholders {', '.join(unfilled)}")

    if "replies" in expect and len(replies) != expect["replies"]:
        wrong.append(f"expected {expect['replies']} replies, got {len(replies)}")
    if "language" in expect:
        off = [f"{index} ({reply.language or 'no language'})" for index, reply in enumerate(replies, 1)
               if reply.language != expect["language"]]
        if off:
            wrong.append(f"expected every reply in {expect['language']}; not so: reply {', '.join(off)}")
    if "says" in expect:
        wrong.extend(_check_says(expect["says"], replies, expect.get("language")))
    if "answers" in expect:
        entry = expect["answers"]
        found = False
        for reply in replies:
            language = reply.language or expect.get("language") or LANGUAGES[0]
            if knowledge_base.answer(entry, language).strip() in reply.text:
                found = True
                break
        if not found:
            language = expect.get("language") or (replies[0].language if replies else LANGUAGES[0])
            wrong.append(f"expected the answer of {entry} ({language}: {_short(knowledge_base.answer(entry, language))!r}),"
                         " no reply holds it")
    offered = next((reply.options for reply in reversed(replies) if reply.options), ())
    if "options" in expect:
        values = [option.value for option in offered]
        wanted = expect["options"]
        if len(values) != len(wanted) or not all(want == value or (want == "pick:*" and value.startswith("pick:"))
                                                 for want, value in zip(wanted, values)):
            wrong.append(f"expected options {wanted}, got {values or 'none'}")
    if "option_count" in expect and len(offered) != expect["option_count"]:
        wrong.append(f"expected {expect['option_count']} options, got {len(offered)}")
    if "labels" in expect:
        for key in expect["labels"]:
            labels = [option.label for option in offered]
            language = expect.get("language") or next((r.language for r in reversed(replies) if r.options), "en")
            template = read_messages(language).get(key)
            if template is None:
                wrong.append(f"config/messages/{language}.yaml has no text {key!r} (expected as an option label)")
            elif not any(template_pattern(template).fullmatch(label) for label in labels):
                wrong.append(f"expected an option labelled {key} ({template!r}), labels are {labels or 'none'}")
    for text in expect.get("contains", ()):
        if not any(text in reply.text for reply in replies):
            wrong.append(f"expected {text!r} in a reply, no reply holds it")

    case = state.case
    if "case" in expect:
        is_open = case is not None and case.get("status") in ("queued", "assigned")
        if expect["case"] == "opened" and not is_open:
            wrong.append("expected an open case, the conversation has none"
                         + (f" (case #{state.case_number} is {case.get('status')})" if case else ""))
        if expect["case"] == "none" and is_open:
            wrong.append(f"expected no open case, the conversation has case #{state.case_number} ({case.get('status')})")
    for key in ("status", "reason", "team", "priority"):
        if key not in expect:
            continue
        if case is None:
            wrong.append(f"expected {key} {expect[key]}, the conversation has no case")
            continue
        actual = case.get(key, "")
        if key == "priority":
            wanted = str(PRIORITIES[expect[key]])
            if actual != wanted:
                wrong.append(f"expected priority {expect[key]}, the case has "
                             f"{ {'1': 'high', '0': 'normal'}.get(actual, actual)}")
        elif actual != expect[key]:
            wrong.append(f"expected {key} {expect[key]}, the case has {actual or 'none'}")
    if "cases" in expect and state.total_cases != expect["cases"]:
        wrong.append(f"expected {expect['cases']} cases in total, there are {state.total_cases}")
    if result is not None:
        wanted_ok = expect.get("ok", True)
        if bool(result.get("ok")) != wanted_ok:
            wrong.append(f"expected the action to {'succeed' if wanted_ok else 'be refused'}; "
                         f"result: {result.get('message')!r}")
    return wrong


def _check_says(keys: Sequence[str], replies: Sequence[OutboundMessage], language: str | None) -> list[str]:
    """Each text key found in the replies, in order (several may share one reply)."""
    at_reply, at_char = 0, 0
    for key in keys:
        found = False
        missing_in: set[str] = set()
        for index in range(at_reply, len(replies)):
            reply = replies[index]
            reply_language = reply.language or language or LANGUAGES[0]
            template = read_messages(reply_language).get(key)
            if template is None:
                missing_in.add(reply_language)
                continue
            match = template_pattern(template).search(reply.text, at_char if index == at_reply else 0)
            if match:
                at_reply, at_char, found = index, match.end(), True
                break
        if not found:
            if missing_in:
                files = ", ".join(f"config/messages/{lang}.yaml" for lang in sorted(missing_in))
                return [f"expected text {key!r}: {files} has no such key"]
            template = read_messages(language or (replies[0].language if replies else "en")).get(key, "")
            later = " after the texts before it" if keys.index(key) else ""
            return [f"expected text {key!r} ({_short(template)!r}), not found in the replies{later}"
                    f" (says: {list(keys)})"]
    return []


def report(dialogue: Dialogue, step: Step, replies: Sequence[OutboundMessage], state: State,
           wrong: Sequence[str], history: Sequence[str], records: Sequence[logging.LogRecord]) -> str:
    lines = [f"{dialogue.where}: {dialogue.about}",
             f"step {step.number} of {len(dialogue.steps)}: {step.describe()}"]
    lines += [f"  ✗ {line}" for line in wrong]
    lines.append(f"replies received ({len(replies)}):" if replies else "replies received: none")
    for index, reply in enumerate(replies, 1):
        author = "" if reply.author == "bot" else f" {reply.author}"
        lines.append(f"  {index}. [{reply.language or '?'}{author}] {reply.text!r}")
        if reply.options:
            lines.append("     options: " + " | ".join(f"{option.value} ({option.label})" for option in reply.options))
    lines.append(f"state: {state.describe()}")
    if history:
        lines.append("before:")
        lines += [f"  {line}" for line in history]
    warnings = [f"  {record.levelname} {record.name}: {record.getMessage()}" for record in records
                if logging.WARNING <= record.levelno < logging.ERROR]
    if warnings:
        lines.append("log:")
        lines += warnings[:10]
    return "\n".join(lines)


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def dialogue_settings(prefix: str, router: Mapping[str, Any], feedback: Mapping[str, Any] | None = None) -> Settings:
    return Settings.model_validate({
        "redis": {"url": REDIS_URL, "prefix": prefix},
        "languages": list(LANGUAGES),
        "faq": {"path": str(KNOWLEDGE_BASE), "answer_at": 0.82, "suggest_at": 0.45},
        "teams": TEAMS,
        "router": {"default_team": "support", "messages_path": str(MESSAGES), **router},
        "http": {"port": 0},
        "feedback": dict(feedback or {}),
    })


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_dialogue(path: Path, prefix: str, redis: Redis, shipped_knowledge_base: Any,
                        caplog: pytest.LogCaptureFixture) -> None:
    knowledge_base = shipped_knowledge_base.current
    try:
        dialogue = load_dialogue(path, knowledge_base.entries, known_text_keys())
    except DialogueError as error:
        broken = str(error)
    else:
        broken = ""
    if broken:
        pytest.fail(broken, pytrace=False)
    try:
        settings = dialogue_settings(prefix, dialogue.settings, dialogue.feedback)
    except Exception as error:  # noqa: BLE001 - shown as the dialogue's failure
        broken = (f"{dialogue.where}: the settings are rejected (teams with display_name"
                  f"{', router ' + str(dict(dialogue.settings)) if dialogue.settings else ''}):\n{error}")
    if broken:
        pytest.fail(broken, pytrace=False)

    helpline = Helpline(settings, redis=Redis.from_url(REDIS_URL, decode_responses=True))
    helpline._knowledge_base = shipped_knowledge_base  # one load for the whole session
    try:
        worker = helpline.router_workers(1, tag="dialogue")[0]
        customer = Customer(helpline, worker)
        if dialogue.name:
            customer.name = dialogue.name
        agents: dict[str, Agent] = {}
        state = State()
        history: list[str] = []
        for step in dialogue.steps:
            caplog.clear()
            result: dict[str, Any] | None = None
            problems: list[str] = []
            replies: list[OutboundMessage] = []
            try:
                if step.kind == "agent":
                    if state.case_number is None:
                        pytest.fail(report(dialogue, step, [], state, ["there is no case to act on"], history, []),
                                    pytrace=False)
                    agent = agents.setdefault(step.agent_name, Agent(helpline, worker, step.agent_name))
                    result = await agent.act(AGENT_ACTIONS[step.value], state.case_number, text=step.text,
                                             team=step.team)
                    replies = await customer.inbox()
                elif step.kind == "press":
                    replies = await customer.say("", option=step.value, hint=dialogue.hint)
                else:
                    replies = await customer.say(step.value, hint=dialogue.hint)
            except AssertionError as error:
                problems.append(f"the router gave no answer: {error}")
            state = await read_state(helpline, customer, state)
            records = list(caplog.records)
            problems += await trouble(helpline, records)
            wrong = problems + check(step, replies, state, result, knowledge_base)
            if wrong:
                pytest.fail(report(dialogue, step, replies, state, wrong, history, records), pytrace=False)
            summary = "; ".join(_short(reply.text, 60) for reply in replies) or "(no reply)"
            history.append(f"{step.number}. {step.describe()} → {summary}")
    finally:
        await helpline.close()
