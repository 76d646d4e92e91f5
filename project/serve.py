"""Run daphne on uvloop, shutting down gracefully: `python -m project.serve <daphne's arguments>`.

daphne runs Twisted's asyncio reactor on `asyncio.new_event_loop()`; with uvloop's policy set
first that loop is uvloop's, which cuts the per-frame cost of pushing ticks to thousands of
sockets (bench/bench_sockets.py: tick p99 at 5,000 sockets 364 ms -> 213 ms).
SIGTERM drains the process (project/graceful.py) instead of crashing it.
"""

import asyncio
import gc
import sys

import uvloop

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from project.graceful import GracefulCommandLineInterface  # noqa: E402  (daphne.server makes its loop on import)

# daphne's default 1 MiB limit applies to messages it SENDS too (autobahn raises
# PayloadExceededError): a proctor's snapshot of 5,000 attempts is about 2 MB. What clients
# send is bounded apart (project/ws_transport.py: 1 MiB, then a close 1009), and by the
# consumers' own WS_MAX_MESSAGE_BYTES below that (`message_too_large`).
WEBSOCKET_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# How long a WebSocket handshake may wait for its consumer to accept (a database read, queued
# behind others in a reconnect storm or on a loaded machine). daphne's default, 5 s, drops the
# TCP connection with no answer (HAProxy: 502), and the client reconnects into the same queue.
WEBSOCKET_CONNECT_TIMEOUT_SECONDS = 30


def main() -> None:
    """The daphne process: tuned for thousands of sockets, then daphne's command line."""
    # Process tuning belongs here, not in a module others import (tests, benches).
    # Thousands of open sockets are ~a million long-lived objects: a full collection then takes
    # 0.5-0.9 s and stalls every socket. With the default first threshold (700) the transient
    # objects of each tick and of daphne's per-second sweep over its connections survive into
    # the old generation and set one off every 10-20 s (bench/bench_sockets.py). A higher one
    # lets them die young first.
    gc.set_threshold(50_000, 10, 10)
    if not any(arg.startswith("--websocket-max-message-size") for arg in sys.argv):
        sys.argv[1:1] = ["--websocket-max-message-size", str(WEBSOCKET_MAX_MESSAGE_BYTES)]
    if not any(arg.startswith("--websocket_connect_timeout") for arg in sys.argv):
        sys.argv[1:1] = ["--websocket_connect_timeout", str(WEBSOCKET_CONNECT_TIMEOUT_SECONDS)]
    GracefulCommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
