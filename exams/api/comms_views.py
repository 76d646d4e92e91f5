"""The exam room's communications over REST (issue 12 §2, §3): announcements, students' questions,
incidents. (The waiting room and enrollment are room_views.py.)

Thin like views.py: validate with the declaration, call one service, return its builder's body.
The sockets offer the same actions (realtime/consumers.py); these serve a page whose socket is
down, and other clients.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from exams import announcements, incidents, room, selectors, student_questions
from exams.contract import rest, room_builders

from .views import _BODY, IsProctor, _valid, errors

# --- Student ------------------------------------------------------------------------------------


class StudentRoomView(APIView):
    """The announcements for the attempt's student (with their acknowledgements) and its question thread."""

    @extend_schema(responses={200: rest.StudentRoom, **errors(401, 403, 404)})
    def get(self, request, attempt_id: int):
        attempt = selectors.get_own_attempt(user=request.user, attempt_id=attempt_id)
        return Response(room_builders.student_room(room.student_room(attempt)))


class AcknowledgeView(APIView):
    """Acknowledge an announcement (repeats return the first acknowledgement); the proctors see it at once."""

    @extend_schema(request=rest.AcknowledgeRequest, responses={200: rest.Acknowledged, **errors(*_BODY, 401, 403, 404)})
    def post(self, request, attempt_id: int):
        data = _valid(rest.AcknowledgeRequest, request.data)
        ack = announcements.acknowledge_announcement(user=request.user, attempt_id=attempt_id, **data)
        return Response(room_builders.acknowledged(ack))


class AskView(APIView):
    """Ask the proctors a question while the attempt is in progress (rate-limited per attempt)."""

    @extend_schema(
        request=rest.AskRequest, responses={201: rest.RoomQuestion, **errors(*_BODY, 401, 403, 404, 409, 429)}
    )
    def post(self, request, attempt_id: int):
        data = _valid(rest.AskRequest, request.data)
        question = student_questions.ask_question(user=request.user, attempt_id=attempt_id, **data)
        return Response(room_builders.room_question(question), status=status.HTTP_201_CREATED)


# --- Proctor ------------------------------------------------------------------------------------


class ProctorRoomView(APIView):
    """Proctor: the exam's announcements with who acknowledged them, its students' questions, its incidents."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.ProctorRoom, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        selectors.get_exam(exam_id)
        return Response(room_builders.proctor_room(room.proctor_room(exam_id)))


class AnnounceView(APIView):
    """Proctor: announce to the whole exam, or to one student (`attempt_id`, or `user_id` before they start)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(
        request=rest.AnnounceRequest,
        responses={201: rest.ProctorAnnouncement, **errors(*_BODY, 401, 403, 404, 429)},
    )
    def post(self, request, exam_id: int):
        data = _valid(rest.AnnounceRequest, request.data)
        announcement = announcements.send_announcement(exam_id=exam_id, by=request.user, **data)
        status_ = room.announcement_statuses(exam_id=exam_id, announcement_ids=[announcement.pk])[0]
        return Response(room_builders.proctor_announcement(status_), status=status.HTTP_201_CREATED)


class AnswerQuestionView(APIView):
    """Proctor: answer a student's question in place; pushed to that student only (and the proctors)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(
        request=rest.AnswerQuestionRequest,
        responses={200: rest.ProctorRoomQuestion, **errors(*_BODY, 401, 403, 404)},
    )
    def post(self, request, exam_id: int, question_id: int):
        data = _valid(rest.AnswerQuestionRequest, request.data)
        question = student_questions.answer_question(question_id=question_id, by=request.user, exam_id=exam_id, **data)
        return Response(room_builders.proctor_question(question))


class IncidentsView(APIView):
    """Proctor: the exam's incidents; record one against an attempt or the whole exam."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.Incidents, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        selectors.get_exam(exam_id)
        return Response(room_builders.incidents(exam_id, room.exam_incidents(exam_id)))

    @extend_schema(
        request=rest.IncidentRequest,
        responses={201: rest.IncidentRecord, **errors(*_BODY, 401, 403, 404, 409)},
    )
    def post(self, request, exam_id: int):
        data = _valid(rest.IncidentRequest, request.data)
        record = incidents.record_incident(exam_id=exam_id, by=request.user, **data)
        return Response(room_builders.incident(record), status=status.HTTP_201_CREATED)
