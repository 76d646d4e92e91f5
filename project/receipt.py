"""The moment the server received a request, stamped before anything can delay it.

An answer's time is judged at receipt: a request that then waits (for a slow Redis behind
the rate limit, for a busy worker) is not late because of the wait.
"""

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

from exams import clock


@sync_and_async_middleware
def received_at_middleware(get_response):
    """Sets `request.received_at`; first in MIDDLEWARE, on the event loop under ASGI."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            request.received_at = clock.now()
            return await get_response(request)
    else:

        def middleware(request):
            request.received_at = clock.now()
            return get_response(request)

    return middleware
