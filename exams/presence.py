"""Which attempts have a student socket open, across every daphne process.

Presence is kept per process, with a heartbeat, so that a process that dies without a word
(`kill -9`, a lost host) can't leave its students "connected":
- `exam:presence:{attempt}`: the set of process ids holding a socket of the attempt;
- `exam:proc:{pid}`: the attempts a process holds (what to clean when it dies);
- `exam:procs`: process id -> last heartbeat (epoch ms).
A process reports its changes in batches (`apply_changes`), beats every HEARTBEAT_SECONDS,
and any listener removes the processes that stopped beating (`sweep_dead_processes`).
Every script returns the transitions it caused (an attempt's first or last process), so
exactly one caller logs each `connected`/`disconnected`.
"""

import logging
from collections.abc import Iterable

import redis

from .redis_clients import get_async_redis, get_optional_redis

logger = logging.getLogger(__name__)

PRESENCE_PREFIX = "exam:presence:"
PROCESS_PREFIX = "exam:proc:"
PROCESSES_KEY = "exam:procs"
# A process beats this often; one silent for PROCESS_TIMEOUT_SECONDS is taken for dead.
HEARTBEAT_SECONDS = 1.0
PROCESS_TIMEOUT_SECONDS = 6.0
# A safety net only: the sweeper removes a dead process's members within seconds.
PRESENCE_TTL_SECONDS = 24 * 3600

# ARGV: pid, now_ms, ttl, then "+id" / "-id" per change. Returns {connected ids, disconnected ids}.
# It leaves `exam:procs` to the heartbeat: a process missing there was forgotten and must resync.
_APPLY = """
local pid, ttl = ARGV[1], tonumber(ARGV[3])
local proc = KEYS[1] .. pid
local up, down = {}, {}
for i = 4, #ARGV do
  local op, id = string.sub(ARGV[i], 1, 1), string.sub(ARGV[i], 2)
  local key = KEYS[3] .. id
  if op == '+' then
    redis.call('SADD', proc, id)
    if redis.call('SADD', key, pid) == 1 and redis.call('SCARD', key) == 1 then up[#up + 1] = id end
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('SREM', proc, id)
    if redis.call('SREM', key, pid) == 1 and redis.call('SCARD', key) == 0 then down[#down + 1] = id end
  end
end
return {up, down}
"""

# ARGV: pid, now_ms. Returns 1 when the process was not registered (swept, or Redis lost its data).
_BEAT = """
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if known then return 0 end
return 1
"""

# ARGV: cutoff_ms, limit. Claims processes silent since cutoff and removes their members.
# Returns the attempt ids left with no process.
_SWEEP = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local down = {}
for _, pid in ipairs(dead) do
  redis.call('ZREM', KEYS[1], pid)
  local proc = KEYS[2] .. pid
  for _, id in ipairs(redis.call('SMEMBERS', proc)) do
    local key = KEYS[3] .. id
    if redis.call('SREM', key, pid) == 1 and redis.call('SCARD', key) == 0 then down[#down + 1] = id end
  end
  redis.call('DEL', proc)
end
return down
"""

# ARGV: pid. A process leaving cleanly: all its members go. Returns the attempt ids left with no process.
_LEAVE = """
local pid = ARGV[1]
local proc = KEYS[2] .. pid
local down = {}
for _, id in ipairs(redis.call('SMEMBERS', proc)) do
  local key = KEYS[3] .. id
  if redis.call('SREM', key, pid) == 1 and redis.call('SCARD', key) == 0 then down[#down + 1] = id end
end
redis.call('DEL', proc)
redis.call('ZREM', KEYS[1], pid)
return down
"""


def presence_key(attempt_id: int) -> str:
    return f"{PRESENCE_PREFIX}{attempt_id}"


def _ints(members) -> list[int]:
    return [int(m) for m in members]


async def apply_changes(pid: str, now_ms: int, changes: Iterable[tuple[int, bool]]) -> tuple[list[int], list[int]]:
    """Record (attempt_id, held) changes of a process; returns (now connected, now disconnected)."""
    args = [f"{'+' if held else '-'}{attempt_id}" for attempt_id, held in changes]
    up, down = await get_async_redis().eval(
        _APPLY, 3, PROCESS_PREFIX, PROCESSES_KEY, PRESENCE_PREFIX, pid, now_ms, PRESENCE_TTL_SECONDS, *args
    )
    return _ints(up), _ints(down)


async def heartbeat(pid: str, now_ms: int) -> bool:
    """Beat; True when the process had been forgotten (swept or data lost) and must re-report."""
    return bool(await get_async_redis().eval(_BEAT, 1, PROCESSES_KEY, pid, now_ms))


async def leave(pid: str) -> list[int]:
    """Remove a process and all its members; returns the attempts left disconnected."""
    down = await get_async_redis().eval(_LEAVE, 3, PROCESSES_KEY, PROCESS_PREFIX, PRESENCE_PREFIX, pid)
    return _ints(down)


async def sweep_dead_processes(now_ms: int, *, limit: int = 100) -> list[int]:
    """Remove processes silent for PROCESS_TIMEOUT_SECONDS; returns the attempts left disconnected."""
    cutoff = now_ms - int(PROCESS_TIMEOUT_SECONDS * 1000)
    down = await get_async_redis().eval(_SWEEP, 3, PROCESSES_KEY, PROCESS_PREFIX, PRESENCE_PREFIX, cutoff, limit)
    return _ints(down)


def connected_map(attempt_ids: Iterable[int]) -> dict[int, bool]:
    """attempt id -> has an open socket in some live process (one round trip)."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    pipe = get_optional_redis().pipeline(transaction=False)
    for attempt_id in ids:
        pipe.scard(presence_key(attempt_id))
    try:
        counts = pipe.execute()
    except redis.RedisError:
        # Presence is advisory: a proctor still gets the attempts while Redis is down.
        logger.warning("presence unavailable: Redis error", exc_info=True)
        counts = [0] * len(ids)
    return {attempt_id: count > 0 for attempt_id, count in zip(ids, counts, strict=False)}
