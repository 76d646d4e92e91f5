from django.urls import path

from . import consumers, waiting_consumer

websocket_urlpatterns = [
    path("ws/attempts/<int:attempt_id>/", consumers.AttemptConsumer.as_asgi()),
    path("ws/proctor/exams/<int:exam_id>/", consumers.ProctorConsumer.as_asgi()),
    path("ws/exams/<int:exam_id>/wait/", waiting_consumer.WaitingConsumer.as_asgi()),
]
