"""`helpline dead-letters list|show|retry|drop`: what could not be handled, why, and what to do with it."""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from redis.asyncio import Redis

from router.dead_letters import (
    DeadLetter,
    DeadLetterError,
    drop_dead_letter,
    get_dead_letter,
    list_dead_letters,
    retry_dead_letter,
)
from router.keys import Keys

EXIT_OK, EXIT_FAILED = 0, 1
_SUMMARY_CHARS = 60


async def run_dead_letters(redis: Redis, keys: Keys, command: str, ids: list[str], *, limit: int, as_json: bool,
                           out: TextIO, err: TextIO) -> int:
    """One `dead-letters` sub-command; returns the exit code."""
    if command == "list":
        letters = await list_dead_letters(redis, keys, count=limit)
        if as_json:
            print(json.dumps([_as_dict(letter) for letter in letters], ensure_ascii=False, indent=2), file=out)
        elif not letters:
            print("no dead letters", file=out)
        for letter in letters if not as_json else []:
            print(f"{letter.id}  {_when(letter.at)}  {_short_stream(keys, letter.stream):<16} "
                  f"{letter.reason[:_SUMMARY_CHARS]!s}  {_summary(letter)}", file=out)
        total = int(await redis.xlen(keys.dead_letters))
        if not as_json and total > len(letters):
            print(f"... {total - len(letters)} more (--limit)", file=out)
        return EXIT_OK
    failed = False
    for dead_id in ids:
        try:
            if command == "show":
                letter = await get_dead_letter(redis, keys, dead_id)
                if as_json:
                    print(json.dumps(_as_dict(letter), ensure_ascii=False, indent=2), file=out)
                else:
                    _print_letter(letter, out)
            elif command == "retry":
                stream, new_id = await retry_dead_letter(redis, keys, dead_id)
                print(f"{dead_id}: put back in {_short_stream(keys, stream)} as {new_id}", file=out)
            elif command == "drop":
                letter = await drop_dead_letter(redis, keys, dead_id)
                print(f"{dead_id}: dropped ({_short_stream(keys, letter.stream)} {letter.entry_id})", file=out)
        except DeadLetterError as error:
            print(f"helpline: {error}", file=err)
            failed = True
    return EXIT_FAILED if failed else EXIT_OK


def _print_letter(letter: DeadLetter, out: TextIO) -> None:
    print(f"id:        {letter.id}", file=out)
    print(f"from:      {letter.stream} entry {letter.entry_id}", file=out)
    print(f"when:      {_when(letter.at)}", file=out)
    print(f"reason:    {letter.reason}", file=out)
    for name, value in letter.fields.items():
        if name == "data":
            try:
                value = json.dumps(json.loads(value), ensure_ascii=False, indent=2)
            except ValueError:
                pass  # shown as it is: it may be why it is here
        print(f"{name + ':':<10} {value}", file=out)


def _as_dict(letter: DeadLetter) -> dict[str, Any]:
    return {"id": letter.id, "stream": letter.stream, "entry_id": letter.entry_id, "reason": letter.reason,
            "at": letter.at, "fields": letter.fields}


def _summary(letter: DeadLetter) -> str:
    """Who it was for, never the message text (it may be anything a customer wrote)."""
    try:
        data = json.loads(letter.fields.get("data", ""))
    except ValueError:
        return "(not valid JSON)"
    if not isinstance(data, dict):
        return ""
    parts = [f"{key}={data[key]}" for key in ("channel", "conversation", "case", "kind") if data.get(key)]
    return " ".join(parts)[:120]


def _short_stream(keys: Keys, stream: str) -> str:
    return stream[len(keys.prefix):] if stream.startswith(keys.prefix) else stream


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"
