from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from exams.contract import codes

from . import consumers, waiting_consumer


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other path: closed with 4404 (not found), as a missing attempt is; without it the router
    raised, daphne logged a traceback and the client saw a handshake 500."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=codes.CLOSE_NOT_FOUND)


websocket_urlpatterns = [
    path("ws/attempts/<int:attempt_id>/", consumers.AttemptConsumer.as_asgi()),
    path("ws/proctor/exams/<int:exam_id>/", consumers.ProctorConsumer.as_asgi()),
    path("ws/exams/<int:exam_id>/wait/", waiting_consumer.WaitingConsumer.as_asgi()),
    re_path(r"", NoSuchSocket.as_asgi()),
]
