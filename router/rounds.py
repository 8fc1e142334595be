"""Rounds: the commands that concurrent tasks send at about the same moment go out in one round trip.

A router worker handles the entries of a read batch side by side (one task per conversation); each
reads, decides and commits on its own. Sent one by one, that is a round trip per step and entry;
here every step's commands wait for the tasks that are ready at the same moment (a few turns of the
event loop), then all of them go out in one write on one connection and their replies are read in
order. So a batch of N entries takes one round for its reads and one for its commits, not 2N.

Nothing here is transactional: a task's commands keep their order and are not interleaved with
another task's, but other clients may act between two of them. What needs atomicity uses a script
(router/optimistic.py); a read that a decision rests on is fingerprinted before it is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT

_pack_in_c: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command as _pack_in_c
except ImportError:  # hiredis is optional for redis-py: without it, commands are packed in Python
    _pack_in_c = None

Command = tuple[EncodableT, ...]  # a raw Redis command: name, then arguments

GATHER_TURNS = 4  # event-loop turns a round waits at most for more tasks to join (stops when none did)
MAX_ROUND_COMMANDS = 5_000  # per write: bounds the memory of one round (more waits for the next round)
# The argument types hiredis writes byte for byte as redis-py's encoder does (UTF-8 text, an int's or a float's
# repr; tests/router/test_rounds_pack.py compares them). Exact types only: a subclass may print itself otherwise
# (an IntEnum's repr, a float subclass's __repr__), and hiredis turns bool away but writes a memoryview's
# underlying bytes even when the view is strided; those go to the Python packer, as does a list for a command.
_PACKED_IN_C = frozenset({str, bytes, int, float})


@dataclass(slots=True)
class _Request:
    commands: Sequence[Command]
    raw: Collection[int]  # indexes of commands whose reply is bytes, not decoded (DUMP)
    future: asyncio.Future[list[Any]]


class Rounds:
    """Coalesces the commands of one client's tasks; one round in flight at a time, on one connection."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.loop = asyncio.get_running_loop()
        self.rounds = 0  # round trips made (for tests and benches)
        self.scripts_loaded = False  # set by the first user that loads its scripts on this client
        self._queue: list[_Request] = []
        self._flusher: asyncio.Task[None] | None = None

    async def send(self, commands: Sequence[Command], raw: Collection[int] = ()) -> list[Any]:
        """Send `commands` in the next round; their replies in order (an error reply is returned as its
        ResponseError, not raised, so one bad command does not cost the others their replies)."""
        if not commands:
            return []
        future: asyncio.Future[list[Any]] = self.loop.create_future()
        self._queue.append(_Request(commands, raw, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = self.loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await self._flush_all()
        finally:
            if self._queue:  # stopped by cancellation: nobody waits for ever
                waiting, self._queue = self._queue, []
                self._fail(waiting, ConnectionError("the rounds were stopped"))

    async def _flush_all(self) -> None:
        while self._queue:
            size = -1
            for _ in range(GATHER_TURNS):
                if len(self._queue) == size:
                    break  # a turn passed and nobody joined: go
                size = len(self._queue)
                await asyncio.sleep(0)
            taken, count = 0, 0
            while taken < len(self._queue) and (taken == 0 or count + len(self._queue[taken].commands)
                                                <= MAX_ROUND_COMMANDS):
                count += len(self._queue[taken].commands)
                taken += 1
            requests, self._queue = self._queue[:taken], self._queue[taken:]
            await self._round(requests)

    async def _round(self, requests: list[_Request]) -> None:
        pool = self.redis.connection_pool
        try:
            connection = await pool.get_connection()
        except BaseException as error:  # Redis unreachable: every waiting task learns it, none hangs
            self._fail(requests, error)
            if not isinstance(error, Exception):
                raise
            return
        try:
            encoder = connection.encoder
            if (encoder.encoding, encoder.encoding_errors) != ("utf-8", "strict"):
                raise ValueError("rounds pack text as UTF-8: a client with another encoding cannot use them")
            encode = encoder.encode
            await connection.send_packed_command(
                b"".join(pack(encode, command) for request in requests for command in request.commands))
            self.rounds += 1
            answers: list[list[Any]] = []
            for request in requests:
                replies: list[Any] = []
                for index in range(len(request.commands)):
                    try:
                        replies.append(await connection.read_response(disable_decoding=index in request.raw))
                    except ResponseError as error:
                        replies.append(error)
                answers.append(replies)
        except BaseException as error:
            await connection.disconnect()  # replies may be left unread: the connection is not reusable
            self._fail(requests, error)
            if not isinstance(error, Exception):
                raise
            return
        finally:
            await pool.release(connection)
        for request, replies in zip(requests, answers):
            if not request.future.done():  # its task was cancelled meanwhile
                request.future.set_result(replies)

    @staticmethod
    def _fail(requests: list[_Request], error: BaseException) -> None:
        failure = error if isinstance(error, Exception) else ConnectionError("the round was cancelled")
        for request in requests:
            if not request.future.done():
                request.future.set_exception(failure)


def pack(encode: Callable[[Any], bytes | memoryview], command: Command) -> bytes:
    """One command in the Redis protocol, as redis-py's encoder would write it: by hiredis (in C) when every
    argument is of a type it writes the same way, else by `pack_in_python`."""
    if _pack_in_c is not None and type(command) is tuple and _PACKED_IN_C.issuperset(map(type, command)):
        return _pack_in_c(command)
    return pack_in_python(encode, command)


def pack_in_python(encode: Callable[[Any], bytes | memoryview], command: Command) -> bytes:
    """`pack` without hiredis. redis-py's pack_command grows its buffer by concatenation, which costs time
    quadratic in the length of a command: a commit script's hundreds of arguments felt it."""
    pieces: list[bytes | memoryview] = [b"*%d\r\n" % len(command)]
    for argument in command:
        # Most arguments are text or bytes: encoded here without the encoder's chain of checks.
        data: bytes | memoryview
        if isinstance(argument, str):
            data = argument.encode()
        elif isinstance(argument, bytes):
            data = argument
        else:
            data = encode(argument)
        pieces += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(pieces)


def rounds_for(redis: Redis) -> Rounds:
    """The client's coalescer on the running event loop (made on first use)."""
    rounds: Rounds | None = getattr(redis, "_helpline_rounds", None)
    if rounds is None or rounds.loop is not asyncio.get_running_loop():
        rounds = Rounds(redis)
        redis._helpline_rounds = rounds  # type: ignore[attr-defined]
    return rounds
