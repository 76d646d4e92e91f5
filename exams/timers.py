"""The Redis mirror of each attempt's clock.

Two structures per ongoing attempt, both written together in one MULTI:
- `exam:timer:{id}`: a key whose TTL (ms) runs out at the deadline (+ grace); its
  keyspace `expired` event is the fast path to a timeout.
- `exam:deadlines`: a sorted set of attempt ids scored by deadline in epoch ms, which the
  listener's sweeper claims from, since keyspace events can lag or be lost.

The database's `deadline_at` is the truth; everything here can be rebuilt from it.
"""

from collections.abc import Iterable

import redis
from django.conf import settings

from .clock import now_ms
from .redis_clients import get_async_redis, get_redis

TIMER_PREFIX = "exam:timer:"
DEADLINES_KEY = "exam:deadlines"

# Claim due members atomically: two sweepers never both take one.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""

# Claim the given members still in the index: so a keyspace event is worked on by one path of one listener.
_CLAIM_IDS = """
local taken = {}
for _, member in ipairs(ARGV) do
  if redis.call('ZREM', KEYS[1], member) == 1 then taken[#taken + 1] = member end
end
return taken
"""


def timer_key(attempt_id: int) -> str:
    return f"{TIMER_PREFIX}{attempt_id}"


def attempt_id_from_key(key: str) -> int | None:
    """The attempt id of an `exam:timer:{id}` key, or None for any other key."""
    if not key.startswith(TIMER_PREFIX):
        return None
    tail = key[len(TIMER_PREFIX):]
    return int(tail) if tail.isdigit() else None


def grace_ms() -> int:
    return int(settings.EXAM["ANSWER_GRACE_SECONDS"] * 1000)


def _ttl_ms(deadline_ms: int) -> int:
    # SET PX needs a positive TTL; a deadline already past expires at once.
    return max(1, deadline_ms + grace_ms() - now_ms())


def create_timer(attempt_id: int, *, deadline_ms: int) -> None:
    """Arm the timer key and the deadline index for an attempt (atomically)."""
    pipe = get_redis().pipeline(transaction=True)
    pipe.set(timer_key(attempt_id), deadline_ms, px=_ttl_ms(deadline_ms))
    pipe.zadd(DEADLINES_KEY, {str(attempt_id): deadline_ms})
    pipe.execute()


# Extending rewrites the TTL and moves the sorted-set score: the same two writes.
extend_timer = create_timer


def restore_timers(deadlines: Iterable[tuple[int, int]], *, client: redis.Redis | None = None) -> int:
    """Re-arm what Redis lost for (attempt_id, deadline_ms) pairs; returns keys recreated.

    `client`: another client than `get_redis()`, e.g. the fast-failing one for best-effort work.
    """
    pipe = (client or get_redis()).pipeline(transaction=False)
    count = 0
    for attempt_id, deadline_ms in deadlines:
        pipe.set(timer_key(attempt_id), deadline_ms, px=_ttl_ms(deadline_ms), nx=True)
        pipe.zadd(DEADLINES_KEY, {str(attempt_id): deadline_ms})
        count += 1
    if not count:
        return 0
    results = pipe.execute()
    return sum(1 for created in results[0::2] if created)


def get_remaining_time(attempt_id: int) -> int | None:
    """Milliseconds left on the timer key, or None when the key is missing."""
    ttl = get_redis().pttl(timer_key(attempt_id))
    return None if ttl < 0 else int(ttl)


def is_expired(attempt_id: int) -> bool:
    """True when the timer key is gone (expired, deleted, or lost with Redis)."""
    return get_remaining_time(attempt_id) is None


def delete_timer(attempt_id: int) -> None:
    """Drop the timer key and the deadline-index member (on submit or timeout)."""
    delete_timers([attempt_id])


def delete_timers(attempt_ids: Iterable[int], *, client: redis.Redis | None = None) -> None:
    ids = [str(i) for i in attempt_ids]
    if not ids:
        return
    pipe = (client or get_redis()).pipeline(transaction=True)
    pipe.delete(*(timer_key(int(i)) for i in ids))
    pipe.zrem(DEADLINES_KEY, *ids)
    pipe.execute()


async def aclaim_due(*, limit: int) -> list[int]:
    """Atomically take up to `limit` attempt ids whose deadline (+ grace) has passed."""
    redis = get_async_redis()
    due = await redis.eval(_CLAIM_DUE, 1, DEADLINES_KEY, now_ms() - grace_ms(), limit)
    return [int(member) for member in due]


async def aclaim(attempt_ids: Iterable[int]) -> list[int]:
    """Atomically take those of `attempt_ids` still in the deadline index (others were taken already)."""
    members = [str(i) for i in attempt_ids]
    if not members:
        return []
    taken = await get_async_redis().eval(_CLAIM_IDS, 1, DEADLINES_KEY, *members)
    return [int(member) for member in taken]
