"""What daphne's WebSocket transport takes from a client: a bounded message, or a close 1009;
and no more messages than its consumer keeps up with.

autobahn (under daphne) has one message limit for both directions, and ours is large
(project/serve.py: 16 MiB, for the proctor's snapshot it sends), so a client could make a
process buffer 16 MiB per socket. Past its limits autobahn dropped the TCP connection without
a close frame: a client saw a reset, with no reason. Here a client's message is bounded apart
from what the server sends: up to INBOUND_MAX_BYTES it reaches the consumer, which answers
`message_too_large` past WS_MAX_MESSAGE_BYTES and keeps the socket; past it the transport
closes with 1009 (message too big) in a closing handshake, before buffering it.

daphne reads whatever a client sends and queues each message for its consumer, however many:
a client that floods one socket made the process parse thousands of frames at once, stalling
every other socket (issue 10 §2). Past INBOUND_QUEUE_HIGH waiting messages the transport stops
reading that socket until its consumer is down to INBOUND_QUEUE_LOW: the rest of a flood waits
in the client's own TCP buffers, and what is read is answered (`throttled`) at the pace the
consumer works. A client that sends a message at a time never comes near it.

Import after the event loop policy is set (daphne's modules make the reactor on import).
"""

from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from twisted.internet import reactor

from project.ws_writes import WriteThrough

# Room for any valid message many times over; what the server reads before it can say no.
INBOUND_FLOOR_BYTES = 1024 * 1024
# A socket's messages waiting for its consumer: past HIGH its reading pauses, until LOW.
INBOUND_QUEUE_HIGH = 64
INBOUND_QUEUE_LOW = 8
# How often a paused socket looks whether its consumer has caught up.
INBOUND_RESUME_CHECK_SECONDS = 0.02


def inbound_max_bytes() -> int:
    """The largest client message the transport passes to a consumer."""
    return max(INBOUND_FLOOR_BYTES, settings.EXAM["WS_MAX_MESSAGE_BYTES"])


class InboundLimitedProtocol(WriteThrough, WebSocketProtocol):
    """daphne's WebSocket protocol with a limit on the client's messages of its own."""

    reading_paused = False

    def onMessage(self, payload, isBinary) -> None:
        super().onMessage(payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if not self.reading_paused and queue is not None and queue.qsize() >= INBOUND_QUEUE_HIGH:
            self.reading_paused = True
            self.transport.pauseProducing()
            reactor.callLater(INBOUND_RESUME_CHECK_SECONDS, self._resume_when_caught_up)

    def _resume_when_caught_up(self) -> None:
        if not self.reading_paused or not getattr(self.transport, "connected", False):
            return  # resumed already, or gone (its queue may never drain)
        if self.application_queue.qsize() > INBOUND_QUEUE_LOW:
            reactor.callLater(INBOUND_RESUME_CHECK_SECONDS, self._resume_when_caught_up)
            return
        self.reading_paused = False
        self.transport.resumeProducing()

    def onMessageFrameBegin(self, length: int) -> None:
        super().onMessageFrameBegin(length)
        # A fragmented message is counted as its frames begin, before their data is kept.
        limit = inbound_max_bytes()
        if not self.failedByMe and self.message_data_total_length > limit:
            self._fail_connection(self.CLOSE_STATUS_CODE_MESSAGE_TOO_BIG, f"Messages are limited to {limit} bytes.")


def limit_inbound(factory) -> None:
    """Make `factory` (daphne's WebSocketFactory) build InboundLimitedProtocol and close, not drop,
    a failing connection, so the client reads why (1009, or 1002/1007 for a protocol error)."""
    factory.protocol = InboundLimitedProtocol
    factory.setProtocolOptions(failByDrop=False, maxFramePayloadSize=inbound_max_bytes())
