"""Real server processes for tests that cross the network: daphne and the expiry listener."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(*, port: int | None = None) -> str:
    """A DATABASE_URL for the test database this process is using (MySQL: through 127.0.0.1:`port` if given)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user, password = db["USER"], db["PASSWORD"]
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = "127.0.0.1" if port else db["HOST"] or "127.0.0.1"
    return f"mysql://{auth}{host}:{port or db['PORT'] or 3306}/{db['NAME']}"


def database_address() -> tuple[str, int]:
    """Host and port of the MySQL server under the test database."""
    db = connection.settings_dict
    return db["HOST"] or "127.0.0.1", int(db["PORT"] or 3306)


def server_env(**overrides) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="project.test_settings",
        DATABASE_URL=database_url(),
        TEST_REDIS_URL=settings.REDIS_URL,
        LISTENER_METRICS_PORT="0",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


def stop(proc: subprocess.Popen, timeout: float = 10) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextmanager
def daphne_process(**env):
    """A real daphne serving project.asgi on a free port; yields its Popen, whose `base` is its http URL
    and `log_path` its log (a test may signal it and read its exit code itself)."""
    (ROOT / ".run").mkdir(exist_ok=True)
    port = free_port()
    log_path = ROOT / ".run" / f"daphne-{port}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
        cwd=ROOT,
        env=server_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.base, proc.log_path = f"http://127.0.0.1:{port}", log_path
    try:
        wait_for_port(port, proc)
        yield proc
    finally:
        stop(proc)
        log.close()


@contextmanager
def daphne(**env):
    """A real daphne serving project.asgi on a free port; yields its base http URL."""
    with daphne_process(**env) as proc:
        yield proc.base


@contextmanager
def listener(**env):
    """A real `manage.py run_timer_listener` process; yields the Popen (its log file is `proc.log_path`)."""
    (ROOT / ".run").mkdir(exist_ok=True)
    log_path = ROOT / ".run" / f"listener-{os.getpid()}-{time.monotonic_ns()}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_timer_listener"],
        cwd=ROOT,
        env=server_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log_path = log_path  # tests read what the listener logged
    try:
        yield proc
    finally:
        stop(proc)
        log.close()
