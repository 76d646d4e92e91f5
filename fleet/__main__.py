"""`make cluster`: the fleet on this machine until Ctrl-C (or `make cluster-down`).

Environment (defaults): CLUSTER_PORT=8080 (the load balancer), CLUSTER_BASE_PORT=18000 (Redis
master, replica, sentinels, daphnes: fleet/launcher.py FleetPorts), CLUSTER_DAPHNES=2,
CLUSTER_LISTENERS=2, CLUSTER_DATABASE_URL=mysql://root@127.0.0.1:3306/cluster_exam (created,
migrated and seeded with the demo here), SECRET_KEY (else .run/secret_key, made once).
"""

import os
import secrets
import signal
import subprocess
import sys
import threading

import environ

from .launcher import ROOT, Fleet, FleetPorts

PID_FILE = ROOT / ".run" / "cluster.pid"


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = ROOT / ".run" / "secret_key"
    if not path.exists() or not path.read_text().strip():
        path.write_text(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()


def _create_database(url: str) -> None:
    config = environ.Env.db_url_config(url)
    if "mysql" not in config["ENGINE"]:
        return
    import MySQLdb

    conn = MySQLdb.connect(
        host=config["HOST"] or "127.0.0.1",
        port=int(config["PORT"] or 3306),
        user=config["USER"],
        passwd=config["PASSWORD"] or "",
    )
    try:
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{config['NAME']}` CHARACTER SET utf8mb4")
    finally:
        conn.close()


def main() -> None:
    (ROOT / ".run").mkdir(exist_ok=True)
    ports = FleetPorts(
        port=int(os.environ.get("CLUSTER_PORT", 8080)), base=int(os.environ.get("CLUSTER_BASE_PORT", 18000))
    )
    database_url = os.environ.get("CLUSTER_DATABASE_URL", "mysql://root@127.0.0.1:3306/cluster_exam")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": _secret_key(),
    }
    _create_database(database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    demo = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    fleet = Fleet(
        ports=ports,
        env=env,
        daphnes=int(os.environ.get("CLUSTER_DAPHNES", 2)),
        listeners=int(os.environ.get("CLUSTER_LISTENERS", 2)),
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"starting the fleet (logs in {fleet.run_dir})", flush=True)
    fleet.start()
    PID_FILE.write_text(f"{os.getpid()}\n")
    try:
        seeded = "\n".join("  " + line for line in demo.stdout.splitlines()[:-1])  # its last line: the exam id
        print(
            f"""
  The fleet, through HAProxy:  {fleet.url}/   (proctor page: {fleet.url}/proctor/)
  {fleet.n_daphnes} daphnes on {", ".join(str(ports.daphne(i)) for i in range(fleet.n_daphnes))}; \
{fleet.n_listeners} listeners; HAProxy stats on http://127.0.0.1:{ports.stats}/
  Redis master {ports.redis}, replica {ports.redis + 1}, sentinels {fleet.redis.sentinel_setting}
  Database {database_url}
{seeded}
  Ctrl-C (or `make cluster-down`) stops it all.
""",
            flush=True,
        )
        stop.wait()
    finally:
        print("stopping the fleet", flush=True)
        fleet.stop()
        PID_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
