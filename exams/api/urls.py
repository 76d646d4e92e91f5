from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import comms_views, room_views, views
from .errors import api_not_found

urlpatterns = [
    path("auth/login/", views.LoginView.as_view(), name="login"),
    path("auth/refresh/", views.RefreshView.as_view(), name="refresh"),
    path("me/", views.MeView.as_view(), name="me"),
    path("exams/", views.ExamListView.as_view(), name="exams"),
    path("exam/timer/start/<int:exam_id>/", views.StartView.as_view(), name="start"),
    path("exam/timer/remaining/<int:attempt_id>/", views.RemainingView.as_view(), name="remaining"),
    path("exam/timer/submit-answer/", views.SubmitAnswerView.as_view(), name="submit-answer"),
    path("exam/timer/submit/<int:attempt_id>/", views.SubmitView.as_view(), name="submit"),
    path("exam/timer/questions/<int:attempt_id>/", views.QuestionsView.as_view(), name="questions"),
    path("exam/timer/extend/<int:attempt_id>/", views.ExtendView.as_view(), name="extend"),
    path("exam/timer/force-submit/<int:attempt_id>/", views.ForceSubmitView.as_view(), name="force-submit"),
    path("proctor/exams/", views.ProctorExamsView.as_view(), name="proctor-exams"),
    path("proctor/exams/<int:exam_id>/attempts/", views.ProctorAttemptsView.as_view(), name="proctor-attempts"),
    path("proctor/exams/<int:exam_id>/release-review/", views.ReleaseReviewView.as_view(), name="release-review"),
    path("proctor/exams/<int:exam_id>/force-submit/", views.BulkForceSubmitView.as_view(), name="bulk-force-submit"),
    path("proctor/exams/<int:exam_id>/room/", room_views.RoomView.as_view(), name="proctor-room"),
    path("proctor/exams/<int:exam_id>/at-deadline/", room_views.AtDeadlineView.as_view(), name="at-deadline"),
    path("proctor/exams/<int:exam_id>/start-now/", room_views.StartNowView.as_view(), name="start-now"),
    path("proctor/exams/<int:exam_id>/enrollments/", room_views.EnrollmentsView.as_view(), name="enrollments"),
    path(
        "proctor/exams/<int:exam_id>/enrollments/remove/", room_views.UnenrollView.as_view(), name="enrollments-remove"
    ),
    path(
        "proctor/exams/<int:exam_id>/enrollments/import/",
        room_views.EnrollmentImportView.as_view(),
        name="enrollments-import",
    ),
    path("proctor/exams/<int:exam_id>/events/", views.ExamHistoryView.as_view(), name="exam-history"),
    path("proctor/exams/<int:exam_id>/results.csv", views.ResultsCsvView.as_view(), name="results-csv"),
    path("proctor/exams/<int:exam_id>/pause/", views.PauseView.as_view(), name="pause"),
    path("proctor/exams/<int:exam_id>/resume/", views.ResumeView.as_view(), name="resume"),
    path("proctor/exams/<int:exam_id>/time/", views.TimeChangeView.as_view(), name="change-time"),
    path("proctor/attempts/<int:attempt_id>/reopen/", views.ReopenView.as_view(), name="reopen"),
    path("exam/room/<int:attempt_id>/", comms_views.StudentRoomView.as_view(), name="room"),
    path("exam/room/<int:attempt_id>/acknowledge/", comms_views.AcknowledgeView.as_view(), name="acknowledge"),
    path("exam/room/<int:attempt_id>/questions/", comms_views.AskView.as_view(), name="ask"),
    path(
        "proctor/exams/<int:exam_id>/communications/",
        comms_views.ProctorRoomView.as_view(),
        name="proctor-communications",
    ),
    path("proctor/exams/<int:exam_id>/announcements/", comms_views.AnnounceView.as_view(), name="announce"),
    path(
        "proctor/exams/<int:exam_id>/questions/<int:question_id>/answer/",
        comms_views.AnswerQuestionView.as_view(),
        name="answer-question",
    ),
    path("proctor/exams/<int:exam_id>/incidents/", comms_views.IncidentsView.as_view(), name="incidents"),
    path("proctor/accommodations/", views.AccommodationsView.as_view(), name="accommodations"),
    path("proctor/accommodations/import/", views.AccommodationImportView.as_view(), name="accommodations-import"),
    path("proctor/accommodations/<int:accommodation_id>/", views.AccommodationView.as_view(), name="accommodation"),
    path("proctor/exams/<int:exam_id>/close-overrides/", views.CloseOverridesView.as_view(), name="close-overrides"),
    path("proctor/close-overrides/<int:override_id>/", views.CloseOverrideView.as_view(), name="close-override"),
    path("proctor/attempts/<int:attempt_id>/audit/", views.AuditView.as_view(), name="audit"),
    path("proctor/attempts/<int:attempt_id>/audit.csv", views.AuditCsvView.as_view(), name="audit-csv"),
    path("proctor/exams/<int:exam_id>/audit.csv", views.ExamAuditCsvView.as_view(), name="exam-audit-csv"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^.*$", api_not_found),
]
