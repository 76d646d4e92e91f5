"""The fleet's processes: Redis HA (fleet/redis_ha.py), `daphnes` daphne processes behind HAProxy
(HTTP and WebSockets), `listeners` expiry listeners; every app process finds the Redis master
through the sentinels. The database is the caller's (a DATABASE_URL, migrated beforehand).

Ports: the load balancer on `port`, the rest from `base_port` up (FleetPorts).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .redis_ha import RedisHA, wait_for

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FleetPorts:
    """The load balancer's port, and the base of the others: Redis master base, replica base+1,
    sentinels base+2..base+4, daphne i on base+10+i, HAProxy's stats page on base+9."""

    port: int
    base: int

    @property
    def redis(self) -> int:
        return self.base

    @property
    def stats(self) -> int:
        return self.base + 9

    def daphne(self, index: int) -> int:
        return self.base + 10 + index


def haproxy_config(ports: FleetPorts, daphne_ports: list[int]) -> str:
    """HTTP and WebSockets to the daphnes, least connections first; a daphne that refuses a
    connection is skipped at once (redispatch), one failing /healthz twice leaves the rotation."""
    servers = "\n".join(
        f"    server web{i} 127.0.0.1:{port} check inter 1s fall 2 rise 2" for i, port in enumerate(daphne_ports)
    )
    # No global maxconn: HAProxy takes the most the open-files limit allows (two per connection).
    return f"""defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # An open WebSocket is a tunnel: it may stay quiet between ticks for this long.
    timeout tunnel 2h
    timeout http-keep-alive 10s
    option forwardfor
    # A connection refused by a dead daphne is retried on another at once.
    retries 3
    option redispatch 1

frontend web
    bind 127.0.0.1:{ports.port}
    default_backend daphnes

frontend stats
    bind 127.0.0.1:{ports.stats}
    stats enable
    stats uri /

backend daphnes
    balance leastconn
    # /healthz, not /readyz: Redis and the database are shared, so a failover would take every
    # daphne out at once, while they serve on through it (answers need only the database).
    option httpchk GET /healthz
    http-check expect status 200
    # Which daphne answered (tests and operators check the spread).
    http-response set-header X-Served-By %s
{servers}
"""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy")
    if not found:
        raise RuntimeError("haproxy is not installed: apt-get install -y haproxy (scripts/setup.sh cluster does)")
    return found


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGCONT)  # a stopped process can't act on SIGTERM
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Fleet:
    """Start with `start()`, stop with `stop()` (everything it started, and nothing else).

    Each process runs in a session of its own: a Ctrl-C in the terminal reaches only the
    launcher, which stops them in order (the daphnes drain while Redis still answers)."""

    def __init__(
        self,
        *,
        ports: FleetPorts,
        env: dict[str, str],
        daphnes: int = 2,
        listeners: int = 2,
        run_dir: Path | None = None,
    ) -> None:
        self.ports = ports
        self.base_env = env
        self.run_dir = run_dir or ROOT / ".run" / f"cluster-{ports.port}"
        self.redis = RedisHA(ports.redis, self.run_dir)
        self.n_daphnes, self.n_listeners = daphnes, listeners
        self.daphnes: list[subprocess.Popen | None] = [None] * daphnes
        self.listeners: list[subprocess.Popen | None] = [None] * listeners
        self.haproxy: subprocess.Popen | None = None
        self._logs: list = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.port}"

    def env(self) -> dict[str, str]:
        """What every app process gets: the sentinels, and one proxy in front (X-Forwarded-For)."""
        return {
            **self.base_env,
            "REDIS_SENTINELS": self.redis.sentinel_setting,
            "PYTHONUNBUFFERED": "1",
            "NUM_PROXIES": "1",
            "LISTENER_METRICS_PORT": "0",
        }

    def _log(self, name: str):
        log = open(self.run_dir / f"{name}.log", "a")
        self._logs.append(log)
        return log

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.redis.start()
            for i in range(self.n_daphnes):
                self.start_daphne(i)
            for i in range(self.n_listeners):
                self.start_listener(i)
            for i in range(self.n_daphnes):
                self.wait_ready(i)
            self._start_haproxy()
        except BaseException:
            self.stop()
            raise

    def start_daphne(self, index: int) -> None:
        port = self.ports.daphne(index)
        self.daphnes[index] = subprocess.Popen(
            [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log(f"daphne{index}"),
            stderr=subprocess.STDOUT,
            preexec_fn=_raise_fd_limit,
            start_new_session=True,
        )

    def wait_ready(self, index: int, timeout: float = 60) -> None:
        proc = self.daphnes[index]
        assert proc is not None

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"daphne {index} exited with {proc.returncode}; see {self.run_dir}")
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports.daphne(index)}/readyz", timeout=2) as reply:
                return reply.status == 200

        wait_for(ready, timeout, f"daphne {index} ready")

    def start_listener(self, index: int) -> None:
        self.listeners[index] = subprocess.Popen(
            [sys.executable, "manage.py", "run_timer_listener"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log(f"listener{index}"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _start_haproxy(self) -> None:
        config = self.run_dir / "haproxy.cfg"
        config.write_text(haproxy_config(self.ports, [self.ports.daphne(i) for i in range(self.n_daphnes)]))
        self.haproxy = subprocess.Popen(
            [haproxy_binary(), "-db", "-f", str(config)],
            stdout=self._log("haproxy"),
            stderr=subprocess.STDOUT,
            preexec_fn=_raise_fd_limit,
            start_new_session=True,
        )

        def through() -> bool:
            if self.haproxy is not None and self.haproxy.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.haproxy.returncode}; see {self.run_dir}/haproxy.log")
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as reply:
                return reply.status == 200

        wait_for(through, 20, "the load balancer")

    def kill_daphne(self, index: int) -> None:
        """SIGKILL one daphne (a crash: no close frames, no leaving presence)."""
        proc = self.daphnes[index]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def pids(self) -> dict[str, int]:
        procs = {f"daphne{i}": p for i, p in enumerate(self.daphnes)}
        procs.update({f"listener{i}": p for i, p in enumerate(self.listeners)})
        procs["haproxy"] = self.haproxy
        return {name: p.pid for name, p in procs.items() if p is not None and p.poll() is None}

    def stop(self) -> None:
        """Daphnes and listeners drain (SIGTERM, as in a deploy), then HAProxy, then Redis."""
        app = [p for p in (*self.daphnes, *self.listeners) if p is not None]
        for proc in app:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        deadline = time.monotonic() + 20
        for proc in app:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _stop(self.haproxy)
        self.redis.stop()
        for log in self._logs:
            log.close()
        self._logs.clear()
