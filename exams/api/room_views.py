"""Thin REST views of the waiting room (the synchronized start) and of enrollment, for proctors."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from exams import deadline_policy, enrollment, selectors, waiting_room
from exams.contract import builders, rest

from .parsers import BoundedCSVParser
from .views import _BODY, IsProctor, _valid, errors


class RoomView(APIView):
    """Proctor: the exam's waiting room (who is there, the start); POST sets it up until the exam has started."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.WaitingRoom, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        return Response(builders.waiting_room(waiting_room.room_summary(exam_id=exam_id)))

    @extend_schema(request=rest.RoomRequest, responses={200: rest.WaitingRoom, **errors(*_BODY, 401, 403, 404, 409)})
    def post(self, request, exam_id: int):
        data = _valid(rest.RoomRequest, request.data)
        waiting_room.configure_room(exam_id=exam_id, by=request.user, **data)
        return Response(builders.waiting_room(waiting_room.room_summary(exam_id=exam_id)))


class AtDeadlineView(APIView):
    """Proctor: what happens when the exam's attempts run out of time (`auto_submit` or `hand_in` with its
    window); POST sets it at any time, for every attempt whose time has not run out yet."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.AtDeadlineSettings, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        return Response(builders.at_deadline_settings(selectors.get_exam(exam_id)))

    @extend_schema(
        request=rest.AtDeadlineRequest,
        responses={200: rest.AtDeadlineSettings, **errors(*_BODY, 401, 403, 404, 409)},
    )
    def post(self, request, exam_id: int):
        data = _valid(rest.AtDeadlineRequest, request.data)
        exam = deadline_policy.set_at_deadline(exam_id=exam_id, by=request.user, **data)
        return Response(builders.at_deadline_settings(exam))


class StartNowView(APIView):
    """Proctor: start a waiting-room exam now; every waiting student's clock starts at the same instant."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=None, responses={200: rest.WaitingRoom, **errors(400, 401, 403, 404, 409)})
    def post(self, request, exam_id: int):
        waiting_room.start_now(exam_id=exam_id, by=request.user)
        return Response(builders.waiting_room(waiting_room.room_summary(exam_id=exam_id)))


class EnrollmentsView(APIView):
    """Proctor: the exam's enrolled students and who has not started; POST enrolls more (all or none)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.Roster, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        selectors.get_exam(exam_id)
        return Response(builders.roster(exam_id, enrollment.roster(exam_id)))

    @extend_schema(
        request=rest.UsernamesRequest, responses={200: rest.EnrollmentChange, **errors(*_BODY, 401, 403, 404)}
    )
    def post(self, request, exam_id: int):
        usernames = _valid(rest.UsernamesRequest, request.data)["usernames"]
        change = enrollment.enroll_students(exam_id=exam_id, usernames=usernames, by=request.user)
        return Response(builders.enrollment_change(change))


class UnenrollView(APIView):
    """Proctor: remove students' enrollments (their attempts stay); removing the last opens the exam to all."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(
        request=rest.UsernamesRequest, responses={200: rest.EnrollmentChange, **errors(*_BODY, 401, 403, 404)}
    )
    def post(self, request, exam_id: int):
        usernames = _valid(rest.UsernamesRequest, request.data)["usernames"]
        change = enrollment.unenroll_students(exam_id=exam_id, usernames=usernames, by=request.user)
        return Response(builders.enrollment_change(change))


class EnrollmentImportView(APIView):
    """Proctor: enroll every username of a CSV upload (`text/csv`: one per row, first column, optional
    `username` header), all or none."""

    permission_classes = [IsAuthenticated, IsProctor]
    parser_classes = [BoundedCSVParser]

    @extend_schema(
        request={"text/csv": OpenApiTypes.STR},
        examples=[OpenApiExample("usernames", value="username\nstudent1\nstudent2\n", request_only=True)],
        responses={200: rest.EnrollmentChange, **errors(*_BODY, 401, 403, 404)},
    )
    def post(self, request, exam_id: int):
        text = request.data if isinstance(request.data, str) else ""
        change = enrollment.import_enrollments_csv(exam_id=exam_id, text=text, by=request.user)
        return Response(builders.enrollment_change(change))
