"""A private redis-server for tests that stop, kill or restart Redis (never the shared one).

It listens on a unix socket in its own folder (no TCP port at all), with `appendonly yes` and
`appendfsync always`, so a restart keeps everything that was acknowledged.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis as sync_redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    def __init__(self, folder: Path, durable: bool = True) -> None:
        self.folder = folder
        # Not durable (no append-only file): for benchmarks, which measure Redis's work, not the disk's.
        self.durable = durable
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket = str(folder / "redis.sock")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--dir", str(self.folder), "--appendonly", "yes" if self.durable else "no", "--appendfsync", "always",
             "--save", "", "--daemonize", "no", "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                client = sync_redis.Redis(unix_socket_path=self.socket)
                client.ping()
                if client.info("persistence").get("loading", 0) == 0:
                    client.close()
                    return
                client.close()
            except (sync_redis.ConnectionError, FileNotFoundError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop as an operator's restart does (SIGTERM: the append-only file is flushed)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=15)
            self.process = None
