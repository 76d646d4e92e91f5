"""`make drills`: break a running exam on purpose, with real processes, and count what was lost.

    python -m bench.drills [--drills flushall,sigstop] [--students 200] [--big-students 2000]

Each drill starts its own private Redis, a TCP proxy in front of MariaDB, two daphne
processes and two listeners; students (and two proctors) on real sockets answer and wait for
their deadlines while the drill breaks one thing; then it counts, from the client frames and
the database, what was acknowledged and stored, which deadlines were kept, which sockets
heard their end, and how long proctors saw wrong presence. One Markdown table at the end,
all figures in JSON (--json). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    from .faults import SPECS

    p = argparse.ArgumentParser(prog="python -m bench.drills", description=__doc__.split("\n\n")[0])
    p.add_argument("--drills", default="all", help=f"comma-separated, of: {','.join(SPECS)} (all)")
    p.add_argument("--students", type=int, default=0, help="students per drill (0: each drill's default, 200-250)")
    p.add_argument("--big-students", type=int, default=0, help="students of hardclose and storm (0: 2000)")
    p.add_argument("--answering-max", type=int, default=200, help="at most this many students answer")
    p.add_argument(
        "--database-url", default=os.environ.get("DRILLS_DATABASE_URL", "mysql://root@127.0.0.1:3306/drills_exam")
    )
    p.add_argument(
        "--redis-port",
        type=int,
        default=int(os.environ.get("DRILLS_REDIS_PORT", 0)),
        help="port of the drills' own redis-server (0: a free one); never a shared Redis",
    )
    p.add_argument("--fault-seconds", type=float, default=10.0, help="how long an outage lasts (10)")
    p.add_argument("--lead", type=float, default=4.0, help="seconds from setting deadlines to the fault (4)")
    p.add_argument("--lost-after", type=float, default=60.0, help="a timeout later than this is lost (60)")
    p.add_argument("--presence-timeout", type=float, default=30.0, help="give up on presence after (30)")
    p.add_argument("--connect-timeout", type=float, default=180.0)
    p.add_argument(
        "--in-time-margin",
        type=float,
        default=1.0,
        help="students send answers only until this long before their deadline (1)",
    )
    p.add_argument("--rest-concurrency", type=int, default=200, help="db_load: REST requests at once (200)")
    p.add_argument("--rest-proctor-requests", type=int, default=40, help="db_load: proctor list requests (40)")
    # README, "Database connections": 2 daphnes x (HTTP_CONCURRENCY 24 + DB_POOL_SIZE 16) + 2 listeners x 5.
    p.add_argument(
        "--db-conn-bound",
        type=int,
        default=int(os.environ.get("DRILLS_DB_CONN_BOUND", 90)),
        help="db_load: most DB connections the 4 server processes may hold (90)",
    )
    p.add_argument("--listener-kill", choices=["all", "one"], default="all")
    p.add_argument("--cut-mode", choices=["reset", "blackhole"], default="reset")
    p.add_argument("--json", default=str(ROOT / ".run" / "drills.json"))
    args = p.parse_args()
    names = list(SPECS) if args.drills == "all" else [n.strip() for n in args.drills.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        p.error(f"unknown drills {unknown}; pick from {list(SPECS)}")
    args.names = names
    url = urlsplit(args.database_url)
    args.db_port = url.port or 3306
    return args


def configure(args) -> dict:
    """The environment of this process and of every server it starts; then Django."""
    from .cluster import free_port, raise_fd_limit

    raise_fd_limit()
    if not args.redis_port:
        args.redis_port = free_port()
    if args.redis_port == 6379:
        sys.exit("--redis-port 6379 is the shared Redis: the drills stop and flush theirs; pick another")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:{args.redis_port}/0",
        "SECRET_KEY": "drills-" + secrets.token_hex(24),
        "DEBUG": "false",
        "JWT_ACCESS_MINUTES": "600",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return env


def table(rows: list[dict]) -> str:
    lines = [
        "| drill | students | answers acknowledged / stored / refused though in time "
        "| timeouts due / on time (<= 1 s) / lost | sockets with final state | seconds to correct presence "
        "| nothing lost |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['label']} | | | | | | drill failed: {r['error']} |")
            continue
        presence = (
            "n/a"
            if not r["presence_checked"]
            else f"{r['presence_seconds']:.1f}"
            if r["presence_seconds"] is not None
            else "never (> 30)"
        )
        lines.append(
            f"| {r['label']} | {r['students']} | {r['answers_acknowledged']} / {r['answers_stored']} / "
            f"{r['answers_refused_in_time']} | {r['timeouts_due']} / {r['timeouts_on_time']} / {r['timeouts_lost']} "
            f"| {r['final_state']} / {r['final_state_due']} | {presence} "
            f"| {verdict(r)} |"
        )
    return "\n".join(lines)


def verdict(r: dict) -> str:
    late = f" ({r['timeouts_late']} timeouts late)" if r.get("timeouts_late") else ""
    return ("yes" + late) if not r["lost"] else "NO: " + "; ".join(r["lost"]) + late


def details(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if "error" in r:
            continue
        out.append(
            f"- {r['drill']}: lateness p50 {r['timeout_lateness_p50_s']} s, max {r['timeout_lateness_max_s']} s; "
            f"paths {r['timeout_paths']}; refusals {r['refusal_codes']}; max DB connections "
            f"{r['max_db_connections']} (bound {r['db_connection_bound']}); proctor attempt_timeout frames "
            f"{r['proctor_timeout_frames']}; answers in flight at the fault {r['answers_in_flight_at_fault']}; "
            f"socket drops {r['drops']}; client loop lag {r['client_loop_lag']}; "
            f"{r['seconds']} s" + (f"; {'; '.join(r['notes'])}" if r["notes"] else "")
        )
    return "\n".join(out)


async def main_async(args, env: dict) -> list[dict]:
    from . import data
    from .faults import SPECS
    from .run import Drill

    prefix = f"drill-{secrets.token_hex(3)}-"
    sizes = [
        args.big_students or SPECS[n].students if SPECS[n].big else args.students or SPECS[n].students
        for n in args.names
    ]
    users, proctor = await asyncio.to_thread(_in_thread, data.create_users, max(sizes), prefix)
    rows = []
    try:
        for name in args.names:
            spec = SPECS[name]
            print(f"[drills] {name}: {spec.label} ...", file=sys.stderr, flush=True)
            try:
                row = await Drill(spec, args, env, users, proctor, prefix).run()
            except Exception as exc:
                import traceback

                traceback.print_exc()
                row = {"drill": name, "label": spec.label, "error": repr(exc)}
            rows.append(row)
            print(f"[drills] {name}: {json.dumps(row, default=str)}", file=sys.stderr, flush=True)
    finally:
        await asyncio.to_thread(_in_thread, data.cleanup, prefix)
    return rows


def _in_thread(func, *args):
    from django.db import connection

    try:
        return func(*args)
    finally:
        connection.close()


def main() -> None:
    args = parse_args()
    env = configure(args)
    started = time.time()
    rows = asyncio.run(main_async(args, env))
    load = os.getloadavg()
    header = (
        f"Drills on {os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, "
        f"{time.time() - started:.0f} s in all."
    )
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": rows, "args": dict(vars(args).items())}, indent=2, default=str))
    print("\n" + header + "\n\n" + table(rows) + "\n\n" + details(rows) + f"\n\nJSON: {args.json}")


if __name__ == "__main__":
    main()
