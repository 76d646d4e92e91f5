"""The faults: what each drill breaks, when its deadlines fall, and when it counts as recovered.

Each fault is `async def fault(drill) -> float`: it starts at `drill.fault_at` (epoch seconds)
and returns the moment the fault is over (the clock for "seconds to correct presence").
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .clients import AnswerRecord, http


@dataclass(frozen=True)
class Spec:
    name: str
    label: str
    fault: Callable[..., Awaitable[float]]
    students: int  # default size
    due: float  # share (or count, when > 1) of students whose deadline falls in the drill
    window: tuple[float, float]  # deadlines spread over [fault_at + a, fault_at + b]
    answer_period: float = 4.0
    big: bool = False  # sized by --big-students


async def _sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()))


# --- the faults ---------------------------------------------------------------------------


async def db_load(drill) -> float:
    """Hundreds of REST requests at once (answers, remaining time, proctor lists) while sockets run."""
    args, servers = drill.args, drill.cluster.urls()
    gate = asyncio.Semaphore(args.rest_concurrency)

    async def rest_answer(student) -> None:
        qid, options = random.choice(student.questions)
        record = AnswerRecord(student.attempt_id, qid, random.choice(options), via="rest")
        student.answers.append(record)
        async with gate:
            for attempt in range(4):
                record.tries += 1
                record.last_sent = time.time()
                record.first_sent = record.first_sent or record.last_sent
                status, body = await http(
                    servers[(student.home + attempt) % len(servers)],
                    "POST",
                    "/api/exam/timer/submit-answer/",
                    student.token,
                    {"attempt_id": student.attempt_id, "question_id": qid, "selected_option": record.option},
                )
                record.resolved_at = time.time()
                if status == 200:
                    record.outcome, record.saved_at = "acked", body["saved_at"]
                    record.acked_option = body["selected_option"]
                    return
                if status not in (0, 429, 503):
                    record.outcome, record.code = "refused", body.get("error", {}).get("code", str(status))
                    return
                await asyncio.sleep(0.5)
            record.outcome, record.code = "refused", f"http {status}"

    async def get(server: str, path: str, token: str) -> None:
        async with gate:
            status, _ = await http(server, "GET", path, token)
            drill.rest_statuses[status] = drill.rest_statuses.get(status, 0) + 1

    live = [s for s in drill.students if s.deadline > time.time() + 60]
    jobs = []
    for s in live:
        if s.deadline - time.time() > 2:
            jobs.append(rest_answer(s))
        jobs.append(get(servers[s.home % len(servers)], f"/api/exam/timer/remaining/{s.attempt_id}/", s.token))
    for i in range(args.rest_proctor_requests):
        jobs.append(
            get(servers[i % len(servers)], f"/api/proctor/exams/{drill.exam_id}/attempts/", drill.proctor_token)
        )
    await asyncio.gather(*jobs)
    drill.notes.append(f"{len(jobs)} REST requests, {args.rest_concurrency} at once")
    return time.time()


async def sigterm_daphne(drill) -> float:
    """SIGTERM one daphne of two while answers are in flight; its students reconnect to the other."""
    drill.cluster.daphnes[0]["proc"].send_signal(signal.SIGTERM)
    return time.time()


async def kill_daphne(drill) -> float:
    """kill -9 one daphne of two. A quarter of its live students never come back: presence must say so."""
    n = len(drill.cluster.daphnes)
    victims = [s for s in drill.students if s.open and s.index % n == 0 and s.deadline > time.time() + 60]
    for s in victims[: len(victims) // 4]:
        s.leave_on_drop = True
    drill.cluster.daphnes[0]["proc"].kill()
    return time.time()


async def redis_restart(drill) -> float:
    """Redis stopped for 10 s, then started again EMPTY on the same port."""
    drill.cluster.redis.stop()
    await asyncio.sleep(drill.args.fault_seconds)
    await asyncio.to_thread(drill.cluster.redis.start)
    return time.time()


async def flushall(drill) -> float:
    """FLUSHALL mid-exam: every timer, deadline-index member, presence set and group is gone."""
    import redis

    client = redis.Redis(port=drill.cluster.redis.port)
    client.flushall()
    client.close()
    return time.time()


async def sigstop_redis(drill) -> float:
    """Redis frozen (SIGSTOP) for 10 s: connections hang instead of failing."""
    drill.cluster.redis.freeze()
    await asyncio.sleep(drill.args.fault_seconds)
    drill.cluster.redis.thaw()
    return time.time()


async def kill_listeners(drill) -> float:
    """kill -9 the listeners 3 s before a block of deadlines; restart them 10 s later."""
    targets = drill.cluster.listeners if drill.args.listener_kill == "all" else drill.cluster.listeners[:1]
    for proc in targets:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    await asyncio.sleep(drill.args.fault_seconds)
    drill.cluster.restart_listeners()
    return time.time()


async def cut_database(drill) -> float:
    """Every server process loses MariaDB for 10 s (the TCP proxy between them resets all)."""
    if drill.args.cut_mode == "blackhole":
        drill.cluster.proxy.freeze()
    else:
        drill.cluster.proxy.cut()
    await asyncio.sleep(drill.args.fault_seconds)
    drill.cluster.proxy.restore()
    return time.time()


async def hard_close(drill) -> float:
    """All attempts share one deadline: the fault is the deadline itself."""
    deadline = max(s.deadline for s in drill.students)
    await _sleep_until(deadline)
    return time.time()


async def reconnect_storm(drill) -> float:
    """Every socket drops at once (a network blip) and reconnects at once."""
    for s in drill.students:
        s.drop()
    return time.time()


SPECS = {
    spec.name: spec
    for spec in [
        Spec("db_load", "DB connections under load (REST burst)", db_load, 200, 0.5, (1, 6)),
        Spec("sigterm", "SIGTERM daphne during answers", sigterm_daphne, 200, 0.5, (1, 5), answer_period=1.0),
        Spec("kill9", "kill -9 one daphne of two", kill_daphne, 200, 0.5, (1, 5)),
        Spec("redis_restart", "Redis down 10 s, restarted empty", redis_restart, 200, 0.5, (1, 12)),
        Spec("flushall", "Redis FLUSHALL", flushall, 200, 0.5, (1, 5)),
        Spec("sigstop", "Redis SIGSTOP 10 s", sigstop_redis, 200, 0.5, (1, 12)),
        Spec("listener_kill", "listener kill -9 3 s before deadlines", kill_listeners, 250, 190, (3, 4)),
        Spec("db_cut", "database cut 10 s (TCP proxy)", cut_database, 200, 0.5, (1, 12)),
        Spec("hardclose", "hard close: one shared deadline", hard_close, 2000, 1.0, (5, 5), big=True),
        Spec("storm", "reconnect storm", reconnect_storm, 2000, 0.2, (2, 6), big=True),
    ]
}
