"""A local TCP proxy that a test or drill can cut and restore: a database or Redis outage on demand.

    proxy = TcpProxy()
    port = proxy.start(listen_port=0, target_port=3306)   # 0 picks a free port
    proxy.cut()        # resets every open connection; new ones are accepted and closed at once
    proxy.cut(mode="blackhole")  # or: connections stay open but nothing passes either way
    proxy.restore()    # forwards again (connections dropped by a reset cut stay dropped)
    proxy.stop()

It runs its own event loop in a daemon thread, so its methods are plain calls from sync or
async code alike.
"""

from __future__ import annotations

import asyncio
import socket
import threading


class TcpProxy:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port: int | None = None
        self.port: int | None = None
        self.mode: str | None = None  # None: forwarding; "reset" or "blackhole": cut
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.accepted = 0

    # --- the public API (thread-safe) ---------------------------------------------------

    def start(self, listen_port: int = 0, target_port: int = 3306) -> int:
        """Listen on `listen_port` (0: a free one), forward to `target_port`; returns the port."""
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(listen_port, ready), daemon=True, name="tcp-proxy")
        self._thread.start()
        if not ready.wait(10) or self.port is None:
            raise RuntimeError("the TCP proxy did not start")
        return self.port

    def cut(self, mode: str = "reset") -> None:
        """Break the path: `reset` drops every connection now and each new one at once;
        `blackhole` keeps connections open but passes nothing (a hung network)."""
        if mode not in ("reset", "blackhole"):
            raise ValueError(mode)
        self._call(self._cut, mode)

    def restore(self) -> None:
        self._call(self._restore)

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    # --- inside the proxy's loop --------------------------------------------------------

    def _call(self, func, *args) -> None:
        async def run():
            func(*args)

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def _run(self, listen_port: int, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, listen_port))
        self.port = sock.getsockname()[1]
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, sock=sock, backlog=1024))
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "reset":
            _abort(client_writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            _abort(client_writer)
            return
        pair = (client_writer, upstream_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        finally:
            self._pairs.discard(pair)
            _abort(client_writer)
            _abort(upstream_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.mode == "blackhole":
                    await asyncio.sleep(0.05)
                if writer.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # Either side closing ends both directions.
            _abort(writer)

    def _cut(self, mode: str) -> None:
        self.mode = mode
        if mode == "reset":
            for client, upstream in list(self._pairs):
                _abort(client)
                _abort(upstream)

    def _restore(self) -> None:
        self.mode = None

    def _shutdown(self) -> None:
        self._server.close()
        for client, upstream in list(self._pairs):
            _abort(client)
            _abort(upstream)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once with a reset (SO_LINGER 0), as a cut cable or a killed peer looks."""
    transport = writer.transport
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
    transport.abort()
