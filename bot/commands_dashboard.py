"""`helpline dashboard hash-password`: the hash of a password for `dashboard.users`."""

from __future__ import annotations

import getpass
from typing import TextIO

from bot.dashboard.passwords import MAX_PASSWORD_CHARS, hash_password

EXIT_OK, EXIT_USAGE = 0, 2
MIN_PASSWORD_CHARS = 8


def hash_password_command(stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Asked twice on a terminal (not echoed); else the first line of standard input, for scripts."""
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("helpline: the two passwords differ", file=stderr)
            return EXIT_USAGE
    else:
        password = stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"helpline: a dashboard password needs {MIN_PASSWORD_CHARS} characters at least", file=stderr)
        return EXIT_USAGE
    if len(password) > MAX_PASSWORD_CHARS:
        print(f"helpline: a dashboard password may have {MAX_PASSWORD_CHARS} characters at most", file=stderr)
        return EXIT_USAGE
    print(hash_password(password), file=stdout)
    return EXIT_OK
