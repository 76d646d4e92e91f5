"""Which attempts have a student socket open, across every daphne process.

A Redis set per attempt holds the channel names of its open sockets.
"""

from collections.abc import Iterable

import logging

import redis

from .redis_clients import get_async_redis, get_redis

logger = logging.getLogger(__name__)

PRESENCE_PREFIX = "exam:presence:"
# A process that dies without disconnecting leaves members behind; they age out.
PRESENCE_TTL_SECONDS = 6 * 3600


def presence_key(attempt_id: int) -> str:
    return f"{PRESENCE_PREFIX}{attempt_id}"


async def amark_connected(attempt_id: int, channel_name: str) -> bool:
    """Add a socket; True when it is the attempt's first open one."""
    pipe = get_async_redis().pipeline(transaction=True)
    pipe.sadd(presence_key(attempt_id), channel_name)
    pipe.expire(presence_key(attempt_id), PRESENCE_TTL_SECONDS)
    pipe.scard(presence_key(attempt_id))
    _, _, count = await pipe.execute()
    return count == 1


async def amark_disconnected(attempt_id: int, channel_name: str) -> bool:
    """Remove a socket; True when no socket of the attempt is left open."""
    pipe = get_async_redis().pipeline(transaction=True)
    pipe.srem(presence_key(attempt_id), channel_name)
    pipe.scard(presence_key(attempt_id))
    _, count = await pipe.execute()
    return count == 0


def connected_map(attempt_ids: Iterable[int]) -> dict[int, bool]:
    """attempt id -> has an open socket (one round trip)."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for attempt_id in ids:
        pipe.scard(presence_key(attempt_id))
    try:
        counts = pipe.execute()
    except redis.RedisError:
        # Presence is advisory: a proctor still gets the attempts while Redis is down.
        logger.warning("presence unavailable: Redis error", exc_info=True)
        counts = [0] * len(ids)
    return {attempt_id: count > 0 for attempt_id, count in zip(ids, counts)}
