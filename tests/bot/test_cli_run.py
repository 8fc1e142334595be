"""`helpline run` against a Redis that is not there: one clear line and exit status 1, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from tests.bot.test_cli_flow import helpline, write_config


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the probe is: nothing listens there


async def test_run_with_redis_down_says_so_in_one_line(tmp_path: Path, prefix: str) -> None:
    config = write_config(tmp_path, prefix)
    settings = yaml.safe_load(config.read_text())
    port = closed_port()
    settings["redis"]["url"] = f"redis://:hunter2-pass@127.0.0.1:{port}/0"
    config.write_text(yaml.safe_dump(settings))
    code, _, err = await helpline(config, "run")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1, err
    assert f"Redis at 127.0.0.1:{port}/0 is not reachable" in lines[0] and "redis.url" in lines[0]
    assert "Traceback" not in err and "hunter2-pass" not in err
