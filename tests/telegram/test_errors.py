"""The Bot API's answers read into python-telegram-bot's error classes (channels/telegram/errors.py), in PTB's
order: parameters first (migrate_to_chat_id, then retry_after), then the HTTP status; and the other answers
the channel reads (getUpdates, getMe, getFile, a file server's refusal), whatever they hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from channels.telegram import errors as tg
from channels.telegram.bot_api import _download_error, read_file, read_identity, read_reply, read_updates
from channels.telegram.convert import BotIdentity

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
STATUS = st.one_of(st.sampled_from([200, 400, 401, 403, 404, 409, 429, 500, 502, 503]), st.integers(100, 599))


def expected_class(status: int, parameters: Any) -> type[tg.BotApiError]:
    """PTB's reading, restated: what an error answer of `status` with `parameters` raises."""
    parameters = parameters if isinstance(parameters, dict) else {}
    migrate, retry = parameters.get("migrate_to_chat_id"), parameters.get("retry_after")
    if isinstance(migrate, int) and not isinstance(migrate, bool) and -(2**63) <= migrate < 2**63:
        return tg.ChatMigrated  # a chat id (signed 64 bits); a number past them is no chat to move to
    if isinstance(retry, int | float) and not isinstance(retry, bool) and retry >= 0:
        return tg.RetryAfter
    return {400: tg.BadRequest, 401: tg.InvalidToken, 403: tg.Forbidden, 404: tg.InvalidToken,
            409: tg.Conflict}.get(status, tg.BotApiError)


@example(400, "Bad Request: ", None)  # nothing left after the prefix PTB drops
@example(200, "", {"retry_after": 0, "migrate_to_chat_id": -(2**63) - 1})  # found by hypothesis in CI
@example(400, "", {"migrate_to_chat_id": 2**63})
@example(429, "Too Many Requests: retry after 0", {"retry_after": 0})
@given(STATUS, st.text(max_size=40), st.one_of(JSON, st.fixed_dictionaries({}, optional={
    "retry_after": st.one_of(st.integers(-5, 100), st.floats(0, 100), st.booleans(), st.text(max_size=3)),
    "migrate_to_chat_id": st.one_of(st.integers(), st.booleans(), st.text(max_size=3))})))
def test_an_error_answer_gets_ptbs_class_for_it(status: int, description: str, parameters: Any) -> None:
    body = json.dumps({"ok": False, "error_code": status, "description": description, "parameters": parameters})
    with pytest.raises(tg.BotApiError) as raised:
        read_reply(status, body.encode())
    error = raised.value
    assert type(error) is expected_class(status, parameters)
    assert error.status == status and isinstance(error, tg.TelegramError)
    assert str(error) == f"{error.description} ({status})" and error.description
    if isinstance(error, tg.RetryAfter):
        assert error.retry_after >= 0
    if isinstance(error, tg.ChatMigrated):
        assert isinstance(error.migrate_to_chat_id, int)


@pytest.mark.parametrize(("status", "description", "kind", "text"), [
    (400, "Bad Request: chat not found", tg.BadRequest, "chat not found (400)"),
    (401, "Unauthorized", tg.InvalidToken, "Unauthorized (401)"),
    (404, "Not Found", tg.InvalidToken, "Not Found (404)"),
    (403, "Forbidden: bot was blocked by the user", tg.Forbidden, "Forbidden: bot was blocked by the user (403)"),
    (409, "Conflict: terminated by other getUpdates request", tg.Conflict,
     "Conflict: terminated by other getUpdates request (409)"),
    (500, "Internal Server Error", tg.BotApiError, "Internal Server Error (500)"),
    (502, "", tg.BotApiError, "Unknown HTTPError (502)"),
])
def test_each_status_reads_as_ptb_read_it(status: int, description: str, kind: type[tg.BotApiError],
                                          text: str) -> None:
    with pytest.raises(kind) as raised:
        read_reply(status, json.dumps({"ok": False, "description": description}).encode())
    assert type(raised.value) is kind and str(raised.value) == text


def test_parameters_come_before_the_status() -> None:
    both = {"ok": False, "description": "x", "parameters": {"retry_after": 5, "migrate_to_chat_id": -100}}
    with pytest.raises(tg.ChatMigrated):
        read_reply(400, json.dumps(both).encode())
    with pytest.raises(tg.RetryAfter) as raised:
        read_reply(400, json.dumps({"ok": False, "parameters": {"retry_after": 5}}).encode())
    assert raised.value.retry_after == 5.0


@example(429, b'{"ok": false, "parameters": {"retry_after": 1' + b"0" * 400 + b"}}")  # no float holds it
@example(429, b'{"ok": false, "parameters": {"retry_after": Infinity}}')
@example(429, b'{"ok": false, "parameters": {"retry_after": 3}}')
@given(STATUS, st.one_of(st.binary(max_size=100), JSON.map(lambda value: json.dumps(value).encode())))
def test_getupdates_answers_are_updates_or_the_loops_four_errors(status: int, body: bytes) -> None:
    try:
        updates = read_updates(status, body)
    except tg.RetryAfter as error:
        assert error.retry_after >= 0
    except tg.Conflict:
        assert status == 409
    except tg.InvalidToken:
        assert status in (401, 404)
    except tg.NetworkError as error:
        assert f"HTTP {status}" in str(error)
    else:
        assert status == 200 and isinstance(updates, list)


def test_getupdates_keeps_the_texts_the_receive_loop_showed() -> None:
    with pytest.raises(tg.NetworkError, match=r"^getUpdates answered HTTP 502: Bad Gateway$"):
        read_updates(502, b'{"ok": false, "description": "Bad Gateway"}')
    with pytest.raises(tg.NetworkError, match="not JSON"):
        read_updates(502, b"<html>Bad Gateway</html>")
    with pytest.raises(tg.Conflict) as conflict:
        read_updates(409, b'{"ok": false, "description": "Conflict: terminated by other getUpdates request"}')
    assert conflict.value.description == "Conflict: terminated by other getUpdates request"
    with pytest.raises(tg.NetworkError, match="nested"):
        read_updates(200, b"[" * 100_000)
    # An integer past 64 bits in one update does not cost the batch (orjson would refuse it).
    assert read_updates(200, b'{"ok": true, "result": [{"update_id": 1, "x": 123456789012345678901234567890}]}')


@given(st.integers(300, 599), st.one_of(st.binary(max_size=60), JSON.map(lambda value: json.dumps(value).encode())))
def test_a_file_servers_refusal_is_a_bot_api_error_of_its_status(status: int, body: bytes) -> None:
    error = _download_error(status, body)
    assert isinstance(error, tg.BotApiError) and error.status == status and str(error)


def test_a_file_gone_from_the_file_server_is_invalid_token_as_in_ptb() -> None:
    assert type(_download_error(404, b"<html>404</html>")) is tg.InvalidToken
    assert str(_download_error(404, b"")) == "Not Found (404)"
    assert type(_download_error(502, b"")) is tg.BotApiError


@given(JSON)
def test_getme_gives_an_identity_or_a_network_error(result: Any) -> None:
    try:
        identity = read_identity(result)
    except tg.NetworkError:
        assert not (isinstance(result, dict) and type(result.get("id")) is int)
    else:
        assert isinstance(identity.id, int) and isinstance(identity.username, str)


def test_getme_reads_the_bots_id_and_username() -> None:
    assert read_identity({"id": 7, "is_bot": True, "username": "shop_bot"}) == BotIdentity(7, "shop_bot")
    assert read_identity({"id": 7}) == BotIdentity(7, "")


@given(JSON)
def test_getfile_gives_a_relative_path_or_none_and_a_size_or_none(result: Any) -> None:
    try:
        file = read_file(result)
    except tg.NetworkError:
        assert not isinstance(result, dict)
        return
    assert file.path is None or (not file.path.startswith("/") and ".." not in file.path.split("/"))
    assert file.size is None or file.size >= 0


def test_getfile_refuses_paths_that_leave_the_bots_files() -> None:
    assert read_file({"file_path": "documents/file_3.pdf", "file_size": 12}).path == "documents/file_3.pdf"
    for path in ("/etc/passwd", "../bot123/getMe", "photos/../../x", "", "a\nb", 7):
        assert read_file({"file_path": path}).path is None
