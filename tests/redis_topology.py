"""Private Redis topologies for tests: a master, a replica and three sentinels; a three-master Cluster.

Real `redis-server` processes (sentinel mode is `redis-server --sentinel`) in a test's tmp folder, on
free loopback ports picked by binding port 0. Tests using them skip when redis-server is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis as sync_redis

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")

needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None or REDIS_CLI is None,
    reason="needs redis-server and redis-cli (Debian's redis-server package; scripts/setup --for-tests installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: object, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except (sync_redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.05)


class Server:
    """One redis-server process (data node or sentinel) with its own folder and config file."""

    def __init__(self, folder: Path, lines: list[str], sentinel: bool = False) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = folder / ("sentinel.conf" if sentinel else "redis.conf")
        self.config.write_text("\n".join([f"port {self.port}", "bind 127.0.0.1", f"dir {folder}",
                                          f"logfile {folder / 'log'}", "daemonize no", *lines]) + "\n")
        self.sentinel = sentinel
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        args = [REDIS_SERVER, str(self.config)] + (["--sentinel"] if self.sentinel else [])
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process = self.process

        def answering() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.folder / 'log'}")
            return bool(self.client().ping())

        _wait(answering, f"redis-server on port {self.port} answering")

    def client(self) -> sync_redis.Redis:
        return sync_redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=2)

    def kill(self) -> None:
        """SIGKILL: nothing flushed, no goodbye to replicas or sentinels."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=15)
            self.process = None


class SentinelGroup:
    """A master, one replica and three sentinels watching them as `mymaster` (quorum 2)."""

    SERVICE = "mymaster"

    def __init__(self, folder: Path) -> None:
        data = ["appendonly yes", "appendfsync everysec", 'save ""']
        self.master = Server(folder / "master", data)
        self.replica = Server(folder / "replica", [*data, "replica-read-only yes"])
        self.sentinels = [Server(folder / f"sentinel{index}", [], sentinel=True) for index in range(3)]

    def __enter__(self) -> SentinelGroup:
        try:
            self.master.start()
            self.replica.config.write_text(self.replica.config.read_text() + f"replicaof 127.0.0.1 {self.master.port}\n")
            self.replica.start()
            _wait(lambda: self.replica.client().info("replication")["master_link_status"] == "up", "replication")
            for sentinel in self.sentinels:
                sentinel.config.write_text(sentinel.config.read_text() + "\n".join([
                    f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master.port} 2",
                    f"sentinel down-after-milliseconds {self.SERVICE} 1000",
                    f"sentinel failover-timeout {self.SERVICE} 5000",
                    f"sentinel parallel-syncs {self.SERVICE} 1"]) + "\n")
                sentinel.start()
            # Each sentinel must know the replica and the other sentinels before a failover can be agreed.
            for sentinel in self.sentinels:
                _wait(lambda s=sentinel: int(s.client().sentinel_master(self.SERVICE)["num-other-sentinels"]) == 2
                      and int(s.client().sentinel_master(self.SERVICE)["num-slaves"]) == 1, "sentinels seeing each other")
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.SERVICE}/0"

    def master_port(self) -> int:
        return int(self.sentinels[0].client().sentinel_get_master_addr_by_name(self.SERVICE)[1])

    def __exit__(self, *exc_info: object) -> None:
        for server in [*self.sentinels, self.replica, self.master]:
            server.kill()


class Cluster:
    """Three masters (no replicas), every slot covered."""

    def __init__(self, folder: Path) -> None:
        self.nodes = [Server(folder / f"node{index}", ["cluster-enabled yes", f"cluster-port {free_port()}",
                                                      f"cluster-config-file {folder}/nodes{index}.conf",
                                                      "cluster-node-timeout 2000", "appendonly no", 'save ""'])
                      for index in range(3)]

    def __enter__(self) -> Cluster:
        assert REDIS_CLI is not None
        try:
            for node in self.nodes:
                node.start()
            subprocess.run([REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{node.port}" for node in self.nodes),
                            "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
            _wait(lambda: all(node.client().cluster("info")["cluster_state"] == "ok" for node in self.nodes),
                  "cluster state ok")
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def owner_port(self, slot: int) -> int:
        """The port of the master serving `slot`."""
        for start, end, master, *_ in self.nodes[0].client().execute_command("CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(master[1])
        raise LookupError(slot)

    def move_slot(self, slot: int, source: Server, target: Server) -> None:
        """Move one slot with its keys from `source` to `target`, the steps `redis-cli --cluster reshard` takes."""
        source_id, target_id = source.client().cluster("myid"), target.client().cluster("myid")
        target.client().execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.client().execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := source.client().execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            source.client().execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
        for node in self.nodes:
            node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)

    def node_keys(self) -> dict[int, list[str]]:
        """Every key on each node (by port): tests read them to see where a tenant's keys went."""
        return {node.port: sorted(node.client().scan_iter(count=1000)) for node in self.nodes}

    def __exit__(self, *exc_info: object) -> None:
        for node in self.nodes:
            node.kill()
