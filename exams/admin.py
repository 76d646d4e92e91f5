from django.contrib import admin, messages

from . import services
from .models import Answer, Attempt, AttemptEvent, Enrollment, Exam, ExamEvent, Question


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 1
    fields = ("order", "text", "options", "correct_option", "points")


class ExamEventInline(admin.TabularInline):
    model = ExamEvent
    extra = 0
    readonly_fields = ("kind", "at", "by", "detail")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class EnrollmentInline(admin.TabularInline):
    """The students the exam expects (none: open to every student); bulk: `manage.py enroll_students`."""

    model = Enrollment
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("id", "exam", "user", "created_at")
    list_filter = ("exam",)
    search_fields = ("user__username", "exam__title")
    autocomplete_fields = ("user",)


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "duration_seconds",
        "published",
        "max_attempts",
        "opens_at",
        "closes_at",
        "review_shows",
        "review_when",
        "review_released_at",
    )
    list_filter = ("published", "review_when")
    search_fields = ("title",)
    readonly_fields = ("review_released_at", "started_at")
    inlines = [QuestionInline, EnrollmentInline, ExamEventInline]
    actions = ["release_review"]

    @admin.action(description="Release the review to students (exams/review.py)")
    def release_review(self, request, queryset):
        for exam in queryset:
            services.release_review(exam_id=exam.pk, by=request.user)
        self.message_user(request, f"Released the review of {queryset.count()} exam(s).", messages.SUCCESS)


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    readonly_fields = ("question", "selected_option", "saved_at")
    can_delete = False


class EventInline(admin.TabularInline):
    model = AttemptEvent
    extra = 0
    readonly_fields = ("kind", "at", "path", "lateness_ms", "detail")
    can_delete = False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    """Read-only: attempts change only through the service layer."""

    list_display = ("id", "user", "exam", "status", "started_at", "deadline_at", "extra_seconds", "score", "max_score")
    list_filter = ("status", "exam")
    search_fields = ("user__username",)
    inlines = [AnswerInline, EventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
