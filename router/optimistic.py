"""An inbox entry's commit as one script: check that nothing it read has changed, then write it all.

WATCH belongs to a connection, so entries handled side by side on one connection cannot each
watch their own keys. Instead every read a decision rests on is fingerprinted (DUMP, sent before
the read, as WATCH is) and the commit is a script that compares each key's DUMP now with the one
seen: any difference and nothing is written (the caller reads again and decides again, as after a
WatchError); else every write runs, with the done marker and the entry's XACK, atomically. Equal
content means an equal decision, so a key changed and changed back is no conflict; a rewrite with
the same content in another encoding is a needless retry, never a lost update.

The lane append (router/lanes.py) is a script of its own; a script cannot call another, so it is
done inline here (`_APPEND` below), with the same effect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import NoScriptError

from router.rounds import Command

_LANE_APPEND = "_APPEND"  # pseudo command: stream, lane, conversation, field, value, ...

# KEYS[1..ARGV[1]]: the keys read, ARGV[2..] their DUMPs as seen ('' for none); the other KEYS are written
# (declared for Cluster). Then: the number of commands, and for each its argument count and arguments.
# 1: written; 0: something read has changed, nothing written; {1, error}: written but for a command that
# failed (as in MULTI/EXEC, the others are still written: the done marker and XACK come last and must not be
# lost to, say, a WRONGTYPE in a metric, or the entry's other effects would be written again on its retry).
CHECK_AND_WRITE = """
local checks = tonumber(ARGV[1])
for i = 1, checks do
  local now = redis.call('DUMP', KEYS[i]) or ''
  if now ~= ARGV[1 + i] then return 0 end
end
local failed = nil
local at = checks + 2
local count = tonumber(ARGV[at])
at = at + 1
for _ = 1, count do
  local argc = tonumber(ARGV[at])
  local first, last = at + 1, at + argc
  if ARGV[first] == '_APPEND' then
    local fields = {}
    for j = first + 4, last do fields[#fields + 1] = ARGV[j] end
    local id = redis.pcall('XADD', ARGV[first + 1], '*', unpack(fields))
    if type(id) == 'table' and id.err then
      failed = failed or id.err
    elseif ARGV[first + 3] ~= '' then
      redis.pcall('RPUSH', ARGV[first + 2], id)
    end
  else
    local answer = redis.pcall(unpack(ARGV, first, last))
    if type(answer) == 'table' and answer.err then failed = failed or answer.err end
  end
  at = last + 1
end
if failed then return {1, failed} end
return 1
"""
CHECK_AND_WRITE_SHA = hashlib.sha1(CHECK_AND_WRITE.encode()).hexdigest()


def _lane_append_script() -> str:
    from router.lanes import APPEND_SCRIPT  # router.lanes builds on router.store, which builds on this

    return APPEND_SCRIPT


def as_script_commands(stack: Sequence[tuple[Sequence[Any], Mapping[str, Any]]]) -> tuple[list[Command], list[str]]:
    """A redis-py pipeline's buffered commands as the script runs them, and the keys they write."""
    commands: list[Command] = []
    keys: list[str] = []
    for args, _options in stack:
        name = str(args[0]).upper()
        if name == "EVAL":
            if args[1] != _lane_append_script() or int(args[2]) != 2:
                raise ValueError("a write of an inbox entry runs a script the commit script cannot inline")
            stream, lane, conversation, *fields = args[3:]
            commands.append((_LANE_APPEND, stream, lane, conversation, *fields))
            keys += [str(stream), str(lane)] if conversation else [str(stream)]
            continue
        commands.append(tuple(args))
        keys.append(str(args[1]))
    return commands, keys


def check_and_write(seen: Mapping[str, bytes | None], stack: Sequence[tuple[Sequence[Any], Mapping[str, Any]]]
                    ) -> Command:
    """The EVALSHA of CHECK_AND_WRITE for the DUMPs `seen` (key -> DUMP, None when missing) and the
    buffered writes `stack`."""
    commands, written = as_script_commands(stack)
    checked = list(seen)
    declared = checked + [key for key in dict.fromkeys(written) if key not in seen]
    arguments: list[Any] = [len(checked), *(seen[key] or b"" for key in checked), len(commands)]
    for command in commands:
        arguments += [len(command), *command]
    return ("EVALSHA", CHECK_AND_WRITE_SHA, len(declared), *declared, *arguments)


def is_missing_script(answer: object) -> bool:
    return isinstance(answer, NoScriptError)


def written_by(command: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The writes inside a `check_and_write` command, in order (for tests and debugging)."""
    arguments = list(command[3 + int(command[2]):])
    checks = int(arguments[0])
    at = 1 + checks
    count, at = int(arguments[at]), at + 1
    writes = []
    for _ in range(count):
        argc = int(arguments[at])
        writes.append(tuple(arguments[at + 1:at + 1 + argc]))
        at += 1 + argc
    return writes
