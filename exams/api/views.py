"""Thin REST views: validate input, call one service, return the body its builder makes.

Each view names its request and response declarations (exams/contract/rest.py) in
`@extend_schema`: the OpenAPI schema and the tests' body checks read them from there.
"""

from decimal import Decimal

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from exams import audit, exports, notifications, selectors, services, time_control, time_rules
from exams.contract import builders, codes, rest
from exams.contract.limits import HISTORY_EVENTS
from exams.contract.parsing import BadInput, validate

from .throttling import FailOpenScopedRateThrottle, LoginAccountThrottle


class IsProctor(BasePermission):
    message = "Only proctors (staff users) can do this."
    code = "not_staff"

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)


_ERROR = OpenApiResponse(rest.Error, description='`{"error": {"code", "message"}}`')
# Any operation can answer these: the client accepts no JSON (406), the server failed (500), Redis
# or the database is down (503).
_ANY = (406, 500, 503)
# An operation that reads a JSON body can refuse it (400), its size (413) or its media type (415).
_BODY = (400, 413, 415)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation documents: `statuses`, which it answers, and those any operation can give.

    401 and 403 are listed exactly where the server answers them (tests/exams/contract/test_openapi.py
    measures it; tests/support/contract_check.py fails a test that receives an undocumented status).
    """
    return dict.fromkeys(sorted({*statuses, *_ANY}), _ERROR)


class LoginView(TokenObtainPairView):
    """Sign in: an access and a refresh token."""

    throttle_classes = [FailOpenScopedRateThrottle, LoginAccountThrottle]
    throttle_scope = "login"
    account_throttle_scope = "login_account"

    @extend_schema(request=rest.LoginRequest, responses={200: rest.Tokens, **errors(*_BODY, 401, 429)})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class RefreshView(TokenRefreshView):
    """A new access token for a refresh token."""

    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "refresh"

    @extend_schema(request=rest.RefreshRequest, responses={200: rest.AccessToken, **errors(*_BODY, 401, 429)})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class MeView(APIView):
    """The signed-in user."""

    @extend_schema(responses={200: rest.Me, **errors(401)})
    def get(self, request):
        return Response(builders.me(request.user))


class ExamListView(APIView):
    """Published exams with the caller's attempts (any overdue one timed out first)."""

    @extend_schema(responses={200: rest.StudentExams, **errors(401)})
    def get(self, request):
        return Response(builders.student_exams(services.student_exams(user=request.user)))


class StartView(APIView):
    """Start an attempt (201), or resume the ongoing one with its true time left (200)."""

    @extend_schema(request=None, responses={200: rest.Start, 201: rest.Start, **errors(400, 401, 403, 404, 409)})
    def post(self, request, exam_id: int):
        result = services.start_attempt(user=request.user, exam_id=exam_id)
        return Response(
            builders.start(result.attempt, created=result.created),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class RemainingView(APIView):
    """The attempt's clock; an overdue attempt is timed out on the spot."""

    @extend_schema(responses={200: rest.Timer, **errors(401, 403, 404)})
    def get(self, request, attempt_id: int):
        return Response(builders.timer(services.current_attempt(user=request.user, attempt_id=attempt_id)))


class SubmitAnswerView(APIView):
    """Save (or replace) an answer, if the server received it by deadline + grace."""

    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "answers"

    @extend_schema(
        request=rest.SubmitAnswerRequest,
        responses={200: rest.AnswerSaved, **errors(*_BODY, 401, 403, 404, 409, 410, 429)},
    )
    def post(self, request):
        data = _valid(rest.SubmitAnswerRequest, request.data)
        # Judged by when it arrived (project/receipt.py), not when this thread got to it.
        answer = services.save_answer(user=request.user, received_at=request.received_at, **data)
        return Response(builders.answer_saved(answer))


class SubmitView(APIView):
    """Submit the attempt (repeatable): the score, and each question's outcome as far as its review policy shows it."""

    @extend_schema(request=None, responses={200: rest.Result, **errors(401, 403, 404)})
    def post(self, request, attempt_id: int):
        return Response(builders.result(services.submit_attempt(user=request.user, attempt_id=attempt_id)))


class QuestionsView(APIView):
    """The attempt's questions and saved choices; after its end, as far as the exam's review policy shows them."""

    @extend_schema(responses={200: rest.Questions, **errors(401, 403, 404)})
    def get(self, request, attempt_id: int):
        attempt = services.current_attempt(user=request.user, attempt_id=attempt_id)
        return Response(builders.questions(services.student_sheet(attempt=attempt)))


class ExtendView(APIView):
    """Proctor: more time for an attempt; its student's sockets hear `extended` at once."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=rest.ExtendRequest, responses={200: rest.Extension, **errors(*_BODY, 401, 403, 404, 409)})
    def post(self, request, attempt_id: int):
        data = _valid(rest.ExtendRequest, request.data)
        attempt = services.extend_attempt(attempt_id=attempt_id, by=request.user, **data)
        return Response(builders.extension(attempt, data["seconds"]))


class ForceSubmitView(APIView):
    """Proctor: end an attempt now, scored as submitted."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=None, responses={200: rest.Result, **errors(401, 403, 404)})
    def post(self, request, attempt_id: int):
        return Response(builders.result(services.force_submit_attempt(attempt_id=attempt_id, by=request.user)))


class ProctorExamsView(APIView):
    """Proctor: every exam, with its attempts in progress."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.ProctorExams, **errors(401, 403)})
    def get(self, request):
        return Response(builders.proctor_exams(selectors.exams_for_proctor()))


class ReleaseReviewView(APIView):
    """Proctor: open the exam's review to its students now, under any policy (logged; repeating changes nothing)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=None, responses={200: rest.ProctorExam, **errors(401, 403, 404)})
    def post(self, request, exam_id: int):
        exam = services.release_review(exam_id=exam_id, by=request.user)
        return Response(builders.proctor_exam(selectors.exams_for_proctor(exam_id=exam.pk)[0]))


class BulkForceSubmitView(APIView):
    """Proctor: end many of the exam's attempts now, scored as submitted (one compare-and-set for all)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=rest.BulkRequest, responses={200: rest.BulkForceSubmitted, **errors(*_BODY, 401, 403, 404)})
    def post(self, request, exam_id: int):
        ids = _valid(rest.BulkRequest, request.data)["attempt_ids"]
        ended = services.force_submit_attempts(exam_id=exam_id, attempt_ids=ids, by=request.user)
        return Response(builders.bulk_force_submitted(exam_id, ended, notifications.attempt_rows(ids)))


class ExamHistoryView(APIView):
    """Proctor: the newest events of the exam's attempts, oldest first (the dashboard's history before it opened)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.ExamHistory, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        exam = selectors.get_exam(exam_id)
        return Response(builders.exam_history(exam.pk, selectors.exam_history(exam_id=exam.pk, limit=HISTORY_EVENTS)))


class ResultsCsvView(APIView):
    """Proctor: the exam's results as CSV, one line per attempt (streamed): student, status, score, max_score,
    started_at, ended_at, extra_seconds, incidents."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        exam = selectors.get_exam(exam_id)
        response = StreamingHttpResponse(exports.results_csv(exam.pk), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="exam-{exam.pk}-results.csv"'
        return response


class ProctorAttemptsView(APIView):
    """Proctor: the exam's attempts, the rows of the proctor socket's snapshot."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.ExamRoom, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        selectors.get_exam(exam_id)
        return Response(builders.exam_room(exam_id, notifications.exam_rows(exam_id)))


class PauseView(APIView):
    """Proctor: pause attempts of the exam (`attempt_ids`: one or a selection), or the whole exam (a fire alarm)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=rest.PauseRequest, responses={200: rest.TimeControl, **errors(*_BODY, 401, 403, 404, 409)})
    def post(self, request, exam_id: int):
        done = time_control.pause(by=request.user, exam_id=exam_id, **_valid(rest.PauseRequest, request.data))
        return Response(builders.time_control(done.exam, done.attempt_ids))


class ResumeView(APIView):
    """Proctor: resume paused attempts of the exam (`attempt_ids`), or the whole exam; deadlines move by the
    paused time."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=rest.ResumeRequest, responses={200: rest.TimeControl, **errors(*_BODY, 401, 403, 404, 409)})
    def post(self, request, exam_id: int):
        done = time_control.resume(by=request.user, exam_id=exam_id, **_valid(rest.ResumeRequest, request.data))
        return Response(builders.time_control(done.exam, done.attempt_ids))


class TimeChangeView(APIView):
    """Proctor: extend or shorten every ongoing attempt of the exam (or `attempt_ids`), by minutes or percent."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(
        request=rest.TimeChangeRequest, responses={200: rest.TimeControl, **errors(*_BODY, 401, 403, 404, 409)}
    )
    def post(self, request, exam_id: int):
        fields = _valid(rest.TimeChangeRequest, request.data)
        done = time_control.change_time(by=request.user, exam_id=exam_id, **fields)
        return Response(builders.time_control(done.exam, done.attempt_ids))


class ReopenView(APIView):
    """Proctor: reopen a submitted, timed-out or overdue attempt with `minutes` more from now (audited)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=rest.ReopenRequest, responses={200: rest.Reopened, **errors(*_BODY, 401, 403, 404, 409)})
    def post(self, request, attempt_id: int):
        fields = _valid(rest.ReopenRequest, request.data)
        attempt, added = time_control.reopen(by=request.user, attempt_id=attempt_id, **fields)
        return Response(builders.reopened(attempt, added))


class AccommodationsView(APIView):
    """Proctor: students' accommodations (more time); set one (it replaces the student's for that exam, or all)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(parameters=[rest.AccommodationQuery], responses={200: rest.Accommodations, **errors(400, 401, 403)})
    def get(self, request):
        query = _valid_query(rest.AccommodationQuery, request.query_params)
        return Response(builders.accommodations(selectors.accommodations(**query)))

    @extend_schema(
        request=rest.AccommodationRequest,
        responses={200: rest.AccommodationChange, **errors(*_BODY, 401, 403, 404, 409)},
    )
    def post(self, request):
        data = _valid(rest.AccommodationRequest, request.data)
        change = time_rules.set_accommodation(
            by=request.user,
            username=data["username"],
            exam_id=data.get("exam_id"),
            multiplier=data.get("multiplier", Decimal(1)),
            extra_seconds=data.get("extra_seconds", 0),
            reason=data["reason"],
            apply_to_running=data.get("apply_to_running", False),
        )
        return Response(builders.accommodation_change(_with_names(change)))


class AccommodationView(APIView):
    """Proctor: change or delete one accommodation."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(
        request=rest.AccommodationPatch,
        responses={200: rest.AccommodationChange, **errors(*_BODY, 401, 403, 404, 409)},
    )
    def patch(self, request, accommodation_id: int):
        data = _valid(rest.AccommodationPatch, request.data)
        change = time_rules.update_accommodation(by=request.user, accommodation_id=accommodation_id, **data)
        return Response(builders.accommodation_change(_with_names(change)))

    @extend_schema(
        parameters=[rest.DeleteQuery], responses={200: rest.AccommodationChange, **errors(400, 401, 403, 404, 409)}
    )
    def delete(self, request, accommodation_id: int):
        query = _valid_query(rest.DeleteQuery, request.query_params)
        change = time_rules.delete_accommodation(by=request.user, accommodation_id=accommodation_id, **query)
        return Response(builders.accommodation_change(change))


class AccommodationImportView(APIView):
    """Proctor: accommodations from CSV text (`username,multiplier,extra_minutes,reason`); each bad row reported."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=rest.ImportRequest, responses={200: rest.ImportReport, **errors(*_BODY, 401, 403, 404)})
    def post(self, request):
        data = _valid(rest.ImportRequest, request.data)
        report = time_rules.import_accommodations(
            by=request.user,
            text=data["csv"],
            exam_id=data.get("exam_id"),
            apply_to_running=data.get("apply_to_running", False),
        )
        return Response(builders.import_report(report))


class CloseOverridesView(APIView):
    """Proctor: the exam's per-student closes; set one (a running attempt's end moves at once)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.CloseOverrides, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        selectors.get_exam(exam_id)
        return Response(builders.close_overrides(selectors.close_overrides(exam_id=exam_id)))

    @extend_schema(
        request=rest.CloseOverrideRequest,
        responses={200: rest.CloseOverrideChange, **errors(*_BODY, 401, 403, 404)},
    )
    def post(self, request, exam_id: int):
        data = _valid(rest.CloseOverrideRequest, request.data)
        change = time_rules.set_close_override(by=request.user, exam_id=exam_id, **data)
        return Response(builders.close_override_change(_with_names(change)))


class CloseOverrideView(APIView):
    """Proctor: remove a close override (a running attempt's close goes back to the exam's)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(request=None, responses={200: rest.CloseOverrideChange, **errors(401, 403, 404)})
    def delete(self, request, override_id: int):
        change = time_rules.delete_close_override(by=request.user, override_id=override_id)
        return Response(builders.close_override_change(change))


class AuditView(APIView):
    """Proctor: an attempt's deadline explained line by line from its events (who, why, by how much)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={200: rest.AuditLog, **errors(401, 403, 404)})
    def get(self, request, attempt_id: int):
        return Response(builders.audit_log(audit.explain(selectors.get_attempt(attempt_id))))


class AuditCsvView(APIView):
    """Proctor: an attempt's audit log as CSV (one row per line)."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, **errors(401, 403, 404)})
    def get(self, request, attempt_id: int):
        attempt = selectors.get_attempt(attempt_id)
        return _csv(audit.csv_rows([audit.explain(attempt)]), f"attempt-{attempt.pk}-audit.csv")


class ExamAuditCsvView(APIView):
    """Proctor: the audit log of every attempt of an exam as CSV, streamed a chunk of attempts at a time."""

    permission_classes = [IsAuthenticated, IsProctor]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, **errors(401, 403, 404)})
    def get(self, request, exam_id: int):
        exam = selectors.get_exam(exam_id)
        return _csv(audit.csv_rows(audit.exam_explanations(exam.pk)), f"exam-{exam.pk}-audit.csv")


def _csv(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _with_names(change: time_rules.RuleChange) -> time_rules.RuleChange:
    """The change with its rule's student and setter loaded (the builders read their usernames)."""
    rule = change.rule
    if rule is not None:
        rule = type(rule).objects.select_related("user", "created_by").get(pk=rule.pk)
    return time_rules.RuleChange(rule, change.applied, change.not_applied)


def _valid_query(declaration, params) -> dict:
    """Query parameters validated by their declaration; one it does not declare is refused (`invalid`)."""
    unknown = sorted(set(params) - set(declaration().fields))
    if unknown:
        raise BadInput(codes.INVALID, f"Unknown query parameter(s): {', '.join(unknown)}.")
    return validate(declaration, params.dict())


def _valid(declaration, data) -> dict:
    """The body validated by its declaration, as a socket message is (exams/contract/parsing.py)."""
    if not isinstance(data, dict):
        raise BadInput(codes.INVALID, "The body must be a JSON object.")
    return validate(declaration, data)
