"""The Redis mirror of each attempt's clock.

Two structures per ongoing attempt, both written together in one MULTI:
- `exam:timer:{id}`: a key whose TTL (ms) runs out when the attempt falls due (exams/deadlines.py); its
  keyspace `expired` event is the fast path to a timeout.
- `exam:deadlines`: a sorted set of attempt ids scored by deadline in epoch ms, which the
  listener's sweeper claims from, since keyspace events can lag or be lost.

A claim is a lease, not a removal: a claimed id moves to `exam:claims` (scored by when its
lease runs out, ms) with its deadline kept in the hash `exam:claimed`. The listener settles
a lease when its batch commits (`acomplete`) or gives it back when the batch fails
(`arelease`); a lease left by a listener that died returns to the index when it runs out
(every sweep returns those first). So no claimed attempt is lost to a failure.

The database's `deadline_at` is the truth; everything here can be rebuilt from it.
"""

from collections.abc import Iterable

import redis
from django.conf import settings

from . import deadlines
from .clock import now_ms
from .redis_clients import get_async_redis, get_redis

TIMER_PREFIX = "exam:timer:"
DEADLINES_KEY = "exam:deadlines"

CLAIMS_KEY = "exam:claims"
CLAIMED_DEADLINES_KEY = "exam:claimed"
_KEYS = (DEADLINES_KEY, CLAIMS_KEY, CLAIMED_DEADLINES_KEY)

# Lua shared by the scripts below. KEYS: deadlines, claims, claimed deadlines.
# lease: a claimed attempt's timer key goes with the claim. Its `expired` event would only be heard by
# every listener and claimed by none (10,000 events to read in a hard close), and a lease given back
# is due at once in the index, where the sweeper takes it. (A key named in the script, not in KEYS:
# fine on one Redis and its replicas; Redis Cluster is not supported, see the README.)
# give_back: the lease ends and the id is claimable again with its deadline; NX keeps a
# newer score (an extension re-armed it meanwhile).
_LEASES = """
local function give_back(id)
  if redis.call('ZREM', KEYS[2], id) == 0 then return 0 end
  local deadline = redis.call('HGET', KEYS[3], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZADD', KEYS[1], 'NX', deadline or 0, id)
  return 1
end
local function lease(id, deadline, until_ms)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], until_ms, id)
  redis.call('HSET', KEYS[3], id, deadline)
  redis.call('DEL', '{prefix}' .. id)
end
""".replace("{prefix}", TIMER_PREFIX)

# Claim due members atomically, after returning run-out leases: two sweepers never both take one.
# ARGV: due up to (ms), limit, now (ms), lease until (ms).
_CLAIM_DUE = (
    _LEASES
    + """
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[2]))) do
  give_back(id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local taken = {}
for i = 1, #due, 2 do
  lease(due[i], due[i + 1], ARGV[4])
  taken[#taken + 1] = due[i]
end
return taken
"""
)

# Claim the given members still in the index: so a keyspace event is worked on by one path of one listener.
# ARGV: lease until (ms), then the ids.
_CLAIM_IDS = (
    _LEASES
    + """
local taken = {}
for i = 2, #ARGV do
  local deadline = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if deadline then
    lease(ARGV[i], deadline, ARGV[1])
    taken[#taken + 1] = ARGV[i]
  end
end
return taken
"""
)

# ARGV: the ids whose leases end now, claimable again at once.
_RELEASE = (
    _LEASES
    + """
local n = 0
for _, id in ipairs(ARGV) do n = n + give_back(id) end
return n
"""
)


def timer_key(attempt_id: int) -> str:
    return f"{TIMER_PREFIX}{attempt_id}"


def attempt_id_from_key(key: str) -> int | None:
    """The attempt id of an `exam:timer:{id}` key, or None for any other key."""
    if not key.startswith(TIMER_PREFIX):
        return None
    tail = key[len(TIMER_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def _ttl_ms(deadline_ms: int) -> int:
    # The key runs out when the attempt falls due. SET PX needs a positive TTL: a due one expires at once.
    return max(1, deadlines.due_at_ms(deadline_ms) - now_ms())


def create_timer(attempt_id: int, *, deadline_ms: int) -> None:
    """Arm the timer key and the deadline index for an attempt (atomically)."""
    pipe = get_redis().pipeline(transaction=True)
    pipe.set(timer_key(attempt_id), deadline_ms, px=_ttl_ms(deadline_ms))
    pipe.zadd(DEADLINES_KEY, {str(attempt_id): deadline_ms})
    pipe.execute()


# Extending rewrites the TTL and moves the sorted-set score: the same two writes.
extend_timer = create_timer


# Arm (or move) timers: per attempt its timer key (SET PX) and its index member (ZADD), in Lua, so a
# chunk is one command to pack and one atomic step in Redis, not two commands each in a MULTI (5,000
# commands took 3.4 s of a loaded process to pack for a synchronized start of 2,500).
# KEYS: the deadline index, then one timer key per attempt. ARGV: per timer key, its attempt id,
# deadline (ms) and TTL (ms).
_ARM = """
for i = 2, #KEYS do
  local j = (i - 2) * 3
  redis.call('SET', KEYS[i], ARGV[j + 2], 'PX', ARGV[j + 3])
  redis.call('ZADD', KEYS[1], ARGV[j + 2], ARGV[j + 1])
end
return #KEYS - 1
"""
# Attempts per script call (REPAIR_CHUNK below): each call holds Redis about a millisecond per thousand.
ARM_CHUNK = 1000


def set_timers(deadlines: Iterable[tuple[int, int]], *, client: redis.Redis | None = None) -> int:
    """Arm (or move) the timer keys and index members of many attempts: (attempt_id, deadline_ms) pairs, as
    `create_timer` does for one (a synchronized start, a bulk time change, a resume, a hand-in window).

    One script call per ARM_CHUNK attempts, each atomic: up to ARM_CHUNK attempts move together or not at all.
    """
    arm = (client or get_redis()).register_script(_ARM)
    count, keys, args = 0, [DEADLINES_KEY], []
    for attempt_id, deadline_ms in deadlines:
        keys.append(timer_key(attempt_id))
        args += [attempt_id, deadline_ms, _ttl_ms(deadline_ms)]
        count += 1
        if len(keys) > ARM_CHUNK:
            arm(keys=keys, args=args)
            keys, args = [DEADLINES_KEY], []
    if len(keys) > 1:
        arm(keys=keys, args=args)
    return count


# Re-arm what is missing, in one round trip per chunk: a timer key only where it is gone (NX keeps
# the TTL of one armed meanwhile), an index member only where it is gone or its score is not the
# database's deadline. KEYS: the deadline index, then one timer key per attempt.
# ARGV: per timer key, its attempt id, deadline (ms) and TTL (ms). Returns the attempts repaired.
_REPAIR = """
local repaired = 0
for i = 2, #KEYS do
  local j = (i - 2) * 3
  local id, deadline = ARGV[j + 1], ARGV[j + 2]
  local fixed = redis.call('SET', KEYS[i], deadline, 'PX', ARGV[j + 3], 'NX')
  if tonumber(redis.call('ZSCORE', KEYS[1], id)) ~= tonumber(deadline) then
    redis.call('ZADD', KEYS[1], deadline, id)
    fixed = true
  end
  if fixed then repaired = repaired + 1 end
end
return repaired
"""
# Attempts per script call: each call holds Redis for about a millisecond per thousand.
REPAIR_CHUNK = 1000


def restore_timers(deadlines: Iterable[tuple[int, int]], *, client: redis.Redis | None = None) -> int:
    """Re-arm what Redis lost for (attempt_id, deadline_ms) pairs; returns the attempts repaired.

    One script call per REPAIR_CHUNK pairs, writing only what is missing or wrong.
    `client`: another client than `get_redis()`, e.g. the fast-failing one for best-effort work.
    """
    repair = (client or get_redis()).register_script(_REPAIR)
    repaired, keys, args = 0, [DEADLINES_KEY], []
    for attempt_id, deadline_ms in deadlines:
        keys.append(timer_key(attempt_id))
        args += [attempt_id, deadline_ms, _ttl_ms(deadline_ms)]
        if len(keys) > REPAIR_CHUNK:
            repaired += repair(keys=keys, args=args)
            keys, args = [DEADLINES_KEY], []
    if len(keys) > 1:
        repaired += repair(keys=keys, args=args)
    return repaired


def count_indexed(*, since_ms: int) -> int:
    """Members of the deadline index whose deadline is at or after `since_ms`: one O(log n) call."""
    return get_redis().zcount(DEADLINES_KEY, since_ms, "+inf")


def delete_timers(attempt_ids: Iterable[int], *, client: redis.Redis | None = None) -> None:
    """Drop the timer keys and deadline-index members of ended attempts."""
    ids = [str(i) for i in attempt_ids]
    if not ids:
        return
    pipe = (client or get_redis()).pipeline(transaction=True)
    pipe.delete(*(timer_key(int(i)) for i in ids))
    pipe.zrem(DEADLINES_KEY, *ids)
    pipe.execute()


def lease_ms() -> int:
    """How long a claim holds before any listener may claim the attempt again."""
    return settings.EXAM["CLAIM_LEASE_MS"]


async def aseconds_to_next_due() -> float | None:
    """Seconds until the earliest deadline (+ grace) in the index falls due (<= 0: due now); None when empty."""
    first = await get_async_redis().zrange(DEADLINES_KEY, 0, 0, withscores=True)
    if not first:
        return None
    return (deadlines.due_at_ms(int(first[0][1])) - now_ms()) / 1000


async def aclaim_due(*, limit: int) -> list[int]:
    """Lease up to `limit` attempt ids whose deadline (+ grace) has passed; run-out leases count again first."""
    now = now_ms()
    due_up_to = deadlines.latest_due_ms(now)
    due = await get_async_redis().eval(_CLAIM_DUE, len(_KEYS), *_KEYS, due_up_to, limit, now, now + lease_ms())
    return [int(member) for member in due]


async def aclaim(attempt_ids: Iterable[int]) -> list[int]:
    """Lease those of `attempt_ids` still in the deadline index (others were taken already)."""
    members = [str(i) for i in attempt_ids]
    if not members:
        return []
    taken = await get_async_redis().eval(_CLAIM_IDS, len(_KEYS), *_KEYS, now_ms() + lease_ms(), *members)
    return [int(member) for member in taken]


async def arelease(attempt_ids: Iterable[int]) -> int:
    """End the leases of `attempt_ids` and put them back in the index, claimable at once (a batch failed)."""
    members = [str(i) for i in attempt_ids]
    if not members:
        return 0
    return await get_async_redis().eval(_RELEASE, len(_KEYS), *_KEYS, *members)


async def acomplete(attempt_ids: Iterable[int]) -> None:
    """Drop the leases of `attempt_ids`: their batch committed (each timed out, or re-armed if not due)."""
    members = [str(i) for i in attempt_ids]
    if not members:
        return
    pipe = get_async_redis().pipeline(transaction=True)
    pipe.zrem(CLAIMS_KEY, *members)
    pipe.hdel(CLAIMED_DEADLINES_KEY, *members)
    await pipe.execute()


# A key that only disappears when Redis loses its data (restart without persistence,
# FLUSHALL, failover to an empty replica): the listener checks it every second.
ALIVE_KEY = "exam:alive"


async def amark_redis_alive() -> bool:
    """Set the marker; True when it was missing (data lost since the last check, or first run)."""
    return bool(await get_async_redis().set(ALIVE_KEY, "1", nx=True))
