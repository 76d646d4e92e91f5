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
