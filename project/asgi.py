"""ASGI entry point (daphne): HTTP to Django, WebSockets through origin check and JWT auth."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from project.safety import refuse_default_secret_key  # noqa: E402

refuse_default_secret_key()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime.auth import JwtAuthMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The pages' static files are served by the app itself: no build step, no extra server.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(JwtAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)


# Thousands of open sockets are ~a million long-lived objects: a full collection then takes
# 0.5-0.9 s and stalls every socket. With the default first threshold (700) the transient
# objects of each tick and of daphne's per-second sweep over its connections survive into
# the old generation and set one off every 10-20 s (bench/bench_sockets.py). A higher one
# lets them die young first.
gc.set_threshold(50_000, 10, 10)
