"""`redis.url`: which Redis (or Sentinel group, or Cluster) Helpline talks to. Pure parsing, no I/O.

Accepted forms (the README and docs/scaling.md describe them for admins):

- `redis://[[user]:password@]host[:port][/db]` and `rediss://...` (TLS): one Redis, as redis-py reads it.
- `unix:///path/to/redis.sock[?db=N][&password=...]`: one Redis on a local socket.
- `redis+sentinel://[[user]:password@]host1[:port1][,host2[:port2]...]/<service_name>[/<db>][?sentinel_password=...]`:
  the master that the sentinels name `service_name`; port 26379 by default, db 0 by default. The
  user and password are the master's; `sentinel_password` is for the sentinels when they ask for one.
- `redis+cluster://[[user]:password@]host1[:port1][,host2[:port2]...][/0]`: a Redis Cluster reached through
  any of these nodes (port 6379 by default). Helpline talks to the master of the slot of its prefix's
  hash tag, so `redis.prefix` must carry one, e.g. `hl:{acme}:` (see `hash_tag`).

IPv6 hosts go in brackets: `[::1]:26379`. Percent-escapes are decoded in user, password and service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

MAX_URL_CHARS = 4096
MAX_HOSTS = 32
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_REDIS_PORT = 6379

_SERVICE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")

Kind = Literal["redis", "unix", "sentinel", "cluster"]


class RedisUrlError(ValueError):
    """`redis.url` cannot be read; the message says why and never repeats the password."""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """What a `redis.url` names. `url` is kept only for the single-server kinds (redis-py reads it)."""

    kind: Kind
    url: str = ""
    hosts: tuple[HostPort, ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    def location(self) -> str:
        """Where, without any password: for logs and `helpline doctor`."""
        if self.kind == "sentinel":
            return f"sentinel {','.join(map(str, self.hosts))} service {self.service} db {self.db}"
        if self.kind == "cluster":
            return f"cluster {','.join(map(str, self.hosts))}"
        parts = urlsplit(self.url)
        if self.kind == "unix":
            return parts.path
        return f"{parts.hostname or '?'}:{parts.port or DEFAULT_REDIS_PORT}{parts.path}"


def parse_redis_url(url: str) -> RedisTarget:
    """Read `redis.url`; raises RedisUrlError naming what is wrong."""
    if len(url) > MAX_URL_CHARS:
        raise RedisUrlError(f"the URL is longer than {MAX_URL_CHARS} characters")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise RedisUrlError("the URL contains spaces or control characters")
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise RedisUrlError("expected scheme://..., e.g. redis://127.0.0.1:6379/0")
    scheme = scheme.lower()
    if scheme in ("redis", "rediss"):
        return _single(url, rest)
    if scheme == "unix":
        return _unix(url, rest)
    if scheme == "redis+sentinel":
        return _sentinel(rest)
    if scheme == "redis+cluster":
        return _cluster(rest)
    raise RedisUrlError(f"unknown scheme {scheme[:20]!r}: use redis, rediss, unix, redis+sentinel or redis+cluster")


def hash_tag(prefix: str) -> str | None:
    """The Cluster hash tag every key starting with `prefix` hashes by, or None when the whole key is hashed.

    Redis hashes the text between the first `{` and the first `}` after it, when that text is not empty.
    Every Helpline key starts with the prefix, so a prefix with a tag pins all of them to one slot, and
    braces later in a key (`conv:{<id>}`) no longer matter."""
    start = prefix.find("{")
    if start < 0:
        return None
    end = prefix.find("}", start + 1)
    if end < 0 or end == start + 1:
        return None
    return prefix[start + 1:end]


def _single(url: str, rest: str) -> RedisTarget:
    netloc, path, _ = _split(rest)
    hosts = _hosts(_credentials(netloc)[2], DEFAULT_REDIS_PORT)
    if len(hosts) != 1:
        raise RedisUrlError("redis:// names one server; use redis+sentinel:// or redis+cluster:// for several")
    db = _db(path.strip("/") or "0")
    return RedisTarget(kind="redis", url=url, hosts=hosts, db=db)


def _unix(url: str, rest: str) -> RedisTarget:
    path, _, query = rest.partition("?")
    if "@" in path:
        path = path.rpartition("@")[2]
    if not path.startswith("/"):
        raise RedisUrlError("unix:// needs an absolute socket path, e.g. unix:///run/redis/redis.sock?db=0")
    db = _db(_query(query).get("db", "0"))
    return RedisTarget(kind="unix", url=url, db=db)


def _sentinel(rest: str) -> RedisTarget:
    netloc, path, query = _split(rest)
    username, password, hostlist = _credentials(netloc)
    hosts = _hosts(hostlist, DEFAULT_SENTINEL_PORT)
    segments = path.strip("/").split("/") if path.strip("/") else []
    if not segments or len(segments) > 2:
        raise RedisUrlError("redis+sentinel:// needs /<service_name> or /<service_name>/<db> after the hosts")
    service = unquote(segments[0])
    if not _SERVICE_NAME.match(service):
        raise RedisUrlError("the sentinel service name must be 1-128 letters, digits, '.', '_' or '-'")
    db = _db(segments[1]) if len(segments) == 2 else 0
    options = _query(query)
    unknown = set(options) - {"sentinel_password"}
    if unknown:
        raise RedisUrlError(f"unknown option(s) {', '.join(sorted(unknown))[:80]}: only sentinel_password")
    return RedisTarget(kind="sentinel", hosts=hosts, service=service, db=db, username=username,
                       password=password, sentinel_password=options.get("sentinel_password"))


def _cluster(rest: str) -> RedisTarget:
    netloc, path, query = _split(rest)
    username, password, hostlist = _credentials(netloc)
    hosts = _hosts(hostlist, DEFAULT_REDIS_PORT)
    if path.strip("/") not in ("", "0"):
        raise RedisUrlError("a Redis Cluster has database 0 only: leave the /db out")
    if query:
        raise RedisUrlError("redis+cluster:// takes no options")
    return RedisTarget(kind="cluster", hosts=hosts, username=username, password=password)


def _split(rest: str) -> tuple[str, str, str]:
    rest, _, query = rest.partition("?")
    # The password may contain '/': the host list starts after the last '@' before the first '/' after it.
    at = rest.rfind("@")
    slash = rest.find("/", at + 1)
    if slash < 0:
        return rest, "", query
    return rest[:slash], rest[slash:], query


def _credentials(netloc: str) -> tuple[str | None, str | None, str]:
    userinfo, at, hostlist = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    if not colon:
        raise RedisUrlError("credentials must be user:password@ or :password@")
    return unquote(user) or None, unquote(password) or None, hostlist


def _hosts(hostlist: str, default_port: int) -> tuple[HostPort, ...]:
    if not hostlist:
        raise RedisUrlError("no host given")
    items = hostlist.split(",")
    if len(items) > MAX_HOSTS:
        raise RedisUrlError(f"more than {MAX_HOSTS} hosts")
    return tuple(_host(item, default_port) for item in items)


def _host(item: str, default_port: int) -> HostPort:
    if item.startswith("["):
        host, bracket, tail = item[1:].partition("]")
        if not bracket or not _IPV6.match(host):
            raise RedisUrlError("an IPv6 host goes in brackets: [::1]:26379")
        port_text = tail[1:] if tail.startswith(":") else None
        if tail and port_text is None:
            raise RedisUrlError("unexpected text after an IPv6 host")
    else:
        host, colon, port_text_ = item.partition(":")
        port_text = port_text_ if colon else None
        if not _HOST_NAME.match(host):
            raise RedisUrlError("a host must be a name or an address (letters, digits, '.', '-', '_')")
    port = default_port
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise RedisUrlError("a port must be a number from 1 to 65535")
        port = int(port_text)
    return HostPort(host, port)


def _db(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        raise RedisUrlError("the database must be a number, e.g. /0")
    return int(text)


def _query(query: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, strict_parsing=False, max_num_fields=16)
    except ValueError:
        raise RedisUrlError("too many options") from None
    return {key: values[-1] for key, values in parsed.items()}
