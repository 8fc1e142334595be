"""An exclusive lock on a file, across processes (flock) and the threads of one process.

flock locks belong to an open file: a second open of the same file in the same process would wait for
the first forever. So within a process a re-entrant lock per path comes first, and only its outermost
holder takes the file lock. The lock goes with the process: one that dies holds nothing.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
_locks: dict[str, threading.RLock] = {}
_holders: dict[str, int] = {}  # path -> how deep the holding thread is in it
_registry = threading.Lock()


@contextmanager
def exclusive(path: Path, wait_seconds: float, what: str) -> Iterator[bool]:
    """Hold the lock at `path` (created if missing); yields whether it is held. When it cannot be had —
    the file cannot be opened or locked, or `wait_seconds` pass — yields False after logging why, so the
    caller goes ahead alone: a lock here only saves duplicate work, it never guards correctness."""
    name = str(Path(path).expanduser().absolute())
    with _registry:
        local = _locks.setdefault(name, threading.RLock())
    deadline = time.monotonic() + wait_seconds
    if not local.acquire(timeout=max(wait_seconds, 0.0)):
        log.warning("%s: waited %.0f s for another thread's lock %s; going ahead", what, wait_seconds, name)
        yield False
        return
    try:
        depth = _holders.get(name, 0)
        _holders[name] = depth + 1
        if depth:
            yield True  # this thread holds the file lock already
            return
        with _file_lock(name, deadline, what) as held:
            yield held
    finally:
        _holders[name] -= 1
        local.release()


@contextmanager
def _file_lock(name: str, deadline: float, what: str) -> Iterator[bool]:
    try:
        os.makedirs(os.path.dirname(name), exist_ok=True)
        descriptor = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        log.info("%s without a lock (%s: %s)", what, name, exc.strerror or exc)
        yield False
        return
    try:
        held = _take(descriptor, name, deadline, what)
        yield held
    finally:
        os.close(descriptor)  # releases the lock too


def _take(descriptor: int, name: str, deadline: float, what: str) -> bool:
    waited = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if waited:
                log.info("%s: another process finished with %s", what, name)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                log.info("%s without a lock (%s: %s)", what, name, exc.strerror or exc)
                return False
        if time.monotonic() >= deadline:
            log.warning("%s: %s is still held by another process; going ahead", what, name)
            return False
        if not waited:
            log.info("%s: waiting for another process holding %s", what, name)
            waited = True
        time.sleep(POLL_SECONDS)
