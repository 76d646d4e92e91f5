"""A throwaway redis-server of a test's own, to stop, hang (SIGSTOP) or empty; the shared one is never touched."""

import signal
import subprocess
import time

import pytest
import redis
from django.test import override_settings

from .processes import free_port


class PrivateRedis:
    """A redis-server on a free port, for killing, pausing and restarting empty on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        end = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def pause(self) -> None:
        """Hang it (SIGSTOP): connections still open, nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def private_redis():
    """Every Redis use of this process (timers, cache and throttling, channel layer) pointed at a private server."""
    from django.conf import settings

    server = PrivateRedis()
    server.start()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "hosts": [{"address": server.url}]}
    # The sync clients follow settings.REDIS_URL (exams/redis_clients.py): no reset needed.
    try:
        with override_settings(REDIS_URL=server.url, CACHES=caches, CHANNEL_LAYERS=layers):
            yield server
    finally:
        server.resume()
        server.kill()
