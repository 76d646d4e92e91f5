"""A start while the whole exam is paused, or racing its pause, comes out paused (exams/start_pause.py):
never a clock running while everyone else's stands still. The races run on real threads, each with its
own MariaDB connection, interleaved by the row locks themselves: the test waits until one side is seen
waiting for a lock (information_schema.INNODB_TRX), then lets the other commit."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction

from exams import audit, clock, services, time_control, timers
from exams.models import Attempt, AttemptEvent, EventKind, Exam

from ..conftest import start_url

pytestmark = pytest.mark.django_db(transaction=True)
mariadb = pytest.mark.skipif(connection.vendor != "mysql", reason="row locks: MariaDB/MySQL")


def test_a_start_while_the_exam_is_paused_comes_out_paused_and_resumes_with_its_full_time(
    client_for, make_user, student, proctor, exam, clean_redis
):
    services.start_attempt(user=make_user(), exam_id=exam.pk)
    time_control.pause(by=proctor, exam_id=exam.pk, category="environment", note="Fire alarm")

    started = client_for(student).post(start_url(exam.pk))
    assert started.status_code == 201, started.content
    body = started.json()
    attempt = Attempt.objects.get(pk=body["attempt_id"])
    assert attempt.paused_at == attempt.started_at  # paused from its start, no earlier
    assert body["paused_at"] == clock.iso(attempt.paused_at) and body["remaining_seconds"] == exam.duration_seconds
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) is None  # no clock, no timer
    paused = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.PAUSED)
    assert paused.detail["category"] == "environment" and paused.detail["note"] == "Fire alarm"

    time.sleep(0.2)
    time_control.resume(by=proctor, exam_id=exam.pk)
    attempt.refresh_from_db()
    assert attempt.paused_at is None
    # Its whole allotted time is still ahead: the deadline moved by exactly the time it stood paused.
    assert attempt.deadline_at == attempt.started_at + attempt.paused_total + timedelta(seconds=exam.duration_seconds)
    assert attempt.paused_total >= timedelta(seconds=0.2)
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(attempt.deadline_at)
    assert audit.explain(attempt).consistent


def _connection_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


def _runs(connection_id: int, patterns: tuple[tuple[str, ...], ...]) -> bool:
    """The connection is executing a statement holding every part of one of `patterns` (one that waits for the
    other side's row lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s AND COMMAND = 'Query'", [connection_id]
        )
        row = cursor.fetchone()
    return row is not None and row[0] is not None and any(all(part in row[0] for part in p) for p in patterns)


class Racer(threading.Thread):
    """Runs `func` on its own connection; `hold` keeps its transaction open (its locks held) until released."""

    def __init__(self, func: Callable, *, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.func, self.hold = func, hold
        self.connection_id: int | None = None
        self.known = threading.Event()  # connection_id is set
        self.done_inside = threading.Event()  # func returned, its transaction still open
        self.release = threading.Event()
        self.result = self.error = None

    def run(self) -> None:
        try:
            self.connection_id = _connection_id()
            self.known.set()
            with transaction.atomic():
                self.result = self.func()
                self.done_inside.set()
                if self.hold:
                    assert self.release.wait(20), "never released"
        except BaseException as exc:  # reported by finish()
            self.error = exc
        finally:
            self.known.set()
            self.done_inside.set()
            connections.close_all()

    def finish(self):
        self.release.set()
        self.join(20)
        assert not self.is_alive(), "a racing thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def _until_blocked(racer: Racer, *patterns: tuple[str, ...], timeout: float = 10) -> None:
    """Until `racer` runs a statement that waits for the other side's row lock (`patterns`: the one it waits in
    now, and the one it waited in before the rule), or has finished without waiting (what the old code did)."""
    assert racer.known.wait(timeout)
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up and not racer.done_inside.is_set():
        if _runs(racer.connection_id, patterns):
            return
        time.sleep(0.002)


# The start reads the exam's pause under a shared lock; before, its INSERT waited (for the foreign key's check).
START_WAITS = (("`exams_exam`", "LOCK IN SHARE MODE"), ("INSERT INTO `exams_attempt`",))
# The pause locks the exam's row first; before, its UPDATE of the row waited.
PAUSE_WAITS = (("`exams_exam`", "FOR UPDATE"), ("UPDATE `exams_exam`",))


@mariadb
def test_a_start_that_commits_after_the_exam_wide_pause_comes_out_paused(make_user, student, proctor, exam):
    """The pause has changed the exam but not committed when the student's start begins: the start
    waits for it, then reads it (before: it read the exam unpaused and came out running)."""
    services.start_attempt(user=make_user(), exam_id=exam.pk)
    pausing = Racer(lambda: time_control.pause(by=proctor, exam_id=exam.pk, category="environment"), hold=True)
    pausing.start()
    assert pausing.done_inside.wait(20)
    starting = Racer(lambda: services.start_attempt(user=student, exam_id=exam.pk))
    starting.start()
    _until_blocked(starting, *START_WAITS)
    pausing.finish()
    attempt = starting.finish().attempt

    attempt.refresh_from_db()
    assert Exam.objects.get(pk=exam.pk).paused_at is not None
    assert attempt.paused_at is not None, "a clock runs while the exam is paused"
    assert attempt.paused_at >= attempt.started_at


@mariadb
def test_an_exam_wide_pause_racing_a_start_in_flight_pauses_it_from_its_start(make_user, student, proctor, exam):
    """The start has made its attempt but not committed when the pause begins: the pause waits for it,
    then pauses it too, from an instant after its start (no time before the start counts)."""
    services.start_attempt(user=make_user(), exam_id=exam.pk)
    starting = Racer(lambda: services.start_attempt(user=student, exam_id=exam.pk), hold=True)
    starting.start()
    assert starting.done_inside.wait(20)
    pausing = Racer(lambda: time_control.pause(by=proctor, exam_id=exam.pk, category="environment"))
    pausing.start()
    _until_blocked(pausing, *PAUSE_WAITS)
    attempt = starting.finish().attempt
    done = pausing.finish()

    attempt.refresh_from_db()
    assert attempt.pk in done.attempt_ids
    assert attempt.paused_at is not None and attempt.paused_at >= attempt.started_at
