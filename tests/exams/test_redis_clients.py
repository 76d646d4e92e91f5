"""exams/redis_clients.py: one sync client per kind and process, one asyncio client per loop,
and the reset that tests use to point them elsewhere."""

import asyncio

from django.conf import settings

from exams.redis_clients import close_async_redis, get_async_redis, get_optional_redis, get_redis, reset_clients


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
