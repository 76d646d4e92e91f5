"""Thin REST views: validate input, call one service, return the contract's body."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from exams import clock, selectors, services
from exams.errors import ServiceError

from . import serializers as s
from .throttling import FailOpenScopedRateThrottle, LoginAccountThrottle


class IsProctor(BasePermission):
    message = "Only proctors (staff users) can do this."
    code = "not_staff"

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)


ERRORS = {code: OpenApiResponse(s.ErrorSerializer) for code in (400, 401, 403, 404, 409, 410, 429, 503)}


class LoginView(TokenObtainPairView):
    throttle_classes = [FailOpenScopedRateThrottle, LoginAccountThrottle]
    throttle_scope = "login"
    account_throttle_scope = "login_account"


class RefreshView(TokenRefreshView):
    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "refresh"


class MeView(APIView):
    def get(self, request):
        user = request.user
        return Response({"id": user.pk, "username": user.get_username(), "is_staff": user.is_staff})


class ExamListView(APIView):
    """Published exams with the caller's attempts (the student page's list)."""

    def get(self, request):
        return Response({"exams": services.student_exams(user=request.user)})


class StartView(APIView):
    @extend_schema(request=None, responses={200: s.StartSerializer, 201: s.StartSerializer, **ERRORS})
    def post(self, request, exam_id: int):
        result = services.start_attempt(user=request.user, exam_id=exam_id)
        attempt = result.attempt
        body = {
            **selectors.timer_payload(attempt),
            "exam_id": attempt.exam_id,
            "duration_seconds": attempt.exam.duration_seconds,
            "resumed": not result.created,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class RemainingView(APIView):
    @extend_schema(responses={200: s.TimerSerializer, **ERRORS})
    def get(self, request, attempt_id: int):
        attempt = services.current_attempt(user=request.user, attempt_id=attempt_id)
        return Response(selectors.timer_payload(attempt))


class SubmitAnswerView(APIView):
    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "answers"

    @extend_schema(request=s.SubmitAnswerSerializer, responses={200: s.AnswerSavedSerializer, **ERRORS})
    def post(self, request):
        data = _valid(s.SubmitAnswerSerializer, request.data)
        # Judged by when it arrived (project/receipt.py), not when this thread got to it.
        answer = services.save_answer(user=request.user, received_at=request.received_at, **data)
        return Response(
            {
                "attempt_id": answer.attempt_id,
                "question_id": answer.question_id,
                "selected_option": answer.selected_option,
                "saved_at": clock.iso(answer.saved_at),
            }
        )


class SubmitView(APIView):
    @extend_schema(request=None, responses={200: s.ResultSerializer, **ERRORS})
    def post(self, request, attempt_id: int):
        return Response(services.submit_attempt(user=request.user, attempt_id=attempt_id))


class QuestionsView(APIView):
    @extend_schema(responses={200: s.QuestionsSerializer, **ERRORS})
    def get(self, request, attempt_id: int):
        attempt = services.current_attempt(user=request.user, attempt_id=attempt_id)
        return Response(selectors.questions_payload(attempt))


class ExtendView(APIView):
    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=s.ExtendSerializer, responses={200: s.TimerSerializer, **ERRORS})
    def post(self, request, attempt_id: int):
        data = _valid(s.ExtendSerializer, request.data)
        attempt = services.extend_attempt(attempt_id=attempt_id, seconds=data["seconds"], by=request.user)
        return Response({**selectors.timer_payload(attempt), "added_seconds": data["seconds"]})


class ForceSubmitView(APIView):
    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=None, responses={200: s.ResultSerializer, **ERRORS})
    def post(self, request, attempt_id: int):
        return Response(services.force_submit_attempt(attempt_id=attempt_id, by=request.user))


class ProctorExamsView(APIView):
    permission_classes = [IsAuthenticated, IsProctor]

    def get(self, request):
        return Response({"exams": selectors.exams_for_proctor()})


class ProctorAttemptsView(APIView):
    """The same snapshot the proctor socket sends on connect."""

    permission_classes = [IsAuthenticated, IsProctor]

    def get(self, request, exam_id: int):
        selectors.get_exam(exam_id)
        return Response({"exam_id": exam_id, "attempts": selectors.proctor_attempts(exam_id=exam_id)})


def _valid(serializer_class, data) -> dict:
    if not isinstance(data, dict):
        raise ServiceError("The body must be a JSON object.", code="invalid")
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
