"""A throwaway redis-server of a test's own, to kill, hang (SIGSTOP), restart empty or run with
odd options; the shared one is never touched. The `private_redis` fixture (tests/conftest.py)
starts one and points this process at it."""

import signal
import subprocess
import time

import redis

from .processes import free_port


class RedisServer:
    """A redis-server on a free port, without persistence; `args` are extra server options."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.args = args
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it (again, empty, on the same port after `kill`) and wait until it answers."""
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        end = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > end or self.proc.poll() is not None:
                        raise
                    time.sleep(0.02)  # polling for the server to accept connections
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def pause(self) -> None:
        """Hang it (SIGSTOP): connections still open, nothing answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """However the test left it (hung or dead): gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.kill()


class SentinelSet:
    """A master, one replica and one sentinel (quorum 1) watching them as the master set `name`:
    a failover of their own to provoke (hang or kill the master), the shared Redis untouched."""

    def __init__(self, name: str = "exams", *, down_after_ms: int = 1000) -> None:
        self.name = name
        self.master = RedisServer()
        self.replica = RedisServer("--replicaof", "127.0.0.1", str(self.master.port))
        self.port = free_port()
        self.down_after_ms = down_after_ms
        self.proc: subprocess.Popen | None = None

    def start(self, workdir) -> None:
        for server in (self.master, self.replica):  # a full sync writes an RDB file: not in the repository
            server.args = (*server.args, "--dir", str(workdir))
        self.master.start()
        self.replica.start()
        self._until(lambda: self.replica.client().info("replication")["master_link_status"] == "up")
        conf = workdir / f"sentinel-{self.port}.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.name} 5000\n"
        )
        self.proc = subprocess.Popen(
            ["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._until(lambda: self.sentinel().execute_command("SENTINEL", "REPLICAS", self.name))

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)

    def master_port(self) -> int:
        """The port of the master the sentinel names now."""
        _, port = self.sentinel().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        return int(port)

    @staticmethod
    def _until(ready, timeout: float = 15) -> None:
        end = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > end:
                raise TimeoutError("the sentinel set did not come up")
            time.sleep(0.05)  # polling for servers to start and find each other

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        self.replica.stop()
        self.master.stop()
