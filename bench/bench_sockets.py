"""Socket benchmark: K students on one daphne process, pushed a `timer` every second.

Run from the repository root: `python bench/bench_sockets.py [--steps 500,1000,2000,5000]`.

It creates its own data (K students with tokens and ongoing attempts, in its own SQLite file
unless --database-url is given) and its own Redis database (--redis-db, refused if not
empty), starts ONE daphne process and a load client in ANOTHER process (asyncio +
websockets), and for each step K measures:

- connections held at the end of the window, and the share of expected ticks delivered;
- tick lateness: second boundary (from the frame's `server_time`) to the frame's arrival
  at the client (`time.time()`, same machine), p50 and p99;
- server memory per connected student: (daphne RSS with K connected - RSS idle) / K;
- server CPU per 1,000 students: daphne's CPU seconds over a fixed window, normalised,
  for the sockets, and then for the original design (the same K students polling
  `GET /api/exam/timer/remaining/<id>/` every 10 s over keep-alive connections).

Socket steps are cumulative (the 1,000 step adds 500 to the 500 already connected); the
polling phases run after every socket is closed. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import secrets
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"held": 5000, "tick_p99_ms": 250, "kib_per_student": 100}


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (the `ulimit -n` a load needs)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# =====================================================================================
# The load client (its own process): `bench_sockets.py --role client --port N`.
# Reads one JSON command per line on stdin, answers with JSON lines on stdout.
# =====================================================================================


class LoadClient:
    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.sockets: list = []
        self.readers: list[asyncio.Task] = []
        self.recording: list | None = None

    @staticmethod
    def emit(payload: dict) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    # --- sockets -------------------------------------------------------------------
    async def _reader(self, index: int, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in ws:
                # Cheapest possible hot path: stamp it now, parse after the window.
                if self.recording is not None:
                    self.recording.append((time.time(), index, message))
        except ConnectionClosed:
            pass

    async def connect(self, students: list[list], concurrency: int) -> dict:
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(attempt_id: int, token: str) -> None:
            async with gate:
                try:
                    ws = await connect(
                        f"ws://127.0.0.1:{self.port}/ws/attempts/{attempt_id}/?token={token}",
                        origin=self.base,
                        open_timeout=120,
                        ping_interval=None,
                        compression=None,
                        close_timeout=5,
                    )
                    first = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if first.get("type") != "timer":
                        raise RuntimeError(f"first frame {first}")
                except Exception as exc:
                    failures.append(repr(exc))
                    return
                index = len(self.sockets)
                self.sockets.append(ws)
                self.readers.append(asyncio.create_task(self._reader(index, ws)))

        started = time.monotonic()
        await asyncio.gather(*(one(a, t) for a, t in students))
        return {
            "held": self.open_count(),
            "failed": len(failures),
            "errors": failures[:3],
            "seconds": round(time.monotonic() - started, 1),
        }

    def open_count(self) -> int:
        from websockets.protocol import State

        return sum(1 for ws in self.sockets if ws.state is State.OPEN)

    async def ticks(self, seconds: float) -> dict:
        self.recording = []
        self.emit({"event": "window_start"})
        await asyncio.sleep(seconds)
        self.emit({"event": "window_end"})
        frames, self.recording = self.recording, None
        lateness, per_socket, other, boundaries = [], [0] * len(self.sockets), 0, set()
        for arrived, index, text in frames:
            frame = json.loads(text)
            if frame.get("type") != "timer":
                other += 1
                continue
            server_time = datetime.fromisoformat(frame["server_time"]).timestamp()
            # A tick is made just after its boundary; tolerate a wake-up a hair early.
            boundary = math.floor(server_time + 0.05)
            boundaries.add(boundary)
            lateness.append((arrived - boundary) * 1000)
            per_socket[index] += 1
        held = self.open_count()
        return {
            "held": held,
            "frames": len(lateness),
            "other_frames": other,
            # Every open socket should have had every tick seen in the window.
            "expected": held * len(boundaries),
            "starved": sum(1 for n in per_socket if n < int(seconds) - 1),
            "p50_ms": percentile(lateness, 50),
            "p99_ms": percentile(lateness, 99),
            "max_ms": max(lateness, default=float("nan")),
        }

    async def close_all(self) -> dict:
        gate = asyncio.Semaphore(200)

        async def close(ws) -> None:
            async with gate:
                try:
                    await ws.close()
                except Exception:
                    pass

        await asyncio.gather(*(close(ws) for ws in self.sockets))
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        closed = len(self.sockets)
        self.sockets, self.readers = [], []
        return {"closed": closed}

    # --- the original design: REST polling ---------------------------------------------
    async def poll(self, students: list[list], period: float, warmup: float, seconds: float, pool_size: int) -> dict:
        """Each student GETs its remaining time every `period` s, evenly phased, over a keep-alive pool."""
        pool: asyncio.Queue = asyncio.Queue()
        # Opened up front: the window measures requests, not TCP handshakes.
        for _ in range(pool_size):
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
        latencies: list[float] = []
        errors: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        begin = loop.time() + 0.2
        window_start, stop = begin + warmup, begin + warmup + seconds
        counted = 0

        async def request(attempt_id: int, token: str) -> None:
            conn = await pool.get()
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", self.port)
                status = await _http_get(conn, f"/api/exam/timer/remaining/{attempt_id}/", token)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
            except Exception as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if conn is not None:
                    conn[1].close()
                conn = None
            finally:
                pool.put_nowait(conn)

        async def student(offset: float, attempt_id: int, token: str) -> None:
            nonlocal counted
            at = begin + offset
            while at < stop:
                await asyncio.sleep(max(0.0, at - loop.time()))
                sent = loop.time()
                await request(attempt_id, token)
                if window_start <= sent < stop:
                    latencies.append((loop.time() - sent) * 1000)
                    counted += 1
                at += period

        async def markers() -> None:
            await asyncio.sleep(window_start - loop.time())
            self.emit({"event": "window_start"})
            await asyncio.sleep(stop - loop.time())
            self.emit({"event": "window_end"})

        spacing = period / max(1, len(students))
        await asyncio.gather(markers(), *(student(i * spacing, a, t) for i, (a, t) in enumerate(students)))
        while not pool.empty():
            conn = pool.get_nowait()
            if conn is not None:
                conn[1].close()
        return {
            "requests": counted,
            "errors": errors,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
        }


async def _http_get(conn, path: str, token: str) -> int:
    """One GET on a keep-alive HTTP/1.1 connection; reads the whole body; returns the status."""
    reader, writer = conn
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: application/json\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    if headers.get("connection", "").lower() == "close":
        raise ConnectionResetError("server closed the keep-alive connection")
    return status


async def client_main(port: int) -> None:
    raise_fd_limit()
    client = LoadClient(port)
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        kind = command.pop("cmd")
        if kind == "quit":
            await client.close_all()
            break
        result = await getattr(client, kind)(**command)
        client.emit({"event": "done", **result})


# =====================================================================================
# The controller: data, the daphne process, the client process, the measurements.
# =====================================================================================


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.daphne: subprocess.Popen | None = None
        self.client: subprocess.Popen | None = None
        self.server = None  # psutil.Process
        self.rows: list[dict] = []
        self.owns_redis = False

    # --- environment and data --------------------------------------------------------
    def configure(self) -> None:
        args = self.args
        self.sqlite_file = None
        database_url = args.database_url
        if database_url is None:
            self.sqlite_file = ROOT / ".run" / "bench-sockets.sqlite3"
            self.sqlite_file.parent.mkdir(exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.sqlite_file}{suffix}").unlink(missing_ok=True)
            database_url = f"sqlite:///{self.sqlite_file}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}",
            "SECRET_KEY": "bench-" + secrets.token_hex(24),
            "DEBUG": "false",
            "JWT_ACCESS_MINUTES": "600",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        os.environ.update(self.env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def prepare_data(self) -> list[list]:
        from datetime import timedelta

        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from rest_framework_simplejwt.tokens import AccessToken

        from exams import clock
        from exams.models import Attempt, Exam, Question
        from exams.redis_clients import get_redis

        redis = get_redis()
        if redis.dbsize():
            raise SystemExit(f"Redis database {self.args.redis_db} is not empty; pick another with --redis-db.")
        self.owns_redis = True  # empty and ours: flushed at the end
        call_command("migrate", verbosity=0)
        count = max(self.args.steps)
        self.prefix = f"bench-{secrets.token_hex(3)}-"
        User = get_user_model()
        password = make_password(secrets.token_hex(8))
        User.objects.bulk_create(
            [User(username=f"{self.prefix}{i}", password=password) for i in range(count)], batch_size=1000
        )
        users = list(User.objects.filter(username__startswith=self.prefix).order_by("pk"))
        self.exam = Exam.objects.create(title="Socket benchmark", duration_seconds=4 * 3600, published=True)
        Question.objects.bulk_create(
            Question(exam=self.exam, order=i, text=f"Q{i}", options={"A": "a", "B": "b"}, correct_option="A")
            for i in range(3)
        )
        now = clock.now()
        # Bench data only: rows written directly, as if each student had started a moment ago.
        Attempt.objects.bulk_create(
            [
                Attempt(user=u, exam=self.exam, number=1, started_at=now, deadline_at=now + timedelta(hours=4))
                for u in users
            ],
            batch_size=1000,
        )
        attempts = dict(Attempt.objects.filter(exam=self.exam).values_list("user_id", "pk"))
        students = [[attempts[u.pk], str(AccessToken.for_user(u))] for u in users]
        random.Random(7).shuffle(students)
        return students

    def cleanup(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db import connection

        from exams.redis_clients import get_redis

        if self.owns_redis:
            try:
                get_redis().flushdb()
            except Exception as exc:
                print(f"could not flush Redis db {self.args.redis_db}: {exc}", file=sys.stderr)
        if self.sqlite_file is not None:
            connection.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.sqlite_file}{suffix}").unlink(missing_ok=True)
        elif getattr(self, "prefix", None):
            if getattr(self, "exam", None) is not None:
                self.exam.delete()
            get_user_model().objects.filter(username__startswith=self.prefix).delete()

    # --- processes ----------------------------------------------------------------------
    def start(self) -> None:
        import psutil

        from tests.support.processes import free_port, wait_for_port

        args = self.args
        ports = [args.base_port + 1 + i if args.base_port else free_port() for i in range(args.daphnes)]
        self.daphnes: list[subprocess.Popen] = []
        self.logs = []
        for port in ports:
            log = open(ROOT / ".run" / f"bench-daphne-{port}.log", "w")
            self.logs.append(log)
            proc = subprocess.Popen(
                [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_fd_limit,
            )
            wait_for_port(port, proc, timeout=60)
            self.daphnes.append(proc)
        self.daphne = self.daphnes[0]
        self.port = ports[0]  # /metrics of the first daphne (its ticker is one of several)
        self.servers = [psutil.Process(p.pid) for p in self.daphnes]
        self.server = self.servers[0]
        self.haproxy: subprocess.Popen | None = None
        client_port = self.port
        if args.daphnes > 1:
            # A real load balancer in front, as in production (Debian's HAProxy): least connections,
            # WebSocket tunnels kept open, no sticky sessions. Each connection takes two descriptors:
            # 9,000 fits the 20,000 open files this machine allows a process.
            client_port = args.base_port if args.base_port else free_port()
            config = ROOT / ".run" / f"bench-haproxy-{client_port}.cfg"
            servers = "\n".join(f"  server web{i + 1} 127.0.0.1:{p} maxconn 9000" for i, p in enumerate(ports))
            config.write_text(
                "global\n  maxconn 9000\n"
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n"
                "  timeout tunnel 1h\n  maxconn 9000\n"
                f"frontend fe\n  bind 127.0.0.1:{client_port}\n  default_backend be\n"
                f"backend be\n  balance leastconn\n{servers}\n"
            )
            self.haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(config)],
                cwd=ROOT,
                stdout=self.logs[0],
                stderr=subprocess.STDOUT,
                preexec_fn=raise_fd_limit,
            )
            wait_for_port(client_port, self.haproxy, timeout=30)
            self.servers.append(psutil.Process(self.haproxy.pid))
        self.client = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--role", "client", "--port", str(client_port)],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=raise_fd_limit,
        )
        self.load_client = psutil.Process(self.client.pid)

    def stop(self) -> None:
        from tests.support.processes import stop

        if self.client is not None and self.client.poll() is None:
            try:
                self.client.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.client.stdin.flush()
                self.client.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.client.kill()
        if getattr(self, "haproxy", None) is not None:
            stop(self.haproxy, timeout=10)
        for proc in getattr(self, "daphnes", []):
            stop(proc, timeout=30)
        for log in getattr(self, "logs", []):
            log.close()

    def command(self, cmd: str, on_event=None, **fields) -> dict:
        """Send a command to the client; call `on_event` for its window markers; return its result."""
        self.client.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.client.stdin.flush()
        while True:
            line = self.client.stdout.readline()
            if not line:
                raise RuntimeError(f"the load client exited ({self.client.poll()})")
            message = json.loads(line)
            if message["event"] == "done":
                return message
            if on_event is not None:
                on_event(message["event"])

    # --- measurements -------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        """Of every server process: the daphnes (and the load balancer in front of them)."""
        return sum(t.user + t.system for t in (p.cpu_times() for p in self.servers))

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.servers)

    def measured(self, cmd: str, profile: str | None = None, **fields) -> tuple[dict, float, float]:
        """Run a windowed client command; daphne's CPU seconds and wall time between the markers.

        Also stores the client's CPU share in `result["client_cpu"]` (is the client the bottleneck?).
        """
        marks: dict[str, tuple[float, float, float]] = {}
        scrapes: dict[str, dict] = {}
        spy = None

        def on_event(event: str) -> None:
            nonlocal spy
            marks[event] = (self.cpu_seconds(), time.monotonic(), sum(self.load_client.cpu_times()[:2]))
            if cmd == "ticks":
                scrapes[event] = self.tick_histogram()
            if event == "window_start" and profile and self.args.profile:
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "-d",
                        str(int(fields["seconds"])),
                        "-r",
                        "200",
                        "-o",
                        str(ROOT / ".run" / f"{profile}.txt"),
                        "-p",
                        str(self.daphne.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )

        result = self.command(cmd, on_event=on_event, **fields)
        if spy is not None:
            spy.wait(60)
        (cpu0, t0, c0), (cpu1, t1, c1) = marks["window_start"], marks["window_end"]
        result["client_cpu"] = (c1 - c0) / (t1 - t0)
        if scrapes:
            before, after = scrapes["window_start"], scrapes["window_end"]
            result["server_p50_ms"] = self.bucket_quantile(before, after, 0.5) * 1000
            result["server_p99_ms"] = self.bucket_quantile(before, after, 0.99) * 1000
        return result, cpu1 - cpu0, t1 - t0

    def tick_histogram(self) -> dict[float, float]:
        """Cumulative bucket counts of daphne's `exam_tick_duration_seconds` (from its /metrics)."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=60) as resp:
            text = resp.read().decode()
        buckets = {}
        for line in text.splitlines():
            if line.startswith("exam_tick_duration_seconds_bucket"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                buckets[float(le)] = float(line.rsplit(" ", 1)[1])
        return buckets

    @staticmethod
    def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
        """The upper bound of the bucket holding quantile q of the ticks between two scrapes."""
        delta = {le: after.get(le, 0) - before.get(le, 0) for le in after}
        total = delta.get(math.inf, 0)
        if not total:
            return float("nan")
        for le in sorted(delta):
            if delta[le] >= q * total:
                return le
        return math.inf

    def presence_count(self) -> int:
        from exams.presence import PRESENCE_PREFIX
        from exams.redis_clients import get_redis

        return sum(1 for _ in get_redis().scan_iter(f"{PRESENCE_PREFIX}*", count=1000))

    def wait_presence(self, expected: int, timeout: float) -> None:
        """Wait until the server has finished its connect/disconnect work (presence in Redis)."""
        end = time.monotonic() + timeout
        while self.presence_count() != expected and time.monotonic() < end:
            time.sleep(0.5)

    def warm_up(self, students: list[list]) -> None:
        """One socket and one poll, so lazily imported code counts in the idle baseline."""
        self.command("connect", students=students[:1], concurrency=1)
        self.command("close_all")
        self.command("poll", students=students[:1], period=0.5, warmup=0, seconds=1, pool_size=1)
        self.wait_presence(0, 30)
        time.sleep(2)

    def run(self) -> None:
        args = self.args
        students = self.prepare_data()
        self.start()
        self.warm_up(students)
        idle_rss = self.rss()
        idle_cpu0, idle_t0 = self.cpu_seconds(), time.monotonic()
        time.sleep(min(5.0, args.window))
        idle_cpu = (self.cpu_seconds() - idle_cpu0) / (time.monotonic() - idle_t0)
        print(
            f"daphne pid {self.daphne.pid} idle: RSS {idle_rss / 2**20:.1f} MiB, CPU {idle_cpu * 100:.1f}% of a core",
            file=sys.stderr,
        )

        held = 0
        for k in args.steps:
            joined = self.command("connect", students=students[held:k], concurrency=args.concurrency)
            held = k
            self.wait_presence(joined["held"], 120)
            time.sleep(args.settle)
            rss = self.rss()
            ticks, cpu, wall = self.measured("ticks", profile=f"bench-sockets-profile-{k}", seconds=args.window)
            row = {
                "students": k,
                "connect_s": joined["seconds"],
                "failed": joined["failed"],
                "held": ticks["held"],
                "delivered": ticks["frames"] / ticks["expected"] if ticks["expected"] else 0.0,
                "starved": ticks["starved"],
                "p50_ms": ticks["p50_ms"],
                "p99_ms": ticks["p99_ms"],
                "max_ms": ticks["max_ms"],
                "kib_per_student": (rss - idle_rss) / 1024 / k,
                "push_cpu": cpu / wall / k * 1000,
                "push_cpu_total": cpu / wall,
                "rss_mib": rss / 2**20,
                "client_cpu": ticks["client_cpu"],
                "server_p50_ms": ticks["server_p50_ms"],
                "server_p99_ms": ticks["server_p99_ms"],
            }
            if joined["errors"]:
                print(f"connect errors at {k}: {joined['errors']}", file=sys.stderr)
            print(f"sockets {k}: {json.dumps(ticks)}", file=sys.stderr)
            self.rows.append(row)

        self.command("close_all")
        self.wait_presence(0, 180)
        time.sleep(args.settle)
        for row in self.rows if not args.no_poll else []:
            k = row["students"]
            polled, cpu, wall = self.measured(
                "poll",
                students=students[:k],
                period=args.poll_period,
                warmup=args.poll_warmup,
                seconds=args.window,
                pool_size=args.pool_size,
            )
            row.update(
                poll_cpu=cpu / wall / k * 1000,
                poll_cpu_total=cpu / wall,
                poll_p50_ms=polled["p50_ms"],
                poll_p99_ms=polled["p99_ms"],
                poll_errors=polled["errors"],
                poll_served=polled["requests"] / (k * args.window / args.poll_period),
            )
            print(f"polling {k}: {json.dumps(polled)}", file=sys.stderr)
            time.sleep(1)

    def report(self) -> str:
        args = self.args
        servers = "One daphne process" if args.daphnes == 1 else f"{args.daphnes} daphne processes behind HAProxy"
        load = os.getloadavg()
        nan = float("nan")
        lines = [
            f"{servers}; {os.cpu_count()} CPUs; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
            f"{load[2]:.2f}; {args.window:g} s windows; tick {self.tick_seconds():g} s; polling every "
            f"{args.poll_period:g} s over {args.pool_size} keep-alive connections. Lateness: second boundary to "
            "frame received by the client; server tick: boundary to the tick's last frame handed to daphne "
            "(upper bound of its /metrics histogram bucket). CPU: daphne's user+system seconds per second, "
            "per 1,000 students (100% = one core).",
            "",
            "| students | held | ticks delivered | lateness p50 / p99 ms | server tick p50 / p99 ms "
            "| server KiB / student | push CPU / 1k | poll CPU / 1k | push / poll | daphne CPU push / poll "
            "| polls served, p50 / p99 ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.rows:
            poll_cpu = r.get("poll_cpu", nan)
            # Past one core the polls queue up: CPU per student no longer measures their cost.
            saturated = r.get("poll_served", 1) < 0.99 or r.get("poll_cpu_total", 0) >= 0.95
            lines.append(
                f"| {r['students']} | {r['held']} | {r['delivered'] * 100:.1f}% "
                f"| {r['p50_ms']:.0f} / {r['p99_ms']:.0f} "
                f"| {r['server_p50_ms']:.0f} / {r['server_p99_ms']:.0f} | {r['kib_per_student']:.1f} "
                f"| {r['push_cpu'] * 100:.1f}% | {poll_cpu * 100:.1f}%{' (saturated)' if saturated else ''} "
                f"| {r['push_cpu'] / poll_cpu if poll_cpu else nan:.2f}{' or less' if saturated else ''} "
                f"| {r['push_cpu_total'] * 100:.0f}% / {r.get('poll_cpu_total', nan) * 100:.0f}% "
                f"| {r.get('poll_served', nan) * 100:.0f}%, {r.get('poll_p50_ms', nan):.0f} / "
                f"{r.get('poll_p99_ms', nan):.0f} |"
            )
        top = self.rows[-1]
        held_target = min(TARGETS["held"], top["students"])
        checks = [
            f"held {top['held']} of {top['students']} (target {held_target}): "
            f"{'met' if top['held'] >= held_target else 'MISSED'}",
            f"tick lateness p99 {top['p99_ms']:.0f} ms (target <= {TARGETS['tick_p99_ms']}): "
            f"{'met' if top['p99_ms'] <= TARGETS['tick_p99_ms'] else 'MISSED'}",
            f"at most {max(r['kib_per_student'] for r in self.rows):.1f} KiB per student (target <= "
            f"{TARGETS['kib_per_student']}): "
            f"{'met' if all(r['kib_per_student'] <= TARGETS['kib_per_student'] for r in self.rows) else 'MISSED'}",
        ]
        if "poll_cpu" in top:
            cheaper = all(r["push_cpu"] <= r["poll_cpu"] for r in self.rows)
            checks.append(
                f"push every second <= poll every {args.poll_period:g} s in CPU: "
                f"{'met' if cheaper else 'MISSED'} at every step"
            )
        return "\n".join([*lines, "", f"Targets at {top['students']} students: " + "; ".join(checks) + "."])

    @staticmethod
    def tick_seconds() -> float:
        from django.conf import settings

        return settings.EXAM["TICK_SECONDS"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps",
        default="500,1000,2000,5000",
        type=lambda s: sorted(int(x) for x in s.split(",")),
        help="students per step, comma-separated",
    )
    parser.add_argument("--window", type=float, default=10.0, help="measurement window, seconds")
    parser.add_argument("--settle", type=float, default=3.0, help="pause after connecting, seconds")
    parser.add_argument("--poll-period", type=float, default=10.0, help="the original design's polling interval")
    parser.add_argument("--poll-warmup", type=float, default=3.0, help="polling before the window opens, seconds")
    parser.add_argument("--pool-size", type=int, default=50, help="keep-alive connections the pollers share")
    parser.add_argument("--concurrency", type=int, default=100, help="socket handshakes in flight")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file of its own under .run/")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=9, help="a Redis database of its own (must be empty)")
    parser.add_argument("--no-poll", action="store_true", help="skip the polling comparison")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy (pip install py-spy) the server in each socket window into .run/"
    )
    parser.add_argument(
        "--daphnes",
        type=int,
        default=1,
        help="daphne processes; 2 or more are behind HAProxy (leastconn), as in production",
    )
    parser.add_argument(
        "--base-port", type=int, default=0, help="HAProxy on this port, daphne i on base+i (default: free ports)"
    )
    parser.add_argument("--role", choices=["controller", "client"], default="controller", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.role == "client":
        asyncio.run(client_main(args.port))
        return
    raise_fd_limit()
    bench = Bench(args)
    bench.configure()
    try:
        bench.run()
    finally:
        bench.stop()
        bench.cleanup()
    print(bench.report())


if __name__ == "__main__":
    main()
