"""Many students' sockets, held by a thread with an event loop of its own.

For the dashboard's browser test and bench: Playwright's sync API owns the test thread's loop,
so the students live in another thread; `Crowd` methods block until their work is done there.
"""

import asyncio
import json
import threading
from collections import defaultdict

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidMessage

WAIT = 20


class Crowd:
    def __init__(self, base: str):
        self.base = base
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets: dict[int, ClientConnection] = {}
        self.frames: dict[int, list[str]] = defaultdict(list)  # attempt id -> frame types received

    def _run(self, coro, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def open(self, tokens: dict[int, str], at_once: int = 50) -> None:
        """A socket for each attempt (attempt id -> its student's access token), `at_once` handshakes at a time."""
        self._run(self._open(tokens, at_once))

    async def _open(self, tokens: dict[int, str], at_once: int) -> None:
        gate = asyncio.Semaphore(at_once)

        async def one(attempt_id: int, token: str) -> None:
            async with gate:
                uri = f"{self.base.replace('http://', 'ws://')}/ws/attempts/{attempt_id}/?token={token}"
                for retry in range(3):  # a reconnect right after a close may find the server mid-cleanup
                    try:
                        ws = await connect(uri, origin=self.base, open_timeout=WAIT)
                        break
                    except (OSError, EOFError, InvalidMessage):
                        if retry == 2:
                            raise
                        await asyncio.sleep(0.5)
                first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                assert first["type"] == "timer", first
                self.sockets[attempt_id] = ws
                self.loop.create_task(self._read(attempt_id, ws))

        await asyncio.gather(*(one(a, t) for a, t in tokens.items()))

    async def _read(self, attempt_id: int, ws: ClientConnection) -> None:
        try:
            async for text in ws:
                self.frames[attempt_id].append(json.loads(text)["type"])
        except Exception:  # closed by either side: the frames so far are what the test reads
            return

    def answer(self, attempt_ids: list[int], question_id: int, option: str) -> None:
        """Each of these students answers a question over their socket (no wait for the reply)."""

        async def send() -> None:
            message = {"type": "answer", "question_id": question_id, "selected_option": option}
            await asyncio.gather(*(self.sockets[a].send(json.dumps(message)) for a in attempt_ids))

        self._run(send())

    def close(self, attempt_ids: list[int]) -> None:
        """These students leave (their sockets close cleanly, at once)."""

        async def close() -> None:
            await asyncio.gather(*(self.sockets.pop(a).close() for a in attempt_ids))

        self._run(close())

    def stop(self) -> None:
        self.close(list(self.sockets))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
