"""One drill from start to end: fresh processes, sockets, deadlines, the fault, the measurements."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import data
from .clients import LoopLag, Proctor, Student, http
from .cluster import Cluster
from .faults import Spec

ON_TIME_SECONDS = 1.0
POLL_SECONDS = 0.05


class Drill:
    def __init__(self, spec: Spec, args, env: dict, users: list, proctor, prefix: str) -> None:
        self.spec, self.args, self.env = spec, args, env
        self.users, self.proctor, self.prefix = users, proctor, prefix
        self.db = ThreadPoolExecutor(1, thread_name_prefix="drill-db")
        self.students: list[Student] = []
        self.proctors: list[Proctor] = []
        self.notes: list[str] = []
        self.rest_statuses: dict[int, int] = {}
        self.seen_timeout: dict[int, float] = {}
        self.max_db_connections = 0
        self._stop = threading.Event()

    async def call(self, func, *args):
        """The ORM in the drill's one database thread (one connection, closed at the end)."""
        return await asyncio.get_running_loop().run_in_executor(self.db, func, *args)

    # --- the run ------------------------------------------------------------------------

    async def run(self) -> dict:
        args, spec = self.args, self.spec
        n = args.big_students if spec.big and args.big_students else (args.students or spec.students)
        n = min(n, len(self.users))
        due_count = int(spec.due) if spec.due > 1 else round(n * spec.due)
        due_count = min(due_count, n)
        self.cluster = Cluster(
            redis_port=args.redis_port,
            database_url=args.database_url,
            db_port=args.db_port,
            env=self.env,
            tag=f"drill-{spec.name}",
        )
        started = time.time()
        try:
            await asyncio.to_thread(self.cluster.start)
            return await self._run(n, due_count, started)
        finally:
            self._stop.set()
            for client in self.students + self.proctors:
                client.done.set()
            await asyncio.gather(*(c.stop() for c in self.students + self.proctors), return_exceptions=True)
            await asyncio.to_thread(self.cluster.stop)
            await self.call(_close_db)
            self.db.shutdown()

    async def _run(self, n: int, due_count: int, started: float) -> dict:
        args, spec = self.args, self.spec
        users = self.users[:n]
        self.exam_id, attempt_ids, questions = await self.call(data.create_exam, users, f"{self.prefix}{spec.name}")
        tokens = await self.call(lambda: [data.token_for(u) for u in users])
        self.proctor_token = await self.call(data.token_for, self.proctor)
        servers = self.cluster.urls()
        far = time.time() + 3 * 3600
        for i, (attempt_id, token) in enumerate(zip(attempt_ids, tokens, strict=False)):
            self.students.append(
                Student(
                    attempt_id,
                    token,
                    far,
                    i % len(servers),
                    list(servers),
                    questions,
                    answering=i < args.answering_max or i >= n - min(due_count, args.answering_max // 2),
                    answer_period=spec.answer_period,
                    in_time_margin=args.in_time_margin,
                )
            )
        lag = LoopLag()
        lag.start()
        tasks = [asyncio.create_task(_gated(s.run(), s)) for s in self.students]
        self.proctors = [Proctor(self.exam_id, self.proctor_token, list(servers), i) for i in range(len(servers))]
        tasks += [asyncio.create_task(p.run()) for p in self.proctors]
        sampler = threading.Thread(target=self._sample_connections, daemon=True)
        sampler.start()
        connect_started = time.time()
        await _wait(lambda: all(s.open for s in self.students), timeout=args.connect_timeout)
        connect_seconds = time.time() - connect_started
        opened = sum(s.open for s in self.students)

        # The due cohort is the last `due_count` students: deadlines spread over the fault's window.
        due = self.students[n - due_count :]
        live = self.students[: n - due_count]
        self.fault_at = time.time() + args.lead + n / 1000
        a, b = spec.window
        deadlines = {}
        for k, s in enumerate(due):
            s.deadline = self.fault_at + a + (b - a) * (k / max(1, len(due) - 1))
            deadlines[s.attempt_id] = s.deadline
        await self.call(data.set_deadlines, deadlines)
        poller = threading.Thread(target=self._poll_timeouts, args=(set(deadlines),), daemon=True)
        poller.start()
        await asyncio.sleep(max(0.0, self.fault_at - time.time()))

        recovered_at = await spec.fault(self)

        presence_task = asyncio.create_task(self._presence_seconds(live, recovered_at))
        last_deadline = max(deadlines.values(), default=time.time())
        await _wait(
            lambda: len(self.seen_timeout) >= len(deadlines),
            timeout=max(0.0, last_deadline + args.lost_after - time.time()),
        )
        # Sockets are told on commit; give stragglers a few seconds to hear it.
        await _wait(lambda: all(s.final or s.gone for s in due if s.attempt_id in self.seen_timeout), timeout=10)
        # The proctors hear of the ends after the students (exams/notifications.py): wait for them too,
        # or a count taken now misses what is merely still on its way.
        timed_out = len(self.seen_timeout)
        await _wait(
            lambda: max((p.frames.get("attempt_timeout", 0) for p in self.proctors), default=0) >= timed_out,
            timeout=10,
        )
        presence = await presence_task
        for s in self.students:
            s.stop_answering = True
        await _wait(lambda: all(s.pending is None for s in self.students if s.open), timeout=10)
        self._stop.set()
        client_lag = lag.stop()
        for task in tasks:
            task.cancel()
        db = await self.call(data.outcomes, self.exam_id)
        return self._row(n, due, deadlines, db, presence, client_lag, opened, connect_seconds, started)

    # --- measurements -----------------------------------------------------------------------

    def _poll_timeouts(self, ids: set[int]) -> None:
        """Each due attempt's first moment seen timed out in the database (a direct connection)."""
        from django.db import connection

        try:
            while not self._stop.is_set() and len(self.seen_timeout) < len(ids):
                now = time.time()
                for pk in data.timed_out_ids(self.exam_id):
                    if pk in ids and pk not in self.seen_timeout:
                        self.seen_timeout[pk] = now
                time.sleep(POLL_SECONDS)
        finally:
            connection.close()

    def _sample_connections(self) -> None:
        """The most database connections the server processes held at once (all pass the proxy)."""
        while not self._stop.is_set():
            self.max_db_connections = max(self.max_db_connections, self.cluster.proxy.open_connections)
            time.sleep(0.2)

    async def _presence_seconds(self, live: list[Student], since: float) -> float | None:
        """Seconds from the end of the fault until the proctor's REST view matches every live socket."""
        if not live:
            return None
        by_id = {s.attempt_id: s for s in live}
        end = since + self.args.presence_timeout
        while time.time() < end:
            before = {i: s.should_be_connected for i, s in by_id.items()}
            for server in self.cluster.alive_urls():
                status, body = await http(
                    server, "GET", f"/api/proctor/exams/{self.exam_id}/attempts/", self.proctor_token, timeout=10
                )
                if status == 200:
                    break
            else:
                await asyncio.sleep(0.5)
                continue
            after = {i: s.should_be_connected for i, s in by_id.items()}
            listed = body.get("attempts", []) if isinstance(body, dict) else []
            rows = {r["attempt_id"]: r for r in listed if isinstance(r, dict)}
            # A socket that changed during the request can't be judged by this poll.
            wrong = [i for i in by_id if before[i] == after[i] and rows.get(i, {}).get("connected") != after[i]]
            if not wrong and all(i in rows for i in by_id) and all(before[i] == after[i] for i in by_id):
                return max(0.0, time.time() - since)
            # What the last poll got wrong, for the JSON: (should be connected, shown connected).
            self.presence_wrong = {
                "wrong": len(wrong),
                "shown_connected_but_gone": sum(1 for i in wrong if not after[i]),
                "shown_disconnected_but_open": sum(1 for i in wrong if after[i]),
                "missing_rows": sum(1 for i in by_id if i not in rows),
            }
            await asyncio.sleep(0.5)
        return None

    def _row(self, n, due, deadlines, db, presence, client_lag, opened, connect_seconds, started) -> dict:
        answers = [a for s in self.students for a in s.answers if a.first_sent is not None]
        acked = [a for a in answers if a.outcome == "acked"]
        stored = [
            a
            for a in acked
            if (a.attempt_id, a.question_id, a.acked_option or a.option, a.saved_at) in db["answer_events"]
        ]
        refused = [a for a in answers if a.outcome != "acked"]
        late = {}
        for pk, deadline in deadlines.items():
            if pk in self.seen_timeout:
                late[pk] = self.seen_timeout[pk] - deadline
        on_time = sum(1 for v in late.values() if v <= ON_TIME_SECONDS)
        lost = sum(1 for pk, deadline in deadlines.items() if pk not in late or late[pk] > self.args.lost_after)
        final = sum(1 for s in due if s.final == "timeout")
        duplicates = sum(1 for events in db["timed_out"].values() if len(events) > 1)
        paths: dict[str, int] = {}
        for pk in deadlines:
            for _, path in db["timed_out"].get(pk, [])[:1]:
                paths[path] = paths.get(path, 0) + 1
        ordered = sorted(late.values())
        refusal_codes: dict[str, int] = {}
        by_student = {s.attempt_id: s for s in self.students}
        for a in refused:
            key = a.code or "no reply"
            # Resent only after the deadline (its socket was down until then), or refused though sent in time.
            key += " (last sent after the deadline)" if a.last_sent > by_student[a.attempt_id].deadline else ""
            refusal_codes[key] = refusal_codes.get(key, 0) + 1
        final_late = sorted(s.final_at - s.deadline for s in due if s.final_at)
        proctor_timeouts = max((p.frames.get("attempt_timeout", 0) for p in self.proctors), default=0)
        live_count = n - len(due)
        row = {
            "drill": self.spec.name,
            "label": self.spec.label,
            "students": n,
            "sockets_opened": opened,
            "connect_seconds": round(connect_seconds, 1),
            "answers_acknowledged": len(acked),
            "answers_stored": len(stored),
            "answers_refused_in_time": len(refused),
            "refusal_codes": refusal_codes,
            "answers_in_flight_at_fault": sum(
                1
                for a in answers
                if a.first_sent <= self.fault_at and (a.resolved_at is None or a.resolved_at > self.fault_at)
            ),
            "timeouts_due": len(deadlines),
            "timeouts_on_time": on_time,
            "timeouts_lost": lost,
            "timeouts_late": len(deadlines) - on_time - lost,
            "timeout_lateness_p50_s": round(ordered[len(ordered) // 2], 2) if ordered else None,
            "timeout_lateness_max_s": round(ordered[-1], 2) if ordered else None,
            "timeout_paths": paths,
            "duplicate_timeouts": duplicates,
            "final_state": final,
            "final_state_due": len(due),
            "final_frame_lateness_p99_s": round(final_late[int(0.99 * (len(final_late) - 1))], 2)
            if final_late
            else None,
            "final_frame_lateness_max_s": round(final_late[-1], 2) if final_late else None,
            "presence_seconds": None if presence is None else round(presence, 1),
            "presence_checked": live_count > 0,
            "max_db_connections": self.max_db_connections,
            "db_connection_bound": self.args.db_conn_bound,
            "proctor_timeout_frames": proctor_timeouts,
            "rest_statuses": self.rest_statuses,
            "client_loop_lag": client_lag,
            "notes": self.notes,
            "seconds": round(time.time() - started, 1),
            "drops": sum(s.drops for s in self.students),
            "presence_last_wrong": getattr(self, "presence_wrong", None),
        }
        row["lost"] = _losses(row)
        return row


def _losses(row: dict) -> list[str]:
    lost = []
    if row["answers_stored"] < row["answers_acknowledged"]:
        lost.append(f"{row['answers_acknowledged'] - row['answers_stored']} acknowledged answers not stored")
    if row["answers_refused_in_time"]:
        lost.append(f"{row['answers_refused_in_time']} answers refused though in time")
    if row["timeouts_lost"]:
        lost.append(f"{row['timeouts_lost']} timeouts lost")
    if row["final_state"] < row["final_state_due"]:
        lost.append(f"{row['final_state_due'] - row['final_state']} sockets without their final state")
    if row["presence_checked"] and row["presence_seconds"] is None:
        lost.append("presence never correct")
    if row["drill"] == "db_load" and row["max_db_connections"] > row["db_connection_bound"]:
        lost.append(f"{row['max_db_connections']} DB connections > bound {row['db_connection_bound']}")
    return lost


_connect_gate: asyncio.Semaphore | None = None


async def _gated(coro, student: Student):
    """Opening handshakes 100 at a time (a real school's arrivals are spread too); reconnects are not."""
    global _connect_gate
    if _connect_gate is None:
        _connect_gate = asyncio.Semaphore(100)
    async with _connect_gate:
        task = asyncio.create_task(coro)
        await _wait(lambda: student.open or task.done(), timeout=30)
    await task


async def _wait(condition, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= end:
            return False
        await asyncio.sleep(step)
    return True


def _close_db() -> None:
    from django.db import connection

    connection.close()
