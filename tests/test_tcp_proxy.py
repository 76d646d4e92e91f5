"""The TCP proxy the fault tests and drills cut: it forwards, cuts (reset or blackhole), restores."""

import socket
import socketserver
import threading

import pytest

from tests.support.tcp_proxy import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while data := self.request.recv(4096):
                self.request.sendall(data)
        except ConnectionResetError:
            pass  # the proxy's reset cut


@pytest.fixture
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo_port):
    proxy = TcpProxy()
    port = proxy.start(0, echo_port)
    yield proxy, port
    proxy.stop()


def _roundtrip(port: int, payload: bytes = b"ping") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


def test_forwards_both_ways(proxy):
    _, port = proxy
    assert _roundtrip(port) == b"ping"


def test_reset_cut_drops_open_connections_and_refuses_new_until_restored(proxy):
    tcp, port = proxy
    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    sock.sendall(b"a")
    assert sock.recv(10) == b"a"

    tcp.cut()

    # The open connection ends (EOF or reset), and a new one is closed at once.
    try:
        assert sock.recv(10) == b""
    except ConnectionResetError:
        pass
    sock.close()
    with pytest.raises((ConnectionResetError, AssertionError, OSError)):
        assert _roundtrip(port) == b"ping"

    tcp.restore()
    assert _roundtrip(port) == b"ping"


def test_blackhole_holds_data_until_restored(proxy):
    tcp, port = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        tcp.cut("blackhole")
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        tcp.restore()
        sock.settimeout(2)
        assert sock.recv(10) == b"held"
