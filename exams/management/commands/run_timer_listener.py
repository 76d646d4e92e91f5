import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from prometheus_client import start_http_server

from exams.expiry.listener import ExpiryListener
from project.safety import refuse_default_secret_key

logger = logging.getLogger("exams.expiry.listener")


class Command(BaseCommand):
    help = "Run the expiry engine: keyspace listener, deadline sweeper and reconciler."
    # Attempts that fell due while no listener ran wait for this process's first reconcile:
    # the system checks (URLs, views, admin: about 0.3 s) are the web server's business.
    requires_system_checks = []

    def handle(self, *args, **options):
        refuse_default_secret_key()
        port = settings.EXAM["LISTENER_METRICS_PORT"]
        if port:
            try:
                addr = settings.EXAM["LISTENER_METRICS_ADDR"]
                start_http_server(port, addr=addr)
                logger.info("listener metrics on %s:%s/metrics", addr, port)
            except OSError as exc:
                logger.warning("metrics port %s unavailable (%s); running without it", port, exc)
        asyncio.run(self._run())

    async def _run(self) -> None:
        listener = ExpiryListener()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, listener.stop)
        await listener.run()
