"""daphne that shuts down gracefully: deploys happen during exams.

Twisted's own SIGTERM handling stops the reactor at once: sockets end with 1006 and no close
frame, requests under way are cut, presence stays behind. Here SIGTERM (or SIGINT) drains:
1. stop accepting connections;
2. close every socket with 1012, so clients reconnect at once (to another process);
3. let the HTTP requests under way finish, for up to SHUTDOWN_GRACE_SECONDS; a request on a
   kept-alive connection meanwhile is still served;
4. leave presence (this process's students are recorded as disconnected);
5. stop the reactor: daphne cancels whatever is left, the process exits with 0.
A watchdog thread exits with FORCED_EXIT_CODE if the process is still alive
SHUTDOWN_GRACE_SECONDS + WATCHDOG_MARGIN_SECONDS after the signal; so does a second signal.
Import this module after the event loop policy is set: daphne.server makes its loop on import.
"""

import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading
import time

from daphne.cli import CommandLineInterface
from daphne.server import Server
from django.conf import settings
from twisted.internet import defer, reactor

from project import inflight
from project.ws_transport import limit_inbound

logger = logging.getLogger(__name__)

FORCED_EXIT_CODE = 1
# Past the grace: leaving presence, the reactor's shutdown, the interpreter's exit.
WATCHDOG_MARGIN_SECONDS = 5.0
POLL_SECONDS = 0.05
# RFC 6455 codes for a server to close with (going away, internal error, service restart, try
# again later) that autobahn's sendClose refuses: it takes only 1000 and 3000-4999 and raises,
# so the socket was never closed and ended 1006 when the process went.
SERVER_CLOSE_CODES = frozenset({1001, 1011, 1012, 1013})


class GracefulServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["signal_handlers"] = False  # ours, installed on the reactor's loop when it runs
        super().__init__(*args, **kwargs)
        self.ports: list = []
        self.draining = False

    def run(self) -> None:
        reactor.callWhenRunning(self._install_signal_handlers)
        # Before the first connection is accepted: Server.run makes the factory, then the reactor.
        reactor.callWhenRunning(lambda: limit_inbound(self.ws_factory))
        super().run()

    def listen_success(self, port) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_event_loop()  # the reactor's, running
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.draining:
            logger.warning("second %s during the shutdown: exiting now", name)
            _exit_now()
        self.draining = True
        grace = settings.SHUTDOWN_GRACE_SECONDS
        watchdog = threading.Timer(grace + WATCHDOG_MARGIN_SECONDS, _watchdog_fired)
        watchdog.daemon = True
        watchdog.start()
        logger.warning("%s: shutting down (grace %.1fs)", name, grace)
        self.drain_task = asyncio.ensure_future(self.drain(grace))  # held: the loop keeps only a weak reference

    async def drain(self, grace: float) -> None:
        """Steps 1-5 of the module docstring; the reactor stops however the steps end."""
        from realtime.hub import existing_hub  # the app (hence Django) is loaded by now

        started = time.monotonic()
        closed = 0
        try:
            for port in self.ports:
                _stop_accepting(port)
            hub = existing_hub()
            if hub is not None:
                closed = await hub.close_all()
            # At least one pass: a request on a connection accepted just now is being read.
            await asyncio.sleep(POLL_SECONDS)
            while inflight.http_requests.count and time.monotonic() - started < grace:
                await asyncio.sleep(POLL_SECONDS)
            if hub is not None:
                await hub.leave()
        except Exception:
            logger.exception("graceful shutdown failed; stopping anyway")
        finally:
            logger.warning(
                "closed %d sockets with 1012; %d HTTP requests unfinished; stopping after %.2fs",
                closed,
                inflight.http_requests.count,
                time.monotonic() - started,
            )
            self.stop()

    async def handle_reply(self, protocol, message) -> None:
        code = message.get("code")
        details = self.connections.get(protocol)
        if (
            message["type"] == "websocket.close"
            and code in SERVER_CLOSE_CODES
            and details is not None
            and not details.get("disconnected")
            and protocol.state != protocol.STATE_CONNECTING
        ):
            protocol.sendCloseFrame(code=code)  # what sendClose does once the code is checked
            return
        await super().handle_reply(protocol, message)

    def kill_all_applications(self):
        """daphne's, minus its KeyError on a connection whose application was already reaped."""
        pending = [
            d["application_instance"]
            for d in self.connections.values()
            if d.get("application_instance") is not None and not d["application_instance"].done()
        ]
        for instance in pending:
            instance.cancel()
        if pending:
            logger.warning("cancelled %d application instances still running", len(pending))
        waited = defer.Deferred.fromFuture(asyncio.gather(*pending))
        waited.addErrback(lambda _: None)
        return waited


def _stop_accepting(port) -> None:
    """Close a listening port, first accepting the connections the kernel completed for it
    (closing would reset those, with their requests sent). Twisted closes it on the next
    reactor turn: accept then, just before."""
    lose = port.connectionLost

    def accept_then_lose(reason) -> None:
        port.doRead()
        lose(reason)

    port.connectionLost = accept_then_lose
    port.stopListening()


class GracefulCommandLineInterface(CommandLineInterface):
    server_class = GracefulServer


def _watchdog_fired() -> None:
    logger.error(
        "still alive %.0fs after the shutdown began: exiting now; where it was stuck:",
        settings.SHUTDOWN_GRACE_SECONDS + WATCHDOG_MARGIN_SECONDS,
    )
    faulthandler.dump_traceback(sys.stderr, all_threads=True)
    try:  # read from this thread while the loop may run: best effort
        for task in list(asyncio.all_tasks(reactor._asyncioEventloop)):
            task.print_stack(file=sys.stderr)
    except Exception:
        pass
    _exit_now()


def _exit_now() -> None:
    os._exit(FORCED_EXIT_CODE)
