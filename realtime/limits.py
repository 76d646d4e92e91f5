"""Flood control for sockets: per socket, and per user across the user's sockets in this process.

A per-socket limit alone does not limit a user: fifty sockets of one account are fifty
budgets, and their queued work slows every other student's acknowledgement. So each user
also has, in this process,
- at most WS_MAX_SOCKETS_PER_USER open sockets, WS_MAX_SOCKETS_PER_ATTEMPT of them on one
  attempt (a proctor: one exam); the excess handshake is closed with 4429
  (CLOSE_TOO_MANY_SOCKETS), before any database work;
- one token bucket (WS_USER_MESSAGES_PER_SECOND, bursts of WS_USER_MESSAGE_BURST) that all
  the user's sockets draw from;
- at most WS_MAX_INFLIGHT_PER_USER actions running at once.
A message over any of these is answered `throttled` at once: excess work is dropped, never
queued. The limits are per process: behind a load balancer a user reaching N processes gets
N times them.
"""

import time
from collections.abc import Hashable

from django.conf import settings


class TokenBucket:
    """`rate` messages a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _User:
    __slots__ = ("bucket", "inflight", "rooms")

    def __init__(self) -> None:
        limits = settings.EXAM
        self.bucket = TokenBucket(limits["WS_USER_MESSAGES_PER_SECOND"], limits["WS_USER_MESSAGE_BURST"])
        self.inflight = 0
        # socket -> its room (its attempt, or a proctor's exam)
        self.rooms: dict[object, Hashable] = {}


class UserLimits:
    """This process's per-user socket counts, message budgets and actions under way."""

    def __init__(self) -> None:
        self._users: dict[int, _User] = {}

    def admit(self, socket: object, *, user_id: int, room: Hashable) -> bool:
        """Count a new socket of `user_id` in `room`; False (and not counted) when it is one too many."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
        if socket in user.rooms:
            return True
        limits = settings.EXAM
        in_room = sum(1 for other in user.rooms.values() if other == room)
        if len(user.rooms) >= limits["WS_MAX_SOCKETS_PER_USER"] or in_room >= limits["WS_MAX_SOCKETS_PER_ATTEMPT"]:
            if not user.rooms:
                del self._users[user_id]
            return False
        user.rooms[socket] = room
        return True

    def release(self, socket: object, *, user_id: int) -> None:
        """The socket is gone (idempotent); a user without sockets is forgotten, budget and all."""
        user = self._users.get(user_id)
        if user is None:
            return
        user.rooms.pop(socket, None)
        if not user.rooms and not user.inflight:
            del self._users[user_id]

    def sockets(self, user_id: int) -> list:
        """The user's sockets in this process."""
        user = self._users.get(user_id)
        return list(user.rooms) if user else []

    def users(self) -> list[int]:
        """Every user with a socket (or an action under way) in this process."""
        return list(self._users)

    def take(self, user_id: int) -> bool:
        """One message from the user's shared budget; False when it is spent."""
        user = self._users.get(user_id)
        return user is None or user.bucket.take()

    def begin(self, user_id: int) -> bool:
        """Start one of the user's actions; False when WS_MAX_INFLIGHT_PER_USER are under way."""
        user = self._users.get(user_id)
        if user is None:
            return True  # not a counted socket's (its sockets are gone): nothing to share
        if user.inflight >= settings.EXAM["WS_MAX_INFLIGHT_PER_USER"]:
            return False
        user.inflight += 1
        return True

    def end(self, user_id: int) -> None:
        """An action that `begin` allowed has finished, however it ended."""
        user = self._users.get(user_id)
        if user is None:
            return
        user.inflight = max(0, user.inflight - 1)
        if not user.rooms and not user.inflight:
            del self._users[user_id]
