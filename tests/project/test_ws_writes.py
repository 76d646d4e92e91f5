"""The write path of daphne's WebSocket transport (project/ws_writes.py) on real TCP sockets: a frame is
on the wire when `write_now` returns, without a turn of the event loop; what the socket does not
take waits in the transport and keeps its order; a broken connection is left to the transport.

The loop is a recorder of what the transport asks it (the reactor's FD set); every byte goes through
a real connected socket pair."""

import contextlib
import socket
import time
from types import SimpleNamespace

import pytest
from twisted.internet import main, tcp
from twisted.internet.protocol import Protocol

from project.ws_writes import write_now


class LoopRecorder:
    """The part of a reactor a TCP transport uses (IReactorFDSet): records the registrations."""

    def __init__(self) -> None:
        self.readers: set = set()
        self.writers: set = set()
        self.ever_writing = False

    def addReader(self, reader) -> None:
        self.readers.add(reader)

    def removeReader(self, reader) -> None:
        self.readers.discard(reader)

    def addWriter(self, writer) -> None:
        self.writers.add(writer)
        self.ever_writing = True

    def removeWriter(self, writer) -> None:
        self.writers.discard(writer)


@pytest.fixture
def pair():
    """(a Twisted server transport, the client's socket, the loop recorder) over a real TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, address = listener.accept()
    accepted.setblocking(False)
    loop = LoopRecorder()
    transport = tcp.Server(accepted, Protocol(), address, SimpleNamespace(_realPortNumber=0), 1, loop)
    client.settimeout(5)
    yield transport, client, loop
    client.close()
    accepted.close()


def read_exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        assert chunk, "the connection closed early"
        data += chunk
    return data


def test_a_frame_is_on_the_wire_when_write_now_returns(pair):
    transport, client, loop = pair
    for frame in (b"first", b"second"):
        write_now(transport, frame)
        assert read_exactly(client, len(frame)) == frame
    assert not loop.ever_writing  # no writability registration, no loop turn


def test_what_the_socket_does_not_take_waits_in_order(pair):
    transport, client, loop = pair
    transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = bytes(range(256)) * 16384  # 4 MiB: more than the socket buffers hold
    write_now(transport, big)
    assert transport._tempDataBuffer and transport in loop.writers  # the rest waits for the loop
    write_now(transport, b"after")  # must not overtake the rest of `big`
    received, end = b"", time.monotonic() + 10
    client.settimeout(0.01)
    while len(received) < len(big) + 5 and time.monotonic() < end:
        with contextlib.suppress(TimeoutError):
            received += client.recv(1 << 20)
        if transport in loop.writers:
            transport.doWrite()  # what the loop does when the socket is writable
    assert received == big + b"after"
    client.settimeout(5)
    write_now(transport, b"idle again")
    assert read_exactly(client, 10) == b"idle again"


def test_a_broken_connection_is_left_to_the_transport(pair):
    transport, client, loop = pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # a reset, as from a vanished client
    results = set()
    for _ in range(50):
        write_now(transport, b"x" * 1000)  # never raises
        if transport in loop.writers:
            results.add(transport.doWrite())
            break
    assert results == {main.CONNECTION_LOST}  # the loop's doWrite reports it; the reactor closes the connection


def test_a_closed_or_closing_transport_takes_the_transport_path(pair):
    transport, client, loop = pair
    transport.disconnecting = True
    write_now(transport, b"late")
    assert transport._tempDataBuffer == [b"late"] and transport in loop.writers
