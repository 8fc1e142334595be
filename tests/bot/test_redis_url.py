"""`redis.url`: every accepted form read right, anything else refused with a RedisUrlError that never
repeats the password; the Cluster hash tag of a prefix."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from redis.crc import key_slot

from bot.redis_connect import SlotFinder
from bot.redis_url import HostPort, RedisUrlError, hash_tag, parse_redis_url
from bot.settings import RedisSettings
from router.keys import Keys, lane_key


def test_sentinel_url_with_password_service_and_db() -> None:
    target = parse_redis_url("redis+sentinel://:s3cr%2Ft@10.0.0.1:26380,sentinel-b,[::1]:5000/mymaster/2"
                             "?sentinel_password=pw")
    assert target.kind == "sentinel" and target.service == "mymaster" and target.db == 2
    assert target.hosts == (HostPort("10.0.0.1", 26380), HostPort("sentinel-b", 26379), HostPort("::1", 5000))
    assert target.password == "s3cr/t" and target.username is None and target.sentinel_password == "pw"
    assert "s3cr" not in target.location() and "[::1]:5000" in target.location()


def test_sentinel_url_defaults_to_db_0() -> None:
    target = parse_redis_url("redis+sentinel://user:pw@127.0.0.1/helpline")
    assert (target.db, target.username, target.password) == (0, "user", "pw")


def test_cluster_url() -> None:
    target = parse_redis_url("redis+cluster://:pw@node-a:7000,node-b")
    assert target.kind == "cluster" and target.hosts == (HostPort("node-a", 7000), HostPort("node-b", 6379))
    assert parse_redis_url("redis+cluster://node-a:7000/0").kind == "cluster"


def test_single_server_and_unix_urls() -> None:
    assert parse_redis_url("redis://:p/w@127.0.0.1:6380/3").db == 3
    assert parse_redis_url("rediss://cache.example:6380/0").kind == "redis"
    unix = parse_redis_url("unix:///run/redis/redis.sock?db=4")
    assert (unix.kind, unix.db, unix.location()) == ("unix", 4, "/run/redis/redis.sock")


@pytest.mark.parametrize("url", [
    "", "localhost:6379", "http://127.0.0.1/", "redis+sentinel://127.0.0.1", "redis+sentinel://127.0.0.1/",
    "redis+sentinel://127.0.0.1/a/b/c", "redis+sentinel://127.0.0.1/my master", "redis+sentinel://127.0.0.1/m/x",
    "redis+sentinel://127.0.0.1:0/m", "redis+sentinel://127.0.0.1:65536/m", "redis+sentinel://127.0.0.1:２/m",
    "redis+sentinel://,/m", "redis+sentinel://a,,b/m", "redis+sentinel://[zz]/m", "redis+sentinel://[::1/m",
    "redis+sentinel://h/m?retries=3", "redis+sentinel://pw@h/m", "redis+cluster://h/1", "redis+cluster://h?x=1",
    "redis://a,b/0", "redis://h/zero", "unix://relative.sock", "unix:///s.sock?db=x", "redis://h/\x00",
    "redis+sentinel://" + ",".join(["h"] * 33) + "/m", "redis://" + "h" * 5000,
])
def test_ugly_urls_are_refused(url: str) -> None:
    with pytest.raises(RedisUrlError):
        parse_redis_url(url)


@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_with_a_redis_url_error(text: str) -> None:
    try:
        parse_redis_url(text)
    except RedisUrlError:
        pass


_NAME = st.text(string.ascii_letters + string.digits + ".-_", min_size=1, max_size=20)
_PORT = st.integers(1, 65535)


@given(st.lists(st.tuples(_NAME, _PORT), min_size=1, max_size=5), _NAME, st.integers(0, 15),
       st.text(min_size=1, max_size=30))
def test_sentinel_urls_round_trip(hosts: list[tuple[str, int]], service: str, db: int, password: str) -> None:
    hostlist = ",".join(f"{host}:{port}" for host, port in hosts)
    url = f"redis+sentinel://:{quote(password, safe='')}@{hostlist}/{service}/{db}"
    target = parse_redis_url(url)
    assert target.hosts == tuple(HostPort(host, port) for host, port in hosts)
    assert (target.service, target.db, target.password) == (service, db, password)


@given(st.text(max_size=200))
def test_a_refusal_never_repeats_the_password(password: str) -> None:
    secret = f"SECRET{password}"
    for url in (f"redis+sentinel://:{secret}@h:x/m", f"redis+cluster://:{secret}@/0", f"redis://:{secret}@a,b/0"):
        try:
            parse_redis_url(url)
        except RedisUrlError as error:
            assert "SECRET" not in str(error)


def test_hash_tag_of_a_prefix() -> None:
    assert hash_tag("hl:{acme}:") == "acme"
    assert hash_tag("{t}") == "t"
    assert hash_tag("hl:") is None and hash_tag("hl:{}:{acme}:") is None and hash_tag("hl:{acme") is None
    assert hash_tag("hl:{a{b}:") == "a{b"  # as Redis reads it: up to the first '}' after the first '{'


@given(st.text(min_size=1, max_size=20).filter(lambda tag: "}" not in tag), st.text(max_size=40))
def test_every_key_of_a_tagged_prefix_hashes_by_the_tag(tag: str, ugly: str) -> None:
    """Whatever a conversation id, address, team or message id holds (braces too), a key built with a
    tagged prefix hashes to the slot of the tag: nothing escapes the prefix's slot."""
    keys = Keys(f"hl:{{{tag}}}:")
    slot = key_slot(tag.encode())
    built = [keys.inbox, keys.events, keys.metrics, keys.dead_letters, keys.case_counter, keys.workers,
             keys.teams_seen, keys.desk, keys.resolved, keys.conversations, keys.closed, keys.retention_indexed,
             keys.outbox(ugly), keys.conversation(ugly),
             keys.transcript(ugly), keys.address(ugly, ugly), keys.case(7), keys.case_for_message(ugly),
             keys.queue(ugly), keys.waits(ugly), keys.survey(7, 1), keys.agent(ugly), keys.seen(ugly, ugly),
             keys.flood(ugly, ugly), keys.flood_warned(ugly, ugly), keys.done(ugly), keys.result(ugly),
             keys.console(ugly), keys.sent(ugly, ugly), keys.sending(ugly, ugly), lane_key(keys.inbox, ugly)]
    assert all(key.startswith(keys.prefix) and key_slot(key.encode()) == slot for key in built)


def test_settings_refuse_an_unreadable_url_without_showing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        RedisSettings(url=SecretStr("redis+sentinel://:hunter2@h/"), prefix="hl:")
    assert "hunter2" not in str(caught.value) and "service_name" in str(caught.value)


def test_settings_want_a_hash_tag_with_a_cluster_url() -> None:
    with pytest.raises(ValidationError, match=r"hash tag"):
        RedisSettings(url=SecretStr("redis+cluster://h:7000"), prefix="hl:")
    assert RedisSettings(url=SecretStr("redis+cluster://h:7000"), prefix="hl:{acme}:").prefix == "hl:{acme}:"
    assert RedisSettings(url=SecretStr("redis://h:6379/0"), prefix="hl:").prefix == "hl:"


_REPLY = st.recursive(st.none() | st.integers() | st.text(max_size=10) | st.binary(max_size=10),
                      lambda inner: st.lists(inner, max_size=5), max_leaves=30)


@given(_REPLY)
def test_any_cluster_slots_reply_gives_an_owner_or_none(reply: object) -> None:
    finder = SlotFinder([HostPort("seed", 7000)], 5, None, None, 1.0)
    owner = finder._learn(reply, HostPort("seed", 7000))
    assert owner is None or isinstance(owner, HostPort)


def test_a_cluster_slots_reply_names_the_master_of_the_slot() -> None:
    finder = SlotFinder([HostPort("seed", 7000)], 6000, None, None, 1.0)
    reply = [[0, 5460, ["10.0.0.1", 7000, "id1"]], ["5461", "10922", [b"", 7001, "id2"], ["10.0.0.4", 7004, "id4"]],
             "junk", [1, 2], [10923, 16383, ["10.0.0.3", "x"]]]
    assert finder._learn(reply, HostPort("seed", 7000)) == HostPort("seed", 7001)
    assert HostPort("10.0.0.4", 7004) in finder.nodes and HostPort("10.0.0.3", 0) not in finder.nodes
