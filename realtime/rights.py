"""Rights on every socket action, not once per socket.

A socket's user is checked when it opens; a user deactivated or a proctor demoted since must
not go on acting through it. The process's hub keeps each of its users' (is_active, is_staff)
here, re-read for all of them in one query every WS_RIGHTS_REFRESH_SECONDS, and closes the
sockets of users who lost their rights. An action checks its user's entry first; one read
longer ago than WS_RIGHTS_MAX_AGE_SECONDS (the refresh is late or failing) is re-read for
that user before the action runs, so no action runs on rights older than that bound, and
no socket polls the database itself.
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
        self._reading: dict[int, asyncio.Future[dict[int, Standing]]] = {}

    def note(self, user_id: int, *, active: bool, staff: bool, read_at: float) -> None:
        """Record a user's rights read at `read_at` (a socket's connect read them too); an older read never wins."""
        known = self._known.get(user_id)
        if known is None or known.read_at <= read_at:
            self._known[user_id] = Standing(active, staff, read_at)

    def known(self, user_id: int) -> Standing | None:
        return self._known.get(user_id)

    async def current(self, user_id: int) -> Standing:
        """The user's rights, read at most WS_RIGHTS_MAX_AGE_SECONDS ago (re-read if older)."""
        known = self._known.get(user_id)
        if known is not None and time.monotonic() - known.read_at <= settings.EXAM["WS_RIGHTS_MAX_AGE_SECONDS"]:
            return known
        # One read however many of the user's actions ask at once.
        reading = self._reading.get(user_id)
        if reading is None:
            reading = self._reading[user_id] = asyncio.ensure_future(self.read([user_id]))
            reading.add_done_callback(lambda _: self._reading.pop(user_id, None))
        return (await asyncio.shield(reading))[user_id]

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
