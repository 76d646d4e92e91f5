"""The moment the server received a request, stamped before anything can delay it.

An answer's time is judged at receipt: a request that then waits (for the one thread that
runs sync views under daphne, for a slow Redis) is not late because of the wait.
"""

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

from exams import clock

SCOPE_KEY = "received_at"


class StampReceipt:
    """ASGI middleware: puts the arrival time in the scope, on the event loop.

    Django's own middleware runs too late under ASGI: the request_started signal first
    waits for the sync thread, behind whatever request holds it.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope = {**scope, SCOPE_KEY: clock.now()}
        return await self.app(scope, receive, send)


@sync_and_async_middleware
def received_at_middleware(get_response):
    """Sets `request.received_at`: the ASGI stamp if there is one, else now (WSGI, tests)."""

    def stamp(request) -> None:
        scope = getattr(request, "scope", None) or {}
        request.received_at = scope.get(SCOPE_KEY) or clock.now()

    if iscoroutinefunction(get_response):
        async def middleware(request):
            stamp(request)
            return await get_response(request)
    else:
        def middleware(request):
            stamp(request)
            return get_response(request)
    return middleware
