"""The expiry engine's database work (`exams/expiry/batches.py`): reconcile, and a batch that
isolates an attempt failing on its own (a poison row) from the others."""

import logging
import threading

import pytest
from django.db import DatabaseError, connection, connections

from exams import services, timers
from exams.expiry import batches
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath

from ..conftest import set_deadline

pytestmark = pytest.mark.django_db

SLACK_MS = 1500


def _start(user, exam) -> Attempt:
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def overdue_attempts(make_user, exam, count: int) -> list[int]:
    """`count` attempts past their deadline, the oldest deadline first."""
    return [set_deadline(_start(make_user(), exam), seconds_from_now=-10 + n).pk for n in range(count)]


def statuses(ids: list[int]) -> list[str]:
    by_id = dict(Attempt.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [by_id[pk] for pk in ids]


def logged_about(caplog, attempt_id: int) -> list[int]:
    return [r.levelno for r in caplog.records if f"attempt {attempt_id} " in r.getMessage()]


def test_reconcile_times_out_overdue_and_rearms_lost_timers(make_user, exam, clean_redis):
    overdue = set_deadline(_start(make_user(), exam), seconds_from_now=-1)
    live = set_deadline(_start(make_user(), exam), seconds_from_now=25)
    clean_redis.flushdb()

    assert batches.reconcile() == (1, 1)

    assert Attempt.objects.get(pk=overdue.pk).status == AttemptStatus.TIMEOUT
    assert AttemptEvent.objects.get(attempt=overdue, kind=EventKind.TIMED_OUT).path == ExpiryPath.RECONCILER
    assert 25_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(live.pk)) <= 25_000 + 1
    assert batches.reconcile() == (0, 0)


def test_a_failing_batch_is_tried_one_attempt_at_a_time(make_user, exam, poison, caplog):
    bad, *good = overdue_attempts(make_user, exam, 3)
    poison(bad)
    set_aside = batches.SetAside()

    with caplog.at_level(logging.INFO):
        ended, aside = batches.expire_batch(attempt_ids=[bad, *good], path=ExpiryPath.SWEEPER, set_aside=set_aside)

    assert sorted(a.pk for a in ended) == sorted(good) and aside == [bad]
    assert statuses([bad, *good]) == [AttemptStatus.ONGOING, AttemptStatus.TIMEOUT, AttemptStatus.TIMEOUT]
    assert set_aside.resting() == {bad}
    assert logged_about(caplog, bad) == [logging.ERROR]


def test_a_set_aside_attempt_rests_then_is_tried_again_quietly_until_it_times_out(make_user, exam, poison, caplog):
    [bad] = overdue_attempts(make_user, exam, 1)
    poison(bad)
    resting, tried_again = batches.SetAside(seconds=3600), batches.SetAside(seconds=0)
    with caplog.at_level(logging.INFO):
        for set_aside in (resting, tried_again):
            assert batches.expire_batch(attempt_ids=[bad], path=ExpiryPath.SWEEPER, set_aside=set_aside) == ([], [bad])
        assert batches.expire_batch(attempt_ids=[bad], path=ExpiryPath.SWEEPER, set_aside=tried_again) == ([], [bad])
        assert logged_about(caplog, bad) == [logging.ERROR, logging.ERROR]  # once per listener

        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER poison_attempt_{bad}")  # the row is repaired
        # Resting: not tried.
        assert batches.expire_batch(attempt_ids=[bad], path=ExpiryPath.SWEEPER, set_aside=resting) == ([], [bad])
        assert statuses([bad]) == [AttemptStatus.ONGOING]
        # Its rest over: tried, and timed out.
        ended, aside = batches.expire_batch(attempt_ids=[bad], path=ExpiryPath.SWEEPER, set_aside=tried_again)
    assert [a.pk for a in ended] == [bad] and aside == []
    assert statuses([bad]) == [AttemptStatus.TIMEOUT]
    assert logged_about(caplog, bad) == [logging.ERROR, logging.ERROR, logging.INFO]


def test_reconcile_skips_a_resting_attempt_and_still_restores_timers(make_user, exam, poison, clean_redis, caplog):
    bad, *good = overdue_attempts(make_user, exam, 5)
    live = set_deadline(_start(make_user(), exam), seconds_from_now=60)
    poison(bad)
    clean_redis.flushdb()
    set_aside = batches.SetAside()

    with caplog.at_level(logging.INFO):
        assert batches.reconcile(batch_size=2, set_aside=set_aside) == (4, 1)
        assert batches.reconcile(batch_size=2, set_aside=set_aside) == (0, 0)

    assert statuses([bad, *good]) == [AttemptStatus.ONGOING] + [AttemptStatus.TIMEOUT] * 4
    assert clean_redis.exists(timers.timer_key(live.pk))
    assert logged_about(caplog, bad) == [logging.ERROR]


def test_a_database_outage_is_no_poison_row(make_user, exam, transactional_db):
    """The batch fails because the connection died: it raises, and nothing is set aside."""
    if connection.vendor != "mysql":
        pytest.skip("kills a connection on the MySQL server")
    ids = overdue_attempts(make_user, exam, 2)
    set_aside = batches.SetAside()
    outcome: list = []
    own_id: list[int] = []
    killed = threading.Event()

    def worker() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                own_id.append(cursor.fetchone()[0])
            killed.wait(10)
            try:
                batches.expire_batch(attempt_ids=ids, path=ExpiryPath.SWEEPER, set_aside=set_aside)
            except DatabaseError as exc:
                outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    while not own_id and thread.is_alive():
        thread.join(0.01)
    with connection.cursor() as cursor:  # as a database restart would
        cursor.execute("KILL %s", [own_id[0]])
    killed.set()
    thread.join(10)

    assert len(outcome) == 1
    assert set_aside.resting() == set()
    assert statuses(ids) == [AttemptStatus.ONGOING, AttemptStatus.ONGOING]
