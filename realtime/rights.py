"""Rights on every socket action, not once per socket.

A socket's user is checked when it opens; a user deactivated or a proctor demoted since must
not go on acting through it. The process's hub keeps each of its users' (is_active, is_staff)
here, re-read for all of them in one query every WS_RIGHTS_REFRESH_SECONDS, and closes the
sockets of users who lost their rights. An action checks its user's entry first; one read
longer ago than WS_RIGHTS_MAX_AGE_SECONDS (the refresh is late or failing) is re-read before
the action runs, together with every other stale user's (one query in flight per process), so
no action runs on rights older than that bound, and no socket polls the database itself.
"""

import asyncio
import time
from dataclasses import dataclass

from django.conf import settings

from exams import selectors
from exams.contract.codes import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED

from .db import db_call


@dataclass(frozen=True)
class Standing:
    """A user's rights as a query read them; `read_at` is when that query began (monotonic)."""

    active: bool
    staff: bool
    read_at: float

    def refusal(self, *, needs_staff: bool) -> int | None:
        """The close code of a socket this user may no longer hold, or None: 4401 for an inactive
        or deleted user, 4403 for a proctor socket of a user who is no longer staff."""
        if not self.active:
            return CLOSE_UNAUTHENTICATED
        if needs_staff and not self.staff:
            return CLOSE_FORBIDDEN
        return None


def token_expired(expires_at: float | None, *, now: float | None = None) -> bool:
    """Whether a socket's access token (its expiry in epoch seconds) has run out."""
    return expires_at is not None and expires_at <= (time.time() if now is None else now)


class Rights:
    """The rights of this process's socket users, each with the time it was read."""

    def __init__(self) -> None:
        self._known: dict[int, Standing] = {}
        # Stale users waiting for the next read, and that read (one query for all of them).
        self._wanted: set[int] = set()
        self._next_read: asyncio.Future[None] | None = None
        self._reading = False
        self._reader: asyncio.Future[None] | None = None

    def note(self, user_id: int, *, active: bool, staff: bool, read_at: float) -> None:
        """Record a user's rights read at `read_at` (a socket's connect read them too); an older read never wins."""
        known = self._known.get(user_id)
        if known is None or known.read_at <= read_at:
            self._known[user_id] = Standing(active, staff, read_at)

    def known(self, user_id: int) -> Standing | None:
        return self._known.get(user_id)

    def _fresh(self, user_id: int) -> Standing | None:
        known = self._known.get(user_id)
        if known is not None and time.monotonic() - known.read_at <= settings.EXAM["WS_RIGHTS_MAX_AGE_SECONDS"]:
            return known
        return None

    async def current(self, user_id: int) -> Standing:
        """The user's rights, read at most WS_RIGHTS_MAX_AGE_SECONDS ago (re-read if older).

        Stale users are re-read together, one query at a time for the whole process: when the
        database is slow every entry goes stale at once, and a query per action would add to the
        queue that made them stale (the reconnect-storm drill).
        """
        while True:
            fresh = self._fresh(user_id)
            if fresh is not None:
                return fresh
            self._wanted.add(user_id)
            if self._next_read is None:
                self._next_read = asyncio.get_running_loop().create_future()
                # Its waiters may all be gone (cancelled) when it fails: nobody else reads the error.
                self._next_read.add_done_callback(lambda f: f.cancelled() or f.exception())
                if not self._reading:
                    self._reader = asyncio.ensure_future(self._read_wanted())
            waiting = self._next_read
            await asyncio.shield(waiting)
            # Read (a failed read raised above); a user read before the bound ran out again loops once more.
            known = self._known.get(user_id)
            if known is not None:
                return known

    async def _read_wanted(self) -> None:
        """Read the wanted users, batch after batch, until nobody is waiting."""
        self._reading = True
        try:
            while self._next_read is not None:
                done, self._next_read = self._next_read, None
                wanted, self._wanted = self._wanted, set()
                try:
                    await self.read(sorted(wanted))
                except BaseException as exc:
                    done.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                else:
                    done.set_result(None)
        finally:
            self._reading = False

    async def read(self, user_ids: list[int]) -> dict[int, Standing]:
        """Read these users' rights in one query; a user who no longer exists reads as inactive."""
        read_at = time.monotonic()
        rows = await db_call(selectors.user_rights)(user_ids)
        for user_id in user_ids:
            active, staff = rows.get(user_id, (False, False))
            self.note(user_id, active=active, staff=staff, read_at=read_at)
        return {user_id: self._known[user_id] for user_id in user_ids}

    def keep_only(self, user_ids: list[int]) -> None:
        """Forget the users who have no socket here any more."""
        keep = set(user_ids)
        for user_id in [u for u in self._known if u not in keep]:
            del self._known[user_id]
