"""A TCP proxy in front of a real service, for fault tests: cut it (the service is down) or freeze it.

It runs its own event loop in a thread, so a test can drive it from synchronous code while
real processes (a listener, daphne) talk through it.
"""

import asyncio
import threading

from tests.support.processes import free_port

CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port`.

    `cut()`: every connection is reset and new ones are refused (a database that went down).
    `freeze()`: connections stay open but no byte moves either way (a hung server, a dead link).
    `restore()` undoes either.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._connections: set[asyncio.Task] = set()

    # --- driven from the test's thread ---------------------------------------------------

    def start(self) -> "TcpProxy":
        self._thread.start()
        self._call(self._start())
        return self

    def cut(self) -> None:
        self._call(self._cut())

    def freeze(self) -> None:
        self._call(self._set_flowing(False))

    def restore(self) -> None:
        self._call(self._restore())

    @property
    def open_connections(self) -> int:
        """Connections passing through now (the drills count database connections here)."""
        return len(self._connections)

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, coro) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # --- on the proxy's loop -------------------------------------------------------------

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        # Each connection's task resets both its sockets as it ends, as when the server's host goes away.
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _set_flowing(self, flowing: bool) -> None:
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _restore(self) -> None:
        if self._server is None:
            await self._listen()
        self._flowing.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        server_writer = None
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        except (OSError, asyncio.CancelledError):
            pass  # cancelled by `cut()`: ending here is the point
        finally:
            client_writer.transport.abort()
            if server_writer is not None:
                server_writer.transport.abort()
            self._connections.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()
