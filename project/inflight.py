"""HTTP requests under way in this process, counted so that a graceful shutdown can wait for them."""

from collections.abc import Awaitable, Callable

ASGIApp = Callable[..., Awaitable[None]]


class InFlight:
    """How many calls of the wrapped ASGI apps have not finished (a plain int: one event loop)."""

    def __init__(self) -> None:
        self.count = 0

    def around(self, app: ASGIApp) -> ASGIApp:
        """`app`, counted from its call to its end however it ends."""

        async def counted(scope, receive, send) -> None:
            self.count += 1
            try:
                await app(scope, receive, send)
            finally:
                self.count -= 1

        return counted


http_requests = InFlight()
