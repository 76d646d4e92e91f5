"""The expiry engine under faults (issue 8 §7): a database outage mid-batch, a listener killed
holding claims, a listener down across the deadlines.

Real listener processes, the real test database (reached through a TCP proxy the test can
cut or freeze) and real Redis. Claims are leases: whatever a listener claimed and did not
commit becomes claimable again, at once when its batch fails, after the lease when it dies.
"""

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection

from exams import clock, timers
from exams.models import Attempt, AttemptStatus, ExpiryPath
from tests.exams.expiry.test_listener import (
    LISTENER_PATHS,
    assert_each_timed_out_once,
    log_of,
    many_attempts,
    running_listener,
    sleep_until,
    wait_until,
)
from tests.support.processes import database_address, database_url, listener
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.network]

needs_mysql = pytest.mark.skipif(
    connection.vendor != "mysql", reason="the listener reaches the database through a TCP proxy"
)
# Leases in these tests run out fast; the periodic reconcile is far off, so that only the
# paths under test (sweeper, keyspace, the reconcile a recovery triggers) can time anything out.
FAST_LEASES = {"CLAIM_LEASE_MS": 1000, "RECONCILE_INTERVAL_SECONDS": 60}
START_RECONCILED = "reconciler (start)"


@pytest.fixture
def db_proxy() -> Iterator[TcpProxy]:
    with TcpProxy(*database_address()) as proxy:
        yield proxy


@contextmanager
def listener_via(proxy: TcpProxy, **env):
    with running_listener(DATABASE_URL=database_url(port=proxy.port), **env) as proc:
        yield proc


def timed_out(ids: list[int]) -> bool:
    return Attempt.objects.filter(pk__in=ids, status=AttemptStatus.TIMEOUT).count() == len(ids)


def in_index(client, ids: list[int]) -> list[int]:
    scores = client.zmscore(timers.DEADLINES_KEY, [str(i) for i in ids])
    return [i for i, score in zip(ids, scores, strict=False) if score is not None]


def index_only(client, ids: list[int], deadline) -> None:
    """Arm only the deadline index (no timer keys, so no keyspace events): the sweeper claims them all at once."""
    client.zadd(timers.DEADLINES_KEY, {str(i): clock.to_ms(deadline) for i in ids})
    client.delete(*(timers.timer_key(i) for i in ids))


@needs_mysql
def test_a_batch_failing_on_the_database_gives_its_claims_back(student, make_exam, db_proxy, clean_redis):
    exam = make_exam(duration=60)
    with listener_via(db_proxy, **FAST_LEASES) as proc:
        # Cut only after the start reconcile: a listener that saw the database fail claims nothing
        # until it answers again, and this test is about a batch failing.
        assert wait_until(lambda: START_RECONCILED in log_of(proc), 5), log_of(proc)
        deadline = clock.now() + timedelta(seconds=1.5)
        ids = many_attempts(student, exam, count=50, deadline=deadline)
        db_proxy.cut()  # the database goes down before the deadline
        assert wait_until(lambda: re.search(r"batch of \d+ failed", log_of(proc)), 5), log_of(proc)
        # Nothing is lost: the failed batch's ids are back in the index, claimable by any listener.
        assert wait_until(lambda: len(in_index(clean_redis, ids)) == len(ids), 3), log_of(proc)
        assert Attempt.objects.filter(pk__in=ids, status=AttemptStatus.ONGOING).count() == len(ids)
        db_proxy.restore()
        assert wait_until(lambda: timed_out(ids), 5), log_of(proc)
    events = assert_each_timed_out_once(ids)
    assert {e.path for e in events} <= LISTENER_PATHS
    assert not clean_redis.exists(timers.CLAIMS_KEY)  # every lease settled


@needs_mysql
def test_claims_of_a_killed_listener_are_taken_over_when_their_lease_runs_out(
    student, make_exam, db_proxy, clean_redis
):
    exam = make_exam(duration=60)
    with running_listener(**FAST_LEASES) as second:
        assert wait_until(lambda: START_RECONCILED in log_of(second), 5), log_of(second)
        second.send_signal(signal.SIGSTOP)  # ready, then out of the race until the first is gone
        try:
            with listener_via(db_proxy, **FAST_LEASES) as first:
                assert wait_until(lambda: START_RECONCILED in log_of(first), 5), log_of(first)
                deadline = clock.now() + timedelta(seconds=1.5)
                ids = many_attempts(student, exam, count=50, deadline=deadline)
                index_only(clean_redis, ids, deadline)
                db_proxy.freeze()  # the first's batch will hang before its UPDATE reaches the database
                sleep_until(deadline)
                assert wait_until(lambda: not in_index(clean_redis, ids), 5), log_of(first)
                first.kill()  # kill -9 with its claims uncommitted
                first.wait()
        finally:
            second.send_signal(signal.SIGCONT)
        assert Attempt.objects.filter(pk__in=ids, status=AttemptStatus.ONGOING).count() == len(ids)
        assert wait_until(lambda: timed_out(ids), 8), log_of(second)
    events = assert_each_timed_out_once(ids)
    assert {e.path for e in events} == {ExpiryPath.SWEEPER}, (events, log_of(second))


def test_a_listener_down_across_the_deadlines_times_them_out_as_it_starts(student, make_exam, clean_redis):
    exam = make_exam(duration=60)
    with running_listener() as proc:
        deadline = clock.now() + timedelta(seconds=1)
        ids = many_attempts(student, exam, count=190, deadline=deadline)
        proc.kill()
        proc.wait()
    sleep_until(deadline + timedelta(seconds=2))
    assert Attempt.objects.filter(pk__in=ids, status=AttemptStatus.ONGOING).count() == len(ids)
    with listener(**FAST_LEASES) as proc:
        assert wait_until(lambda: timed_out(ids), 8), log_of(proc)
    events = assert_each_timed_out_once(ids)
    # All by the first thing it does, in one go: the periodic reconcile is a minute off, and any
    # attempt the start left over would have fallen to the sweeper.
    assert {e.path for e in events} == {ExpiryPath.RECONCILER}
