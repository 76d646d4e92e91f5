"""Every command a Redis server runs while a block runs, seen through MONITOR: to count what an
operation costs (tests/exams/test_redis_costs.py, the listener's reconcile) so that a regression fails.

MONITOR shows the commands of every client, so use it on a server of the test's own
(`private_redis`), where nothing else runs.
"""

import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field

import redis


def name(command: str) -> str:
    """The command's name: `SET exam:timer:1 ...` -> SET."""
    return command.split(" ", 1)[0].upper()


@dataclass
class CommandLog:
    """Commands seen: `calls` sent by clients (round trips), `scripted` run inside Lua scripts."""

    calls: list[str] = field(default_factory=list)
    scripted: list[str] = field(default_factory=list)

    def names(self) -> Counter:
        """How many of each command clients sent (EVALSHA counts once, whatever its script does)."""
        return Counter(name(c) for c in self.calls)


class MonitoredRedis:
    """`with MonitoredRedis(port) as log:` fills `log` with what the server ran inside the block.

    It starts after MONITOR has seen a first marker and ends at a second, so every command sent
    inside the block is in the log (a later event proves it, not a sleep). Commands the server
    runs on its own (expiry) are not commands and are not shown.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.log = CommandLog()
        self._marker = f"monitor-{secrets.token_hex(4)}"
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = redis.Redis(port=port)  # no read timeout: a block may be quiet for long

    def _watch(self) -> None:
        recording = False
        with self._client.monitor() as monitor:
            self._client.echo(f"{self._marker}-start")
            for seen in monitor.listen():
                command = seen["command"]
                if command == f"ECHO {self._marker}-start":
                    recording = True
                    self._started.set()
                elif command == f"ECHO {self._marker}-end":
                    return
                elif recording:
                    (self.log.scripted if seen.get("client_type") == "lua" else self.log.calls).append(command)

    def __enter__(self) -> CommandLog:
        self._thread = threading.Thread(target=self._watch, name="redis-monitor", daemon=True)
        self._thread.start()
        assert self._started.wait(10), "MONITOR did not start"
        return self.log

    def __exit__(self, *exc) -> None:
        self._client.echo(f"{self._marker}-end")
        assert self._thread is not None
        self._thread.join(10)
        self._client.close()
