#!/usr/bin/env python
"""Expiry lateness: Redis keyspace events alone vs the expiry engine (issue 3).

N attempts end within the same second while M other keys with long TTLs sit in Redis.
For each design it reports the lateness from each attempt's deadline to its timeout being
committed (as seen by a poller of the database) and how many were not timed out at all
within --timeout seconds:

(a) keyspace events alone, as first designed: a subscriber that times an attempt out on
    its key's `expired` event and does nothing else (no sweeper, no reconciler);
(b) the engine: a real `manage.py run_timer_listener` process.

    python bench/bench_expiry.py [--attempts 1000,10000] [--listeners 1] [--other-keys 100000] [--runs 3] [--timeout 60]

It uses the configured DATABASE_URL and the server of REDIS_URL, but a Redis database of
its own (--redis-db, flushed before and after), and deletes the user, exam and attempts it
creates. Stop any other listener on the same database while it runs: it would time out the
bench's attempts too.
"""

import argparse
import math
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
POLL_SECONDS = 0.005  # the backlog query is cheap: poll often, so the reading is within 5 ms


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--attempts",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1000, 10_000],
        help="attempts ending within one second, one scenario per size (1000,10000: the hard close)",
    )
    parser.add_argument(
        "--listeners", type=int, default=1, help="run_timer_listener processes for design (b) (1; `make run` starts 2)"
    )
    parser.add_argument("--other-keys", type=int, default=100_000, help="unrelated keys with long TTLs (100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each design; medians are reported (3)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds after which an attempt counts as lost (60)"
    )
    parser.add_argument("--lead", type=float, default=5.0, help="seconds from arming to the first deadline (5)")
    parser.add_argument(
        "--redis-db",
        type=int,
        default=int(os.environ.get("BENCH_REDIS_DB", 11)),
        help="the bench's own Redis database, flushed (BENCH_REDIS_DB, 11)",
    )
    parser.add_argument(
        "--design",
        choices=["both", "keyspace", "engine"],
        default="both",
        help="run (a) keyspace events alone, (b) the engine, or both (both)",
    )
    return parser.parse_args()


def use_own_redis_db(db: int) -> str:
    """Point REDIS_URL (read by the settings, here and in the listener) at the bench's database."""
    environ.Env.read_env(ROOT / ".env", overwrite=False)  # as the settings do, to see the configured URL
    configured = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if configured.path.strip("/") == str(db):
        sys.exit(f"--redis-db {db} is the server's own Redis database; the bench flushes it: pick another")
    url = configured._replace(path=f"/{db}").geturl()
    os.environ["REDIS_URL"] = url
    return url


# Set before Django reads its settings.
ARGS = parse_args()
REDIS_URL = use_own_redis_db(ARGS.redis_db)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from exams import clock, services, timers  # noqa: E402
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, Exam, ExpiryPath  # noqa: E402
from exams.redis_clients import get_redis  # noqa: E402

# --- the two designs, each a context manager that runs while attempts end ----------------


@contextmanager
def keyspace_only() -> Iterator[None]:
    """(a) Time out an attempt on its timer key's `expired` event, and nothing else."""
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"__keyevent@{ARGS.redis_db}__:expired")
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            ids, message = [], pubsub.get_message(timeout=0.1)
            while message:  # one batch: whatever has arrived
                attempt_id = timers.attempt_id_from_key(message["data"].decode())
                if attempt_id is not None:
                    ids.append(attempt_id)
                message = pubsub.get_message(timeout=0)
            if ids:
                services.expire_attempts(attempt_ids=ids, path=ExpiryPath.KEYSPACE)
        connection.close()

    thread = threading.Thread(target=listen, name="keyspace-only")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        pubsub.close()


@contextmanager
def engine() -> Iterator[None]:
    """(b) `--listeners` real `run_timer_listener` processes, each ready (subscribed) before the attempts are armed."""
    (ROOT / ".run").mkdir(exist_ok=True)
    env = {**os.environ, "LISTENER_METRICS_PORT": "0", "PYTHONUNBUFFERED": "1"}
    if settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY:
        env["SECRET_KEY"] = secrets.token_urlsafe(50)  # the listener refuses the committed dev key
    procs: list[subprocess.Popen] = []
    try:
        for n in range(ARGS.listeners):
            log_path = ROOT / ".run" / f"bench-listener{'' if n == 0 else n + 1}.log"
            with open(log_path, "w") as log:
                proc = subprocess.Popen(
                    [sys.executable, "manage.py", "run_timer_listener"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            end = time.monotonic() + 60
            while "listening for expired timer keys" not in log_path.read_text():
                if proc.poll() is not None or time.monotonic() > end:
                    sys.exit(f"the listener did not start; see {log_path}")
                time.sleep(0.05)
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


DESIGNS: dict[str, Callable] = {
    name: running
    for name, running, key in [
        ("(a) keyspace events alone", keyspace_only, "keyspace"),
        ("(b) engine: run_timer_listener", engine, "engine"),
    ]
    if ARGS.design in ("both", key)
}


# --- one run ----------------------------------------------------------------------------


def arm_attempts(user, exam: Exam, count: int) -> dict[int, int]:
    """`count` ongoing attempts whose deadlines spread over one second, armed in Redis; id -> deadline ms."""
    now = clock.now()
    first = now + timedelta(seconds=ARGS.lead)
    Attempt.objects.bulk_create(
        Attempt(
            user=user,
            exam=exam,
            number=n + 1,
            started_at=now,
            deadline_at=first + timedelta(microseconds=n * 1_000_000 // count),
        )
        for n in range(count)
    )
    deadlines = {pk: clock.to_ms(d) for pk, d in Attempt.objects.filter(exam=exam).values_list("pk", "deadline_at")}
    timers.restore_timers(deadlines.items())
    if clock.now() >= first:
        print(f"  warning: arming took longer than --lead {ARGS.lead}s", file=sys.stderr)
    return deadlines


def watch(exam: Exam, deadlines: dict[int, int]) -> list[float]:
    """Each attempt's ms from its deadline to the first poll of the database that sees it timed out (inf when lost).

    A poll reads the backlog only: attempts due and still ongoing, an index range as small as the
    engine keeps it. Reading every attempt by id instead cost ~35 ms a poll at 10,000, a third of a
    core taken from the processes it measures on this 2-core machine.
    """
    exact = dict(Attempt.objects.filter(exam=exam).values_list("pk", "deadline_at"))
    by_deadline = sorted(deadlines, key=exact.__getitem__)
    seen: dict[int, float] = {}
    due: set[int] = set()  # due at the last poll and not yet seen timed out
    reached = 0  # by_deadline[:reached] were due at the last poll
    time.sleep(max(0.0, (min(deadlines.values()) - clock.now_ms()) / 1000))
    give_up = max(deadlines.values()) + ARGS.timeout * 1000
    while len(seen) < len(deadlines) and clock.now_ms() < give_up:
        cutoff = clock.now()  # a row this poll finds ended committed before the query began
        ongoing = set(
            Attempt.objects.filter(exam=exam, status=AttemptStatus.ONGOING, deadline_at__lte=cutoff).values_list(
                "pk", flat=True
            )
        )
        while reached < len(by_deadline) and exact[by_deadline[reached]] <= cutoff:
            due.add(by_deadline[reached])
            reached += 1
        for pk in due - ongoing:
            seen[pk] = clock.to_ms(cutoff) - deadlines[pk]
        due &= ongoing
        time.sleep(POLL_SECONDS)
    return [seen.get(pk, math.inf) for pk in deadlines]


def clean_up(exam: Exam) -> dict[str, int]:
    """Delete the run's attempts and timers; return how many timeouts each path made."""
    paths = dict(
        AttemptEvent.objects.filter(attempt__exam=exam, kind=EventKind.TIMED_OUT)
        .values_list("path")
        .annotate(n=Count("id"))
        .values_list("path", "n")
    )
    ids = list(Attempt.objects.filter(exam=exam).values_list("pk", flat=True))
    timers.delete_timers(ids)
    Attempt.objects.filter(exam=exam).delete()
    return paths


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summary(lateness: list[float]) -> dict[str, float]:
    ordered = sorted(lateness)
    return {
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
        "lost": sum(1 for ms in ordered if ms == math.inf),
    }


def fmt(ms: float) -> str:
    return f"> {ARGS.timeout:.0f} s" if ms == math.inf else f"{ms:.0f}"


# --- setup and report -------------------------------------------------------------------

SENTINEL = "bench:sentinel"


def fill_other_keys(client, count: int) -> None:
    """Unrelated keys with TTLs of one to two hours: Redis's expiry cycle must wade through them."""
    pipe = client.pipeline(transaction=False)
    pipe.set(SENTINEL, "gone means someone flushed this database")
    for n in range(count):
        pipe.set(f"bench:other:{n}", "x", px=3_600_000 + n % 3_600_000)
        if n % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()


def enable_keyspace_events(client) -> None:
    flags = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
    missing = "".join(f for f in "Ex" if f not in flags and not (f == "x" and "A" in flags))
    if missing:
        client.config_set("notify-keyspace-events", flags + missing)


def main() -> None:
    if Attempt._meta.db_table not in connection.introspection.table_names():
        sys.exit(f"{connection.settings_dict['NAME']} has no exam tables: run `python manage.py migrate` first")
    client = get_redis()
    client.flushdb()
    fill_other_keys(client, ARGS.other_keys)
    enable_keyspace_events(client)  # design (a) needs them; the engine turns them on itself
    name = f"bench-expiry-{secrets.token_hex(4)}"
    user = get_user_model().objects.create_user(username=name, password=secrets.token_urlsafe(16))
    exam = Exam.objects.create(title=name, duration_seconds=60, published=False)
    # Design (a) loses most attempts at any size: it runs for the first size only.
    cases = [
        (design, size) for size in ARGS.attempts for design in DESIGNS if size == ARGS.attempts[0] or "(b)" in design
    ]
    results: dict[tuple[str, int], list[dict]] = {case: [] for case in cases}
    print(
        f"{ARGS.attempts} attempts ending within one second, {ARGS.other_keys} other TTL keys, "
        f"{connection.vendor}, Redis {client.info('server')['redis_version']} (db {ARGS.redis_db}), "
        f"{ARGS.listeners} listener(s); {load()}"
    )
    try:
        for run in range(1, ARGS.runs + 1):
            for design, size in cases:
                with DESIGNS[design]():
                    lateness = watch(exam, arm_attempts(user, exam, size))
                paths = clean_up(exam)
                if not client.exists(SENTINEL):
                    print(
                        f"  warning: something flushed Redis db {ARGS.redis_db} during this run, so its "
                        "numbers are not valid; pick an unused --redis-db",
                        file=sys.stderr,
                    )
                    fill_other_keys(client, ARGS.other_keys)
                results[(design, size)].append(stats := summary(lateness))
                print(
                    f"run {run} {design}, {size}: p50 {fmt(stats['p50'])}, p99 {fmt(stats['p99'])}, "
                    f"max {fmt(stats['max'])} (ms), lost {stats['lost']}; by path {paths}; {load()}",
                    flush=True,
                )
    finally:
        exam.delete()
        user.delete()
        client.flushdb()

    print(
        f"\nDeadline-to-commit lateness of attempts ending within one second among "
        f"{ARGS.other_keys} other TTL keys; median of {ARGS.runs} runs; lost = not timed out within "
        f"{ARGS.timeout:.0f} s; {connection.vendor}; {ARGS.listeners} listener(s); {load()}.\n"
    )
    print("| design | attempts | p50 ms | p99 ms | max ms | lost |")
    print("|---|---:|---:|---:|---:|---:|")
    for (design, size), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p99", "max", "lost")}
        print(
            f"| {design} | {size:,} | {fmt(med['p50'])} | {fmt(med['p99'])} | {fmt(med['max'])} | "
            f"{med['lost']:.0f} of {size} |"
        )


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
