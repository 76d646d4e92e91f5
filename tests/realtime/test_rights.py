"""realtime/rights.py: each socket user's rights, re-read in one query, never older than the bound."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from exams import selectors
from realtime.rights import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, Rights, Standing, token_expired

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
update_user = database_sync_to_async(lambda pk, **fields: User.objects.filter(pk=pk).update(**fields))


def test_the_refusal_of_a_standing():
    assert Standing(active=True, staff=True, read_at=0).refusal(needs_staff=True) is None
    assert Standing(active=True, staff=False, read_at=0).refusal(needs_staff=False) is None
    assert Standing(active=True, staff=False, read_at=0).refusal(needs_staff=True) == CLOSE_FORBIDDEN
    assert Standing(active=False, staff=True, read_at=0).refusal(needs_staff=True) == CLOSE_UNAUTHENTICATED
    assert Standing(active=False, staff=False, read_at=0).refusal(needs_staff=False) == CLOSE_UNAUTHENTICATED


def test_token_expiry():
    assert not token_expired(None)
    assert token_expired(100.0, now=100.0)
    assert not token_expired(100.5, now=100.0)
    assert not token_expired(time.time() + 60)


async def test_one_query_reads_every_user_and_a_deleted_one_is_inactive(make_user):
    student, proctor, gone = await database_sync_to_async(lambda: (make_user(), make_user(staff=True), make_user()))()
    gone_pk = gone.pk
    await database_sync_to_async(gone.delete)()
    rights = Rights()

    # One query for them all (counted here: the pool's threads have connections of their own).
    def counted(user_ids):
        with CaptureQueriesContext(connection) as queries:
            return selectors.user_rights(user_ids), len(queries)

    rows, queries = await database_sync_to_async(counted)([student.pk, proctor.pk, gone_pk])
    assert queries == 1
    assert rows == {student.pk: (True, False), proctor.pk: (True, True)}

    standings = await rights.read([student.pk, proctor.pk, gone_pk])
    assert [(s.active, s.staff) for s in standings.values()] == [(True, False), (True, True), (False, False)]
    assert rights.known(gone_pk).refusal(needs_staff=False) == CLOSE_UNAUTHENTICATED


async def test_an_entry_within_the_bound_is_used_as_it_is_and_an_older_one_is_read_again(make_user, settings):
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_MAX_AGE_SECONDS": 5}
    user = await database_sync_to_async(make_user)()
    rights = Rights()
    rights.note(user.pk, active=True, staff=False, read_at=time.monotonic() - 4)
    await update_user(user.pk, is_active=False)
    assert (await rights.current(user.pk)).active, "read 4 s ago: used without a query"
    rights.keep_only([])
    rights.note(user.pk, active=True, staff=False, read_at=time.monotonic() - 6)
    standing = await rights.current(user.pk)
    assert not standing.active, "read 6 s ago: read again first"
    assert time.monotonic() - standing.read_at < 5


async def test_an_older_read_never_replaces_a_newer_one():
    rights = Rights()
    rights.note(1, active=True, staff=True, read_at=10.0)
    rights.note(1, active=False, staff=False, read_at=9.0)
    assert rights.known(1) == Standing(True, True, 10.0)
    rights.note(1, active=False, staff=False, read_at=11.0)
    assert rights.known(1) == Standing(False, False, 11.0)
    rights.keep_only([2])
    assert rights.known(1) is None


async def test_stale_users_are_read_together_one_query_at_a_time(make_user, settings, monkeypatch):
    """When the database is slow every entry goes stale at once: a query per action would add to
    the queue that made them stale (the reconnect-storm drill). However many actions ask, one
    read is in flight, and the users who asked meanwhile share the next one."""
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_MAX_AGE_SECONDS": 5}
    users = await database_sync_to_async(lambda: [make_user() for _ in range(30)])()
    reads: list[list[int]] = []
    real = selectors.user_rights

    def counted(user_ids):
        reads.append(list(user_ids))
        return real(user_ids)

    monkeypatch.setattr(selectors, "user_rights", counted)
    rights = Rights()
    for user in users:
        rights.note(user.pk, active=True, staff=False, read_at=time.monotonic() - 6)
    await update_user(users[-1].pk, is_active=False)

    first = asyncio.ensure_future(rights.current(users[0].pk))
    await asyncio.sleep(0)  # its read has begun
    rest = await asyncio.gather(*(rights.current(u.pk) for u in users[1:] for _ in range(3)))
    await first

    assert reads == [[users[0].pk], sorted(u.pk for u in users[1:])]
    assert [s.active for s in rest[-3:]] == [False] * 3
    assert all(s.active for s in rest[:-3])


async def test_a_failed_read_fails_its_waiters_and_the_next_action_reads_again(make_user, settings, monkeypatch):
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_MAX_AGE_SECONDS": 5}
    user = await database_sync_to_async(make_user)()
    real = selectors.user_rights
    failing = True

    def flaky(user_ids):
        if failing:
            raise DatabaseError("the database is away")
        return real(user_ids)

    monkeypatch.setattr(selectors, "user_rights", flaky)
    rights = Rights()
    rights.note(user.pk, active=True, staff=False, read_at=time.monotonic() - 6)
    with pytest.raises(DatabaseError):
        await asyncio.gather(rights.current(user.pk), rights.current(user.pk))
    failing = False
    assert (await rights.current(user.pk)).active
