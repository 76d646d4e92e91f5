from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/attempts/<int:attempt_id>/", consumers.AttemptConsumer.as_asgi()),
    path("ws/proctor/exams/<int:exam_id>/", consumers.ProctorConsumer.as_asgi()),
]
