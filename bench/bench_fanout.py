"""Fan-out on ONE daphne process: a hard close of K sockets, and a storm of K handshakes.

    python bench/bench_fanout.py hardclose  [--sockets 5000] [--clients 2]
    python bench/bench_fanout.py handshakes [--sockets 2000] [--in-flight 100] [--clients 2]
    python bench/bench_fanout.py extend     [--sockets 5000] [--clients 2]

hardclose: K students hold a socket each on one daphne (a listener running); every attempt
gets the same deadline; reported: deadline -> `timeout` frame at the client (p50/p99/max),
sockets that never got it (missing, within --lost-after s), and `attempt_timeout` frames a
proctor socket received. Target (issue 8, §8): K = 5,000, p99 <= 1 s, 0 missing.

extend: K students hold a socket each on one daphne, and a proctor's dashboard socket too; the
proctor extends every attempt of the exam by 5 minutes in one REST call (POST
/api/proctor/exams/<id>/time/, issue 11 §3). Reported: the call -> `extended` frame at the client
(p50/p99/max), sockets that never got it, the call's own time, the proctor's `time_changed` rows
(how many, the last one's time). Target: K = 5,000, p99 <= 1 s, 0 missing.

handshakes: K students open their sockets at once, --in-flight at a time in all; a handshake
is admitted at the first `timer` frame. Reported: failed, time to admit all, handshake
p50/p99/max. Target (§8b): K = 2,000, 100 in flight, MySQL, 0 failed, all within 10 s.

The load is spread over --clients processes (the machine has few cores); each reports its
event-loop lag, since a late client would be blamed on the server. It uses its own Redis
(--redis-port, a free port by default) and DATABASE_URL (default: the drills' database),
creates its own users, exam and attempts and deletes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.drills.cluster import Cluster, free_port, raise_fd_limit  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# =====================================================================================
# The client process: `--role client`; reads commands as JSON lines, answers likewise.
# =====================================================================================


async def client_main(port: int) -> None:
    from websockets.asyncio.client import connect

    from bench.drills.clients import LoopLag

    raise_fd_limit()
    lag = LoopLag()
    lag.start()
    server = f"127.0.0.1:{port}"
    sockets, readers, timeouts, extended, proctor_frames = [], [], {}, {}, []

    def emit(payload: dict) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    async def open_one(attempt_id: int, token: str, gate: asyncio.Semaphore, handshakes: list, failures: list):
        async with gate:
            started = time.time()
            try:
                ws = await connect(
                    f"ws://{server}/ws/attempts/{attempt_id}/?token={token}",
                    origin=f"http://{server}",
                    open_timeout=60,
                    ping_interval=None,
                    compression=None,
                    close_timeout=2,
                    max_queue=None,
                )
                first = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if first.get("type") != "timer":
                    raise RuntimeError(f"first frame {first.get('type')}")
            except Exception as exc:
                failures.append(repr(exc)[:200])
                return
            handshakes.append(time.time() - started)
        sockets.append(ws)
        readers.append(asyncio.create_task(read(attempt_id, ws)))

    async def read(attempt_id: int, ws) -> None:
        try:
            async for text in ws:
                # Stamp first, parse after: the stamp is what is measured.
                arrived = time.time()
                if '"timeout"' in text and json.loads(text).get("type") == "timeout":
                    timeouts[attempt_id] = arrived
                elif '"extended"' in text and json.loads(text).get("type") == "extended":
                    extended.setdefault(attempt_id, arrived)
        except Exception:
            pass

    async def proctor(exam_id: int, token: str) -> None:
        # The snapshot of thousands of attempts is past websockets' 1 MiB default frame limit.
        async with connect(
            f"ws://{server}/ws/proctor/exams/{exam_id}/?token={token}",
            origin=f"http://{server}",
            ping_interval=None,
            max_queue=None,
            max_size=None,
        ) as ws:
            async for text in ws:
                # The rows of a hard close (hardclose) or of an exam-wide extension (extend).
                if json.loads(text).get("type") in ("attempt_timeout", "time_changed"):
                    proctor_frames.append(time.time())

    tasks = []
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        kind = command["cmd"]
        if kind == "open":
            gate = asyncio.Semaphore(command["in_flight"])
            handshakes, failures = [], []
            started = time.time()
            await asyncio.gather(*(open_one(a, t, gate, handshakes, failures) for a, t in command["students"]))
            emit(
                {
                    "event": "done",
                    "held": len(sockets),
                    "failed": len(failures),
                    "errors": failures[:3],
                    "handshakes": handshakes,
                    "started": started,
                    "finished": time.time(),
                }
            )
        elif kind == "proctor":
            tasks.append(asyncio.create_task(proctor(command["exam_id"], command["token"])))
            await asyncio.sleep(1)
            emit({"event": "done"})
        elif kind == "collect":
            emit(
                {
                    "event": "done",
                    "timeouts": timeouts,
                    "extended": extended,
                    "proctor_frames": proctor_frames,
                    "lag": lag.summary(),
                    "held": len(sockets),
                }
            )
        elif kind == "quit":
            break
    for ws in sockets:
        ws.transport.abort()
    for task in readers + tasks:
        task.cancel()


# =====================================================================================
# The controller.
# =====================================================================================


class Clients:
    """Load client processes of `script` (this file by default), each driven by JSON lines on its stdin."""

    def __init__(self, count: int, port: int, env: dict, script: str = __file__) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, script, "client", "--role", "client", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=raise_fd_limit,
            )
            for _ in range(count)
        ]

    def send(self, index: int, payload: dict) -> None:
        self.procs[index].stdin.write(json.dumps(payload) + "\n")
        self.procs[index].stdin.flush()

    def read(self, index: int) -> dict:
        line = self.procs[index].stdout.readline()
        if not line:
            raise RuntimeError(f"client {index} exited ({self.procs[index].poll()})")
        return json.loads(line)

    def all(self, payloads: list[dict]) -> list[dict]:
        """Send each client its command at once; wait for every answer."""
        for i, payload in enumerate(payloads):
            self.send(i, payload)
        return [self.read(i) for i in range(len(self.procs))]

    def stop(self) -> None:
        for i, proc in enumerate(self.procs):
            try:
                self.send(i, {"cmd": "quit"})
                proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()


def configure(args) -> dict:
    raise_fd_limit()
    args.redis_port = args.redis_port or free_port()
    if args.redis_port == 6379:
        sys.exit("--redis-port 6379 is the shared Redis; the bench stops and flushes its own: pick another")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:{args.redis_port}/0",
        "SECRET_KEY": "fanout-" + secrets.token_hex(24),
        "DEBUG": "false",
        "JWT_ACCESS_MINUTES": "600",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    os.environ.update(env)
    import django

    django.setup()
    return env


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def run(args) -> str:
    from bench.drills import data

    env = configure(args)
    if args.port_base:
        from bench.drills import cluster as cluster_module

        ports = iter(range(args.port_base, args.port_base + 100))
        cluster_module.free_port = lambda: next(ports)  # type: ignore[assignment]
    prefix = f"fanout-{secrets.token_hex(3)}-"
    cluster = Cluster(
        redis_port=args.redis_port,
        database_url=args.database_url,
        db_port=0,
        env=env,
        daphnes=1,
        listeners=args.listeners if args.mode in ("hardclose", "extend") else 0,
        tag=f"bench-{args.mode}",
        proxy=False,
    )
    clients = None
    try:
        cluster.start()
        users, proctor = data.create_users(args.sockets, prefix)
        exam_id, attempt_ids, _ = data.create_exam(users, f"{prefix}{args.mode}")
        students = [[a, data.token_for(u)] for a, u in zip(attempt_ids, users, strict=False)]
        port = cluster.daphnes[0]["port"]
        clients = Clients(args.clients, port, env)
        per_client = max(1, args.in_flight // args.clients)
        if args.mode == "handshakes":
            results = clients.all(
                [{"cmd": "open", "students": share, "in_flight": per_client} for share in split(students, args.clients)]
            )
            lags = [c["lag"] for c in clients.all([{"cmd": "collect"}] * args.clients)]
            return report_handshakes(args, results, lags)
        if args.mode == "extend":
            return extend(args, clients, students, exam_id, data.token_for(proctor), port)
        clients.send(0, {"cmd": "proctor", "exam_id": exam_id, "token": data.token_for(proctor)})
        clients.read(0)
        opened = clients.all(
            [{"cmd": "open", "students": share, "in_flight": per_client} for share in split(students, args.clients)]
        )
        held = sum(r["held"] for r in opened)
        print(
            f"held {held} of {args.sockets} in "
            f"{max(r['finished'] for r in opened) - min(r['started'] for r in opened):.1f} s",
            file=sys.stderr,
        )
        time.sleep(args.settle)
        deadline = time.time() + args.lead
        started = time.time()
        data.set_deadlines({a: deadline for a, _ in students})
        if time.time() > deadline - 1:
            raise SystemExit(f"setting the deadlines took {time.time() - started:.1f} s; raise --lead")
        end = deadline + args.lost_after
        timeouts: dict = {}
        while time.time() < end:
            time.sleep(max(1.0, min(5.0, end - time.time())))
            collected = clients.all([{"cmd": "collect"}] * args.clients)
            timeouts = {k: v for c in collected for k, v in c["timeouts"].items()}
            if len(timeouts) >= held and time.time() > deadline + 2:
                break
        from exams.models import AttemptEvent

        lateness = list(
            AttemptEvent.objects.filter(attempt__exam_id=exam_id, kind="timed_out").values_list(
                "lateness_ms", flat=True
            )
        )
        return report_hardclose(args, held, deadline, collected, lateness)
    finally:
        if clients is not None:
            clients.stop()
        cluster.stop()
        data.cleanup(prefix)


def extend(args, clients: Clients, students: list, exam_id: int, proctor_token: str, port: int) -> str:
    """Open every student's socket, then extend the whole exam in one REST call; measure from the call."""
    import urllib.request

    from bench.machine import LOOP_STEPS, python_loop_ms

    speed = python_loop_ms()  # before the sockets open: the machine's speed, not the bench's load
    # A proctor watching, on the same daphne: its rows are read there once the students' frames are out.
    clients.send(0, {"cmd": "proctor", "exam_id": exam_id, "token": proctor_token})
    clients.read(0)
    per_client = max(1, args.in_flight // args.clients)
    opened = clients.all(
        [{"cmd": "open", "students": share, "in_flight": per_client} for share in split(students, args.clients)]
    )
    held = sum(r["held"] for r in opened)
    print(f"held {held} of {args.sockets}", file=sys.stderr)
    time.sleep(args.settle)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/proctor/exams/{exam_id}/time/",
        data=json.dumps({"unit": "minutes", "amount": 5, "reason": "bench"}).encode(),
        headers={"Authorization": f"Bearer {proctor_token}", "Content-Type": "application/json"},
        method="POST",
    )
    called = time.time()
    with urllib.request.urlopen(request, timeout=300) as response:
        changed = json.loads(response.read())["changed"]
    answered = time.time() - called
    end = called + args.lost_after
    while True:
        time.sleep(1.0)
        collected = clients.all([{"cmd": "collect"}] * args.clients)
        arrivals = [v - called for c in collected for v in c["extended"].values()]
        rows = [v - called for v in collected[0]["proctor_frames"]]
        if (len(arrivals) >= held and len(rows) >= changed) or time.time() > end:
            break
    missing = held - len(arrivals)
    p99 = percentile(arrivals, 99)
    load = os.getloadavg()
    met = p99 <= 1 and missing == 0 and held == args.sockets == changed == len(rows)
    return "\n".join(
        [
            f"Exam-wide extension on one daphne: {args.sockets} sockets, {args.clients} client processes, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Python speed: {LOOP_STEPS:,} loop steps in "
            f"{speed:.0f} ms (bench/machine.py).",
            "",
            "| sockets | held | attempts changed | REST call s | call -> `extended` frame p50 / p99 / max s | missing "
            "| proctor's `time_changed` rows: got, last s | client loop lag p99 / max ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.sockets} | {held} | {changed} | {answered:.2f} | {percentile(arrivals, 50):.2f} / {p99:.2f} / "
            f"{max(arrivals, default=float('nan')):.2f} | {missing} "
            f"| {len(rows)}, {max(rows, default=float('nan')):.2f} "
            f"| {max(c['lag']['p99_ms'] for c in collected)} / {max(c['lag']['max_ms'] for c in collected)} |",
            "",
            f"Target (p99 <= 1 s, 0 missing, every row at the proctor): {'met' if met else 'MISSED'}.",
        ]
    )


def report_hardclose(args, held: int, deadline: float, collected: list[dict], commit_ms: list) -> str:
    arrivals = [v - deadline for c in collected for v in c["timeouts"].values()]
    proctor = collected[0]["proctor_frames"]
    missing = held - len(arrivals)
    p99 = percentile(arrivals, 99)
    load = os.getloadavg()
    lines = [
        f"Hard close on one daphne: {args.sockets} sockets sharing one deadline, {args.clients} client processes, "
        f"load average {load[0]:.2f}.",
        "",
        "| sockets | held | deadline -> `timeout` frame p50 / p99 / max s | missing | proctor `attempt_timeout` frames "
        "| commit lateness p50 / p99 ms | client loop lag p99 / max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.sockets} | {held} | {percentile(arrivals, 50):.2f} / {p99:.2f} "
        f"/ {max(arrivals, default=float('nan')):.2f} "
        f"| {missing} | {len(proctor)} | {percentile(commit_ms, 50):.0f} / {percentile(commit_ms, 99):.0f} "
        f"| {max(c['lag']['p99_ms'] for c in collected)} / {max(c['lag']['max_ms'] for c in collected)} |",
        "",
        f"Target (p99 <= 1 s, 0 missing): {'met' if p99 <= 1 and missing == 0 and held == args.sockets else 'MISSED'}.",
    ]
    return "\n".join(lines)


def report_handshakes(args, results: list[dict], lags: list[dict]) -> str:
    handshakes = [h for r in results for h in r["handshakes"]]
    failed = sum(r["failed"] for r in results)
    errors = [e for r in results for e in r["errors"]][:3]
    admit_all = max(r["finished"] for r in results) - min(r["started"] for r in results)
    load = os.getloadavg()
    ok = failed == 0 and admit_all <= 10
    lines = [
        f"Handshake storm on one daphne: {args.sockets} at once, {args.in_flight} in flight over {args.clients} "
        f"client processes, {args.database_url.split('://')[0]}, load average {load[0]:.2f}.",
        "",
        "| handshakes | admitted | failed | time to admit all s | handshake p50 / p99 / max s "
        "| client loop lag p99 / max ms |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {args.sockets} | {len(handshakes)} | {failed} | {admit_all:.1f} | {percentile(handshakes, 50):.2f} / "
        f"{percentile(handshakes, 99):.2f} / {max(handshakes, default=float('nan')):.2f} "
        f"| {max(lag['p99_ms'] for lag in lags)} / {max(lag['max_ms'] for lag in lags)} |",
        "",
        f"Target (0 failed, all admitted within 10 s): {'met' if ok else 'MISSED'}."
        + (f" Errors: {errors}" if errors else ""),
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["hardclose", "handshakes", "extend", "client"])
    p.add_argument("--sockets", type=int, default=0, help="5000 (hardclose) or 2000 (handshakes)")
    p.add_argument("--in-flight", type=int, default=100, help="handshakes in flight, in all (100)")
    p.add_argument("--clients", type=int, default=2, help="load client processes (2)")
    p.add_argument("--lead", type=float, default=0, help="seconds from setting the deadline to it (10 + K/500)")
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument(
        "--listeners", type=int, default=2, help="expiry listeners for hardclose (2, as `make run` and compose)"
    )
    p.add_argument("--lost-after", type=float, default=60.0, help="a `timeout` frame later than this is missing")
    p.add_argument(
        "--database-url", default=os.environ.get("DRILLS_DATABASE_URL", "mysql://root@127.0.0.1:3306/drills_exam")
    )
    p.add_argument("--redis-port", type=int, default=int(os.environ.get("DRILLS_REDIS_PORT", 0)))
    p.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("BENCH_PORT_BASE", 0)),
        help="take the daphnes' ports from here up (a shared machine's port range); default: any free port",
    )
    p.add_argument("--role", default="controller", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.sockets = args.sockets or (5000 if args.mode in ("hardclose", "extend") else 2000)
    args.lead = args.lead or 10 + args.sockets / 500
    return args


def main() -> None:
    args = parse_args()
    if args.role == "client":
        asyncio.run(client_main(args.port))
        return
    print(run(args))


if __name__ == "__main__":
    main()
