"""`helpline dashboard hash-password`: its hash logs the user in; short passwords are refused."""

from __future__ import annotations

import asyncio
import sys

from bot.dashboard.passwords import verify_password
from bot.settings import DashboardSettings
from tests.conftest import REPO


async def _run(stdin: bytes) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "dashboard", "hash-password", cwd=REPO,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_printed_hash_verifies_and_is_accepted_in_the_settings() -> None:
    code, out, err = await _run(b"a long passphrase\n")
    assert code == 0, err
    hashed = out.strip()
    assert verify_password("a long passphrase", hashed) and "passphrase" not in hashed
    assert DashboardSettings.model_validate({"users": {"maria": hashed}}).enabled


async def test_a_short_password_is_refused() -> None:
    code, out, err = await _run(b"short\n")
    assert code == 2 and out == "" and "8 characters" in err


def test_the_settings_refuse_a_plain_password_as_a_hash() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="hash-password"):
        DashboardSettings.model_validate({"users": {"maria": "hunter22"}})
    assert not DashboardSettings.model_validate({"token": ""}).enabled
    assert "s3cr3t" not in repr(DashboardSettings.model_validate({"token": "s3cr3t"}))
