"""What daphne's WebSocket transport sends: each frame written to the socket at once when nothing
waits before it.

Twisted's TCP transport never writes in `write`: it queues the bytes and registers the socket
for writability with the event loop, and the loop's next turn sends them and unregisters it.
For one frame to each of thousands of sockets (a tick each second, an exam-wide change) that
is two poll registrations and one dispatch of the loop per frame, on top of the send itself:
about a third of the loop's time per frame (bench/bench_fanout.py extend). As asyncio's own
transports do, a frame with nothing queued before it is sent now; whatever the socket does
not take (its buffer is full), or any error, goes the transport's own way, which keeps the
order and closes a broken connection as before.
"""

from twisted.internet import tcp


def write_now(transport, data: bytes) -> None:
    """`transport.write(data)`, sent at once if the transport is a plain, idle, open TCP connection."""
    if (
        type(transport) is not tcp.Server
        or transport.TLS
        or transport.dataBuffer
        or transport._tempDataBuffer
        or not transport.connected
        or transport.disconnecting
        or transport._writeDisconnected
    ):
        transport.write(data)
        return
    try:
        sent = transport.socket.send(data)
    except OSError:
        sent = 0  # would block, interrupted, or broken: the transport's doWrite finds out and closes
    if sent < len(data):
        transport.write(data[sent:])


class WriteThrough:
    """A mixin for autobahn's WebSocketProtocol (under daphne): its frames go through `write_now`."""

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if sync or chopsize or self.send_queue or self.logOctets or self.state != self.STATE_OPEN:
            super().sendData(data, sync, chopsize)
            return
        write_now(self.transport, data)
        self.trafficStats.outgoingOctetsWireLevel += len(data)
