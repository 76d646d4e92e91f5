#!/usr/bin/env python
"""What the expiry engine and a proctor's snapshot cost at a large exam's size (issue 13 §3).

    python bench/bench_costs.py reconcile [--attempts 50000] [--runs 5]
    python bench/bench_costs.py snapshot  [--attempts 50000] [--runs 5]

reconcile: one run of the listener's reconciler with N live attempts armed in Redis, as it
runs every RECONCILE_INTERVAL_SECONDS on every listener: the design before issue 13 (rewrite
every live timer, copied here as `legacy_reconcile`) against the audit (`TimerAudit`): a
quiet periodic run, one after an index member was lost, one after FLUSHALL, and a full check
(as at start or on reconnect). Reported: wall time (median of --runs), and from one more run
watched through MONITOR the commands clients sent (round trips), and from INFO commandstats
all the commands Redis ran, those inside scripts included.

snapshot: the proctor's `snapshot` frame for an exam of N ongoing attempts: bytes and time to
build and encode it, median of --runs; and a dashboard's reconnect (`?since=` its newest row's
time) after --changed attempts changed while it was away (exams/row_changes.py).

It starts its own redis-server (--redis-port, a free port by default) and uses DATABASE_URL
(default: mysql://root@127.0.0.1:3306/costs_bench, created and migrated by `make bench-costs`);
it creates its own users, exam and attempts and deletes them at the end. Run nothing else on
that database meanwhile: a listener there would re-arm or time out the bench's attempts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["reconcile", "snapshot"])
    parser.add_argument("--attempts", type=int, default=50_000, help="ongoing attempts (50000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each case; medians reported (5)")
    parser.add_argument("--changed", type=int, default=100, help="snapshot: attempts changed before a reconnect (100)")
    parser.add_argument("--redis-port", type=int, default=0, help="port of the bench's own redis-server (a free one)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/costs_bench"),
        help="the bench's database, migrated (BENCH_DATABASE_URL)",
    )
    return parser.parse_args()


ARGS = parse_args()
REDIS = RedisServer()
if ARGS.redis_port:
    REDIS.port, REDIS.url = ARGS.redis_port, f"redis://127.0.0.1:{ARGS.redis_port}/0"
os.environ.update(DJANGO_SETTINGS_MODULE="project.settings", DATABASE_URL=ARGS.database_url, REDIS_URL=REDIS.url)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from exams import clock, timers  # noqa: E402
from exams.expiry import batches  # noqa: E402
from exams.models import Attempt, Exam  # noqa: E402
from exams.redis_clients import get_redis  # noqa: E402
from tests.support.redis_commands import MonitoredRedis  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_attempts(count: int) -> tuple[Exam, list]:
    """An exam with `count` ongoing attempts, deadlines spread over the next hour.

    One student holds them all (attempt numbers 1..count): the costs measured here do not
    depend on who owns an attempt, and one user is quick to make.
    """
    tag = f"bench-costs-{secrets.token_hex(3)}"
    user = get_user_model().objects.create_user(username=tag, password=secrets.token_urlsafe(16))
    exam = Exam.objects.create(title=tag, duration_seconds=3600, published=False)
    now = clock.now()
    Attempt.objects.bulk_create(
        (
            Attempt(
                user=user,
                exam=exam,
                number=n + 1,
                started_at=now,
                deadline_at=now + timedelta(minutes=10, microseconds=n * 3_000_000_000 // count),
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    return exam, [user]


def drop(exam: Exam, users: list) -> None:
    Attempt.objects.filter(exam=exam).delete()
    exam.delete()
    get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()


def legacy_reconcile() -> int:
    """The reconciler before issue 13: every live attempt's timer key (SET NX) and index member (ZADD), every run."""
    live = Attempt.objects.live(clock.now()).values_list("pk", "deadline_at")
    pipe = get_redis().pipeline(transaction=False)
    for pk, deadline in live.iterator(chunk_size=2000):
        deadline_ms = clock.to_ms(deadline)
        pipe.set(timers.timer_key(pk), deadline_ms, px=max(1, deadline_ms - clock.now_ms()), nx=True)
        pipe.zadd(timers.DEADLINES_KEY, {str(pk): deadline_ms})
    return sum(1 for created in pipe.execute()[0::2] if created)


def commands_run() -> int:
    """All the commands the server has run (INFO commandstats; those inside scripts count too)."""
    stats = get_redis().info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_echo", "cmdstat_monitor", "cmdstat_info"))


def measure(label: str, prepare: Callable[[], None], run: Callable[[], int]) -> dict:
    """Median wall time of --runs runs of `run` (each after `prepare`), and one run's commands."""
    times = []
    for _ in range(ARGS.runs):
        prepare()
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    prepare()
    before = commands_run()
    with MonitoredRedis(REDIS.port) as log:
        run()
    ran = commands_run() - before
    row = {
        "case": label,
        "ms": statistics.median(times),
        "runs": [round(t) for t in times],
        "sent": len(log.calls),
        "ran": ran,
        "repaired": result,
    }
    print(f"  {label}: {row['ms']:.0f} ms (runs {row['runs']}), {row['sent']} sent, {row['ran']} run in all")
    print(f"    {load()}", flush=True)
    return row


def bench_reconcile() -> None:
    exam, users = make_attempts(ARGS.attempts)
    try:
        live = [(pk, clock.to_ms(d)) for pk, d in Attempt.objects.filter(exam=exam).values_list("pk", "deadline_at")]
        client = get_redis()

        def armed() -> None:
            timers.restore_timers(live)

        def one_member_lost() -> None:
            armed()
            client.zrem(timers.DEADLINES_KEY, str(live[-1][0]))

        def flushed() -> None:
            client.flushall()

        audit = batches.TimerAudit()
        rows = [
            measure("before: every live timer rewritten (issue 12's reconciler)", armed, legacy_reconcile),
            measure("periodic, nothing lost", armed, lambda: batches.reconcile(audit=audit, full=False)[1]),
            measure(
                "periodic, one index member lost",
                one_member_lost,
                lambda: batches.reconcile(audit=audit, full=False)[1],
            ),
            measure("periodic, after FLUSHALL", flushed, lambda: batches.reconcile(audit=audit, full=False)[1]),
            measure(
                "full check (start, reconnect, `exam:alive` gone), nothing lost",
                armed,
                lambda: batches.reconcile(full=True)[1],
            ),
        ]
    finally:
        drop(exam, users)
    print(
        f"\nOne reconcile with {ARGS.attempts:,} live attempts; {connection.vendor}, Redis "
        f"{get_redis().info('server')['redis_version']}; wall time median of {ARGS.runs} runs; {load()}.\n"
    )
    print("| case | ms | commands sent | commands run (with those in scripts) | timers repaired |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['ms']:.0f} | {r['sent']:,} | {r['ran']:,} | {r['repaired']:,} |")


def reconnect_costs(exam: Exam) -> dict:
    """Each attempt started long ago (its event); a dashboard's rows as of now; then --changed attempts
    extended (event and row, as services.extend_attempt writes them) and the reconnect's frame timed."""
    import json

    from exams import notifications
    from exams.contract import builders
    from exams.models import AttemptEvent, EventKind

    ids = list(Attempt.objects.filter(exam=exam).values_list("pk", flat=True))
    long_ago = clock.now() - timedelta(minutes=20)
    AttemptEvent.objects.bulk_create(
        (AttemptEvent(attempt_id=pk, kind=EventKind.STARTED, at=long_ago) for pk in ids), batch_size=5000
    )
    result: dict = {"read": [], "encode": [], "bytes": 0}
    for run in range(ARGS.runs):
        # Earlier runs' changes are old news (else those within row_changes.GRACE would be sent again).
        AttemptEvent.objects.filter(attempt__exam=exam).update(at=long_ago)
        since = clock.now()  # the newest `server_time` of the dashboard's rows
        changed = ids[run * ARGS.changed : (run + 1) * ARGS.changed]
        Attempt.objects.filter(pk__in=changed).update(extra_seconds=60 * (run + 1))
        AttemptEvent.objects.bulk_create(
            AttemptEvent(attempt_id=pk, kind=EventKind.EXTENDED, at=clock.now()) for pk in changed
        )
        started = time.perf_counter()
        rows = notifications.exam_rows_since(exam.pk, since)
        read = time.perf_counter()
        assert rows is not None and len(rows) == len(changed), (len(rows or []), len(changed))
        text = json.dumps(builders.snapshot_frame(exam.pk, rows, since=since))
        done = time.perf_counter()
        result["read"].append((read - started) * 1000)
        result["encode"].append((done - read) * 1000)
        result["bytes"] = len(text.encode())
        print(f"  reconnect run: {load()}", flush=True)
    return result


def bench_snapshot() -> None:
    """The proctor snapshot of one exam: the rows (database and presence), then the frame encoded."""
    import json

    from exams import notifications
    from exams.contract import builders

    exam, users = make_attempts(ARGS.attempts)
    try:
        cases = {
            "before: rows as objects (`attempts`)": lambda rows: {
                "type": "snapshot",
                **builders.exam_room(exam.pk, rows),
            },
            "compact: `columns` + `rows`": lambda rows: builders.snapshot_frame(exam.pk, rows),
        }
        results = {name: {"read": [], "encode": [], "bytes": 0} for name in cases}
        for _ in range(ARGS.runs):
            for name, frame in cases.items():
                started = time.perf_counter()
                rows = notifications.exam_rows(exam.pk)
                read = time.perf_counter()
                text = json.dumps(frame(rows))
                done = time.perf_counter()
                results[name]["read"].append((read - started) * 1000)
                results[name]["encode"].append((done - read) * 1000)
                results[name]["bytes"] = len(text.encode())
            print(f"  run: {load()}", flush=True)
        reconnect = f"reconnect: `since` + the {ARGS.changed:,} rows changed meanwhile"
        results[reconnect] = reconnect_costs(exam)
    finally:
        drop(exam, users)
    print(
        f"\nThe proctor snapshot of an exam of {ARGS.attempts:,} ongoing attempts; {connection.vendor}; "
        f"medians of {ARGS.runs} runs; {load()}.\n"
    )
    print("| frame | bytes | rows read (database, presence) ms | frame built and encoded ms | total ms |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        read, encode = statistics.median(r["read"]), statistics.median(r["encode"])
        print(f"| {name} | {r['bytes']:,} | {read:.0f} | {encode:.0f} | {read + encode:.0f} |")


def main() -> None:
    REDIS.start()
    try:
        print(f"{ARGS.what}: {ARGS.attempts:,} attempts, Redis on port {REDIS.port}; {load()}", flush=True)
        {"reconcile": bench_reconcile, "snapshot": bench_snapshot}[ARGS.what]()
    finally:
        REDIS.stop()


if __name__ == "__main__":
    main()
