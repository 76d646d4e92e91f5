"""The expiry engine (issue 3) against real Redis, the real test database and real listener processes.

Deadlines are real: each test arms attempts that end a second or two from now and watches
the database for the `timed_out` event the listener writes (its path and lateness).
"""

import asyncio
import itertools
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from exams import clock, delivery, services, timers
from exams.expiry.listener import MAX_BACKOFF_SECONDS
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath
from tests.support.contract_check import check_event
from tests.support.processes import free_port, listener

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.network]

READY_LINE = "listening for expired timer keys"
FAST_PATHS = {ExpiryPath.KEYSPACE, ExpiryPath.SWEEPER}
LISTENER_PATHS = FAST_PATHS | {ExpiryPath.RECONCILER}


# --- helpers --------------------------------------------------------------------------


def wait_until(predicate: Callable, timeout: float, interval: float = 0.02):
    """Poll `predicate` until it is truthy or `timeout` passes; return its last value."""
    end = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < end:
        time.sleep(interval)
    return value


def log_of(proc: subprocess.Popen) -> str:
    return proc.log_path.read_text()


def wait_ready(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Until the listener has subscribed to expired events (its start reconcile follows at once)."""
    wait_until(lambda: READY_LINE in log_of(proc) or proc.poll() is not None, timeout)
    assert proc.poll() is None and READY_LINE in log_of(proc), f"listener not ready:\n{log_of(proc)}"


@contextmanager
def running_listener(**env) -> Iterator[subprocess.Popen]:
    """A ready listener process; once stopped, its log must hold no traceback (a failing path)."""
    with listener(**env) as proc:
        wait_ready(proc)
        yield proc
    assert "Traceback" not in log_of(proc), log_of(proc)


def start(user, exam) -> Attempt:
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def timeout_events(attempt_ids: list[int]) -> list[AttemptEvent]:
    return list(AttemptEvent.objects.filter(attempt_id__in=attempt_ids, kind=EventKind.TIMED_OUT))


def wait_timed_out(attempt: Attempt, timeout: float, proc: subprocess.Popen | None = None) -> AttemptEvent:
    """The attempt's one `timed_out` event, once the listener has written it."""
    done = wait_until(lambda: Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.TIMEOUT).exists(), timeout)
    assert done, f"attempt {attempt.pk} not timed out after {timeout}s" + (f"\n{log_of(proc)}" if proc else "")
    [event] = timeout_events([attempt.pk])
    return event


def sleep_until(moment: datetime) -> None:
    """Let a real deadline pass (these tests run real listeners on real time)."""
    time.sleep(max(0.0, (moment - clock.now()).total_seconds()))


def many_attempts(user, exam, *, count: int, deadline: datetime) -> list[int]:
    """`count` ongoing attempts of one user sharing `deadline`, armed in Redis like started ones."""
    Attempt.objects.bulk_create(
        Attempt(user=user, exam=exam, number=n, started_at=clock.now(), deadline_at=deadline)
        for n in range(1, count + 1)
    )
    ids = list(Attempt.objects.filter(exam=exam).values_list("pk", flat=True))
    timers.restore_timers((pk, clock.to_ms(deadline)) for pk in ids)
    return ids


def assert_each_timed_out_once(ids: list[int]) -> list[AttemptEvent]:
    assert Attempt.objects.filter(pk__in=ids, status=AttemptStatus.TIMEOUT).count() == len(ids)
    events = timeout_events(ids)
    assert sorted(e.attempt_id for e in events) == sorted(ids), "every attempt has exactly one timed_out event"
    return events


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text exposition, or None when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match[1] == name and ",".join(sorted((match[2] or "").split(","))) == wanted:
            return float(match[3])
    return None


# --- timing (deadlines met within a second: -m "not timing" on a loaded machine) ------------
#
# Elsewhere a test's lateness bound is only its wait: a path and "never early" are what it checks.


@pytest.mark.timing
def test_an_attempt_times_out_within_a_second_of_its_deadline(student, make_exam):
    exam = make_exam(duration=2)
    with running_listener() as proc:
        attempt = start(student, exam)
        event = wait_timed_out(attempt, timeout=5, proc=proc)
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.TIMEOUT
    assert attempt.ended_at >= attempt.deadline_at
    assert event.path in FAST_PATHS
    assert 0 <= event.lateness_ms < 1000


def test_starting_the_listener_after_the_deadline_times_out_at_once(student, make_exam):
    attempt = start(student, make_exam(duration=1))
    sleep_until(attempt.deadline_at + timedelta(milliseconds=300))  # nobody was listening

    # The periodic reconcile is a minute off: only the one at start can catch it in the wait.
    with listener(RECONCILE_INTERVAL_SECONDS=60) as proc:
        wait_ready(proc)
        event = wait_timed_out(attempt, timeout=5, proc=proc)
    assert event.path == ExpiryPath.RECONCILER


def test_the_sweeper_catches_it_without_keyspace_events(student, make_exam, private_redis):
    server = private_redis
    exam = make_exam(duration=2)
    with running_listener(TEST_REDIS_URL=server.url) as proc:
        server.client().config_set("notify-keyspace-events", "")  # e.g. an operator turned them off
        attempt = start(student, exam)
        event = wait_timed_out(attempt, timeout=5, proc=proc)
    assert event.path == ExpiryPath.SWEEPER
    assert event.lateness_ms >= 0


@pytest.mark.timing
def test_many_unrelated_ttl_keys_do_not_delay_expiry(student, make_exam, clean_redis):
    pipe = clean_redis.pipeline(transaction=False)
    for n in range(20_000):
        pipe.set(f"unrelated:{n}", "x", px=3_600_000)
    pipe.execute()
    exam = make_exam(duration=2)
    with running_listener() as proc:
        attempt = start(student, exam)
        event = wait_timed_out(attempt, timeout=5, proc=proc)
    assert event.path in FAST_PATHS
    assert 0 <= event.lateness_ms < 1000


@pytest.mark.timing
def test_five_hundred_attempts_with_one_deadline_each_time_out_once(student, make_exam):
    exam = make_exam(duration=60)
    with running_listener() as proc:
        deadline = clock.now() + timedelta(seconds=2)
        ids = many_attempts(student, exam, count=500, deadline=deadline)
        done = wait_until(
            lambda: Attempt.objects.filter(pk__in=ids, status=AttemptStatus.TIMEOUT).count() == len(ids), 10
        )
        observed = clock.now()
        assert done, log_of(proc)
    events = assert_each_timed_out_once(ids)
    assert max(e.lateness_ms for e in events) < 1000
    # What the database showed, polled: committed within about a second of the deadline.
    assert (observed - deadline).total_seconds() < 1.5


# --- Redis losing state ---------------------------------------------------------------


def test_flushdb_mid_attempt_is_repaired_with_the_true_remaining_time(student, make_exam, clean_redis):
    exam = make_exam(duration=4)
    with running_listener(RECONCILE_INTERVAL_SECONDS=0.5) as proc:
        attempt = start(student, exam)
        deadline_ms = clock.to_ms(attempt.deadline_at)
        time.sleep(1.5)  # into the attempt: the true time left is no longer a fresh 4 s
        clean_redis.flushdb()
        key = timers.timer_key(attempt.pk)
        assert wait_until(lambda: clean_redis.exists(key), 3), f"timer key not restored\n{log_of(proc)}"
        pttl, left = clean_redis.pttl(key), deadline_ms - clock.now_ms()
        assert abs(pttl - left) < 250, (pttl, left)  # the true remaining time, not a fresh 4 s
        assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == deadline_ms
        event = wait_timed_out(attempt, timeout=5, proc=proc)
    assert event.path in LISTENER_PATHS  # the reconciler runs every 0.5 s here: it may come first
    assert event.lateness_ms >= 0


def test_the_listener_reconnects_and_reconciles_after_redis_comes_back(student, make_exam, private_redis):
    server = private_redis
    exam = make_exam(duration=2)
    with running_listener(TEST_REDIS_URL=server.url) as proc:
        attempt = start(student, exam)
        server.kill()  # the timer and deadline index go with it
        sleep_until(attempt.deadline_at + timedelta(milliseconds=500))
        assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.ONGOING
        server.start()
        event = wait_timed_out(attempt, timeout=8, proc=proc)
        log = log_of(proc)
        flags = server.client().config_get("notify-keyspace-events")["notify-keyspace-events"]
    assert event.path == ExpiryPath.RECONCILER
    # It backed off while Redis was gone (never for long: a second at most), then subscribed
    # again and re-enabled the events.
    delays = [float(d) for d in re.findall(r"keyspace listener: .*; retrying in ([\d.]+)s", log)]
    assert len(delays) >= 2 and all(a <= b for a, b in itertools.pairwise(delays)), log
    assert delays[0] < delays[-1] <= MAX_BACKOFF_SECONDS, log
    assert log.count(READY_LINE) >= 2
    assert "E" in flags and "x" in flags


def test_two_listeners_time_each_attempt_out_once(student, make_exam):
    exam = make_exam(duration=60)
    with running_listener(), running_listener():
        ids = many_attempts(student, exam, count=200, deadline=clock.now() + timedelta(seconds=2))
        assert wait_until(
            lambda: Attempt.objects.filter(pk__in=ids, status=AttemptStatus.TIMEOUT).count() == len(ids), 10
        )
    # Both listeners have exited (SIGTERM, waited for): a loser's late write would be here by now.
    events = assert_each_timed_out_once(ids)
    assert min(e.lateness_ms for e in events) >= 0


# --- process life -----------------------------------------------------------------------


def test_sigterm_stops_the_listener_cleanly():
    with listener() as proc:
        wait_ready(proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=5)
    assert code == 0
    assert "listener stopped" in log_of(proc)
    assert "Traceback" not in log_of(proc)


@pytest.mark.parametrize("private_redis", [("--rename-command", "CONFIG", "")], indirect=True)
def test_refused_config_gives_one_warning_and_the_sweeper_still_works(student, make_exam, private_redis):
    server = private_redis
    exam = make_exam(duration=2)
    with running_listener(TEST_REDIS_URL=server.url) as proc:
        attempt = start(student, exam)
        event = wait_timed_out(attempt, timeout=5, proc=proc)
        log = log_of(proc)
    assert event.path == ExpiryPath.SWEEPER
    assert event.lateness_ms >= 0
    warnings = [line for line in log.splitlines() if "cannot enable keyspace notifications" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], log


# --- what the rest of the system sees ---------------------------------------------------


async def test_the_timeout_reaches_every_process_in_one_fanout_message(student, make_exam):
    """The listener publishes a batch's ends once to the fan-out group, for each process's hub to deliver."""
    exam = await database_sync_to_async(make_exam)(duration=2)
    layer = get_channel_layer()
    process_channel = f"{delivery.PROCESS_CHANNEL_PREFIX}test"
    await layer.group_add(delivery.FANOUT_GROUP, process_channel)
    with running_listener():
        attempt = await database_sync_to_async(start)(student, exam)
        events = []
        while not any(e[2]["type"] == "attempt_timeout" for e in events):
            message = await asyncio.wait_for(layer.receive(process_channel), timeout=5)
            assert message["type"] == "fanout"
            events.extend(check_event(e) for e in message["events"])
    by_type = {payload["type"]: (target, target_id, payload) for target, target_id, payload in events}
    assert by_type["attempt_started"][:2] == ("exam", exam.pk)
    target, target_id, to_student = by_type["timeout"]
    assert (target, target_id) == ("attempt", attempt.pk)
    assert (to_student["attempt_id"], to_student["status"], to_student["max_score"]) == (attempt.pk, "timeout", 3)
    target, target_id, to_proctor = by_type["attempt_timeout"]
    assert (target, target_id) == ("exam", exam.pk)
    assert to_proctor["attempt"]["attempt_id"] == attempt.pk
    assert to_proctor["attempt"]["status"] == "timeout"
    # Sent after the commit: the database already says so.
    status = await database_sync_to_async(lambda: Attempt.objects.get(pk=attempt.pk).status)()
    assert status == AttemptStatus.TIMEOUT


def scrape(port: int, path: str | None) -> str | None:
    """The listener's /metrics text once it counts an expiry by `path` (any text when path is None)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return text if path is None or metric(text, "exam_expiries_total", path=path) else None


def test_the_listener_metrics_count_expiries_and_lateness_by_path(student, make_exam):
    port = free_port()
    exam = make_exam(duration=1)
    with running_listener(LISTENER_METRICS_PORT=port) as proc:
        attempt = start(student, exam)
        event = wait_timed_out(attempt, timeout=5, proc=proc)
        # Counted just after the commit (and its notifications): poll a moment.
        text = wait_until(lambda: scrape(port, event.path), 2) or scrape(port, None)
    assert metric(text, "exam_expiries_total", path=event.path) == 1
    assert metric(text, "exam_expiry_lateness_seconds_count", path=event.path) == 1
    assert metric(text, "exam_expiry_lateness_seconds_bucket", path=event.path, le="+Inf") == 1
    # The lateness the event records, in seconds.
    assert metric(text, "exam_expiry_lateness_seconds_sum", path=event.path) == pytest.approx(
        event.lateness_ms / 1000, abs=1e-6
    )


def test_the_web_metrics_count_on_access_expiries(student, make_exam, client):
    def on_access() -> float:
        text = client.get("/metrics").content.decode()
        return metric(text, "exam_expiries_total", path=ExpiryPath.ON_ACCESS) or 0

    before = on_access()
    late = Attempt.objects.create(
        user=student,
        exam=make_exam(),
        started_at=clock.now() - timedelta(minutes=2),
        deadline_at=clock.now() - timedelta(minutes=1),
    )
    assert services.current_attempt(user=student, attempt_id=late.pk).status == AttemptStatus.TIMEOUT
    assert on_access() == before + 1
    [event] = timeout_events([late.pk])
    assert event.path == ExpiryPath.ON_ACCESS and event.lateness_ms >= 60_000


def test_a_dropped_subscription_reconnects_and_reconciles(student, make_exam, private_redis):
    server = private_redis
    exam = make_exam(duration=1)
    # Only a reconcile on reconnect can catch the attempt: the periodic one is far off.
    with running_listener(TEST_REDIS_URL=server.url, RECONCILE_INTERVAL_SECONDS=60) as proc:
        attempt = start(student, exam)
        # The mirror is lost (no key to expire, nothing to sweep), but not all of Redis: the
        # `exam:alive` marker stays, so only the reconnect can tell.
        server.client().delete(timers.timer_key(attempt.pk), timers.DEADLINES_KEY)
        sleep_until(attempt.deadline_at + timedelta(milliseconds=200))
        server.client().client_kill_filter(_type="pubsub")  # e.g. a network blip or a proxy restart
        event = wait_timed_out(attempt, timeout=5, proc=proc)
        log = log_of(proc)
    assert event.path == ExpiryPath.RECONCILER
    assert log.count(READY_LINE) == 2, log


def test_redis_losing_its_data_is_reconciled_at_once(student, make_exam, private_redis):
    server = private_redis
    exam = make_exam(duration=3)
    # Neither a reconnect nor the periodic reconcile (60 s) comes: only noticing the loss can rebuild the timer.
    with running_listener(TEST_REDIS_URL=server.url, RECONCILE_INTERVAL_SECONDS=60) as proc:
        attempt = start(student, exam)
        sleep_until(attempt.started_at + timedelta(seconds=1))
        server.client().flushall()  # a restart without persistence, or failover to an empty replica
        event = wait_timed_out(attempt, timeout=8, proc=proc)
    assert event.path in (ExpiryPath.SWEEPER, ExpiryPath.KEYSPACE)
    assert event.lateness_ms >= 0
