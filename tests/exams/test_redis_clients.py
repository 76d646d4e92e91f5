"""exams/redis_clients.py: one sync client per kind and process, one asyncio client per loop,
and the reset that tests use to point them elsewhere."""

import asyncio
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from exams.redis_clients import (
    channel_layer_hosts,
    close_async_redis,
    get_async_redis,
    get_optional_redis,
    get_redis,
    new_async_redis,
    parse_sentinels,
    reset_clients,
)
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer


def test_sync_clients_are_made_once_per_kind():
    assert get_redis() is get_redis()
    assert get_optional_redis() is get_optional_redis()
    assert get_redis() is not get_optional_redis()
    timeouts = {
        kind: client.connection_pool.connection_kwargs["socket_timeout"]
        for kind, client in (("required", get_redis()), ("optional", get_optional_redis()))
    }
    assert timeouts == {"required": settings.REDIS_TIMEOUT, "optional": settings.OPTIONAL_REDIS_TIMEOUT}


def test_sync_clients_follow_the_redis_url(private_redis):
    assert get_redis().connection_pool.connection_kwargs["port"] == private_redis.port
    get_redis().set("here", "1")
    assert private_redis.client().get("here") == b"1"


def test_reset_makes_new_clients_that_work():
    before = (get_redis(), get_optional_redis())
    reset_clients()
    after = (get_redis(), get_optional_redis())
    assert all(a is not b for a, b in zip(before, after, strict=True))
    assert after[0].ping() and after[1].ping()


async def test_an_async_client_per_loop_until_closed():
    client = get_async_redis()
    assert get_async_redis() is client
    assert await client.ping()
    other_loop = await asyncio.to_thread(lambda: asyncio.run(_client_of_a_new_loop()))
    assert other_loop != id(client)
    await close_async_redis()
    fresh = get_async_redis()
    assert fresh is not client and await fresh.ping()
    await close_async_redis()


async def _client_of_a_new_loop() -> int:
    client = get_async_redis()
    await client.ping()
    await close_async_redis()
    return id(client)


async def test_reset_forgets_the_async_clients_too():
    client = get_async_redis()
    reset_clients()
    fresh = get_async_redis()
    assert fresh is not client and await fresh.ping()
    await client.aclose()  # reset drops it unclosed: its loop may be gone
    await close_async_redis()


# --- Redis Sentinel (REDIS_SENTINELS) -------------------------------------------------------


def test_sentinel_addresses_are_parsed_with_the_default_port():
    assert parse_sentinels(["10.0.0.1:26380", " sentinel-2 ", "", "[::1]:26381"]) == [
        ("10.0.0.1", 26380),
        ("sentinel-2", 26379),
        ("::1", 26381),
    ]
    with pytest.raises(ValueError, match="host:port"):
        parse_sentinels(["sentinel:port"])


def test_channel_layer_hosts_name_the_master_set_or_the_url():
    plain = channel_layer_hosts("redis://:pw@r:6379/3", sentinels=[], master="mymaster", max_connections=7)
    assert plain == [{"address": "redis://:pw@r:6379/3", "max_connections": 7}]
    [host] = channel_layer_hosts("redis://:pw@ignored:1/3", sentinels=[("s", 26379)], master="exams")
    assert host["master_name"] == "exams" and host["sentinels"] == [("s", 26379)]
    assert (host["db"], host["password"]) == (3, "pw") and "host" not in host and "port" not in host
    shards = channel_layer_hosts("redis://r/0", sentinels=[], master="m", shard_urls=["redis://a/0", "redis://b/0"])
    assert [h["address"] for h in shards] == ["redis://a/0", "redis://b/0"]
    by_master = channel_layer_hosts("redis://r/0", sentinels=[("s", 1)], master="m", shard_masters=["l1", "l2"])
    assert [h["master_name"] for h in by_master] == ["l1", "l2"]


@pytest.fixture
def sentinel_for(private_redis, tmp_path) -> Iterator[RedisServer]:
    """A real sentinel (quorum 1) watching the private Redis as the master set `exams`."""
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\nsentinel monitor exams 127.0.0.1 {private_redis.port} 1\n"
    )
    proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
    try:
        probe = redis.Redis(port=port, socket_connect_timeout=0.2)
        end = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < end, "the sentinel did not start"
                time.sleep(0.02)  # polling for the server to accept connections
        with override_settings(REDIS_SENTINELS=[("127.0.0.1", port)], REDIS_SENTINEL_MASTER="exams"):
            reset_clients()
            yield private_redis
    finally:
        reset_clients()
        proc.terminate()
        proc.wait()


async def test_every_client_finds_the_master_through_the_sentinels(sentinel_for):
    # REDIS_URL's host and port are not used: a wrong port proves the sentinel was asked.
    nowhere = "redis://127.0.0.1:1/0"
    with override_settings(REDIS_URL=nowhere, CACHES={"default": {**settings.CACHES["default"], "LOCATION": nowhere}}):
        reset_clients()
        get_redis().set("sync", "1")
        await get_async_redis().set("async", "1")
        await asyncio.to_thread(caches["default"].set, "cached", 1)
        dedicated = new_async_redis()
        await dedicated.set("dedicated", "1")
        await dedicated.aclose()
        await close_async_redis()
    client = sentinel_for.client()
    assert client.get("sync") == client.get("async") == client.get("dedicated") == b"1"
    assert any(key.endswith(b"cached") for key in client.keys("exam:cache*"))
