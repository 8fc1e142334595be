"""Opening the Redis client that `redis.url` names: one server, a Sentinel-managed master, or a Cluster slot.

Every Helpline process gets a plain `redis.asyncio.Redis`, whatever the URL, so WATCH/MULTI, pipelines
and Lua scripts behave the same everywhere:

- Sentinel: redis-py's `Sentinel.master_for`; a connection that breaks asks the sentinels again, so
  after a failover the next try (the workers retry on connection errors) reaches the new master.
- Cluster: all of an installation's keys share the hash tag of `redis.prefix`, hence one slot, hence
  one master. The client talks to that master directly and asks the cluster again (CLUSTER SLOTS)
  whenever it opens a connection; a MOVED (the slot was moved, or a replica took over) drops the
  connection and is raised as a connection error, which the workers retry. We do not use redis-py's
  `RedisCluster`: its async WATCH runs each watched read in a thread on an event loop of its own, and
  nothing here needs more than one slot per installation (docs/scaling.md).

Every connection names its library to the server (CLIENT SETINFO: redis-py and its version). Left to itself,
redis-py looks its own version up in the installed packages' metadata for each connection it makes (~5 ms
each: a burst that grows a pool by 40 connections spent 0.2 s of CPU on it); here every connection is handed
the version redis-py declares in `redis.__version__` (the same string its metadata holds) as their
`driver_info`, with no lookup at all: even one cost each command ~8 ms (the lookup and the e-mail parser it imports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, ConnectionPool
from redis.asyncio.sentinel import Sentinel
from redis.crc import key_slot
from redis.driver_info import DriverInfo
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MasterDownError,
    MovedError,
    ReadOnlyError,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.redis_url import HostPort, RedisTarget, hash_tag, parse_redis_url

MAX_KNOWN_NODES = 1000  # a cluster has at most ~1,000 nodes; a reply naming more is not believed further


class ClusterSlotError(RedisConnectionError):
    """No node of the cluster could say which master serves the prefix's slot (yet)."""


def connect(url: str, prefix: str, **options: Any) -> Redis:
    """A client for `url` (see bot/redis_url.py); `options` go to every connection (timeouts, keepalive)."""
    target = parse_redis_url(url)
    options.setdefault("decode_responses", True)
    options.setdefault("driver_info", driver_info())
    if target.kind == "sentinel":
        return _sentinel_master(target, options)
    if target.kind == "cluster":
        tag = hash_tag(prefix)
        if tag is None:
            raise ValueError("with a redis+cluster:// URL, redis.prefix needs a hash tag, e.g. hl:{acme}:")
        return _cluster_slot_client(target, key_slot(tag.encode()), options)
    if target.kind == "unix":
        options.pop("socket_keepalive", None)  # no meaning on a unix socket; its connection class refuses it
    return Redis.from_url(url, **options)


def driver_info() -> DriverInfo:
    """What every connection tells the server it is, as redis-py would say it: "redis-py" and its version."""
    return DriverInfo(name="redis-py", lib_version=_redis_py_version())


def _redis_py_version() -> str:
    """redis-py's version as it reports it itself: the package's metadata (a slow lookup) holds this same string."""
    return str(redis.__version__)


class _SentinelClient(Redis):
    """The master's client; closing it closes the sentinels' connections too."""

    sentinels: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinels is not None:
            for sentinel in self.sentinels.sentinels:
                await sentinel.aclose()


def _sentinel_master(target: RedisTarget, options: dict[str, Any]) -> Redis:
    # The sentinels are asked with short timeouts of their own: one dead sentinel must not stall a reconnect.
    sentinel_options: dict[str, Any] = {"socket_connect_timeout": options.get("socket_connect_timeout", 2.0),
                                        "socket_timeout": options.get("socket_timeout", 2.0),
                                        "driver_info": options.get("driver_info")}
    if target.sentinel_password:
        sentinel_options["password"] = target.sentinel_password
    sentinels = Sentinel([(host.host, host.port) for host in target.hosts], sentinel_kwargs=sentinel_options)
    client = sentinels.master_for(target.service, redis_class=_SentinelClient, db=target.db,
                                  username=target.username, password=target.password, **options)
    client.sentinels = sentinels
    return client


class SlotFinder:
    """Which master serves one slot, asked of the cluster's nodes in turn."""

    def __init__(self, seeds: Sequence[HostPort], slot: int, username: str | None, password: str | None,
                 connect_timeout: float, driver: DriverInfo | None = None) -> None:
        self.nodes = list(seeds)
        self.slot = slot
        self.username = username
        self.password = password
        self.connect_timeout = connect_timeout
        self.driver = driver if driver is not None else driver_info()
        # The master last known to serve the slot: pooled connections to any other node are dropped.
        self.current: HostPort | None = None

    async def owner(self) -> HostPort:
        failures = []
        for node in list(self.nodes):
            probe = Connection(host=node.host, port=node.port, username=self.username, password=self.password,
                               socket_connect_timeout=self.connect_timeout, socket_timeout=self.connect_timeout,
                               driver_info=self.driver)
            try:
                await probe.connect()
                await probe.send_command("CLUSTER", "SLOTS")
                ranges = await probe.read_response()
            except (RedisError, OSError) as error:
                failures.append(f"{node}: {type(error).__name__}")
                continue
            finally:
                await probe.disconnect()
            found = self._learn(ranges, node)
            if found is not None:
                self.current = found
                return found
            failures.append(f"{node}: slot {self.slot} not served")
        raise ClusterSlotError(f"no cluster node names the master of slot {self.slot} ({'; '.join(failures)[:300]})")

    def _learn(self, ranges: Any, asked: HostPort) -> HostPort | None:
        """The slot's master from a CLUSTER SLOTS reply; every node named is remembered to ask later.
        An entry that is not [start, end, [host, port, ...], ...] is skipped."""
        owner = None
        for item in ranges if isinstance(ranges, list) else []:
            try:
                start, end, nodes = int(item[0]), int(item[1]), [_node(node, asked) for node in item[2:]]
            except (TypeError, ValueError, IndexError):
                continue
            for learned in nodes:  # the master first, then its replicas: all of them are worth asking later
                if learned not in self.nodes and len(self.nodes) < MAX_KNOWN_NODES:
                    self.nodes.append(learned)
            if nodes and start <= self.slot <= end:
                owner = nodes[0]
        return owner


def _node(entry: Any, asked: HostPort) -> HostPort:
    port = int(entry[1])
    if not 0 < port < 65536:
        raise ValueError(port)
    return HostPort(_text(entry[0]) or asked.host, port)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SlotOwnerConnection(Connection):
    """A connection to whichever master serves the slot right now (looked up at every connect)."""

    def __init__(self, *, finder: SlotFinder, **kwargs: Any) -> None:
        self.finder = finder
        super().__init__(**kwargs)

    async def _connect(self) -> None:
        owner = await self.finder.owner()
        self.host, self.port = owner.host, owner.port
        await super()._connect()

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except (AskError, ClusterDownError, MasterDownError, ReadOnlyError, TryAgainError) as error:
            # MOVED: the slot lives elsewhere now; ASK / TRYAGAIN: it is being moved (the tenant waits, retrying,
            # until the move is over). CLUSTERDOWN / READONLY: a failover is under way or this node was demoted.
            # Drop this connection so the retry finds the slot's master.
            # A MOVED for another slot (like a CROSSSLOT) means a key outside the prefix: a bug, raised as is.
            if isinstance(error, AskError) and error.slot_id != self.finder.slot:
                raise
            if isinstance(error, MovedError):
                # The answer names the new owner: the pool's other connections to the old one are dropped
                # before their next use instead of each running into the MOVED in turn.
                self.finder.current = HostPort(str(error.host), int(error.port))
            await self.disconnect()
            raise RedisConnectionError(f"the cluster slot moved or is failing over: {error}") from error


class SlotOwnerPool(ConnectionPool):
    """Hands out connections to the slot's current master only."""

    async def ensure_connection(self, connection: Any) -> None:
        current = connection.finder.current
        if connection.is_connected and current is not None and (connection.host, connection.port) != (
                current.host, current.port):
            await connection.disconnect()
        await super().ensure_connection(connection)


def _cluster_slot_client(target: RedisTarget, slot: int, options: dict[str, Any]) -> Redis:
    finder = SlotFinder(target.hosts, slot, target.username, target.password,
                        float(options.get("socket_connect_timeout") or 2.0), options.get("driver_info"))
    pool = SlotOwnerPool(connection_class=SlotOwnerConnection, finder=finder, username=target.username,
                          password=target.password, **options)
    return Redis.from_pool(pool)  # closing the client closes the pool too
