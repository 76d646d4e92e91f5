"""ASGI entry point (daphne): HTTP to Django, WebSockets through origin check and JWT auth."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from project.safety import refuse_default_secret_key  # noqa: E402

refuse_default_secret_key()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from project import inflight  # noqa: E402
from realtime.auth import JwtAuthMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The pages' static files are served by the app itself: no build step, no extra server.
        # Counted: a graceful shutdown lets the requests under way finish (project/graceful.py).
        "http": inflight.http_requests.around(ASGIStaticFilesHandler(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(JwtAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
