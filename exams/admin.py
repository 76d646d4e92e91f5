from django.contrib import admin, messages

from . import services, time_rules
from .models import (
    Accommodation,
    Answer,
    Attempt,
    AttemptEvent,
    CloseOverride,
    Enrollment,
    Exam,
    ExamEvent,
    Question,
)


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
        "late_start",
        "late_end",
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

    list_display = (
        "id",
        "user",
        "exam",
        "status",
        "started_at",
        "allotted_seconds",
        "accommodation_seconds",
        "extra_seconds",
        "close_at",
        "deadline_at",
        "score",
        "max_score",
    )
    list_filter = ("status", "exam")
    search_fields = ("user__username",)
    inlines = [AnswerInline, EventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Accommodation)
class AccommodationAdmin(admin.ModelAdmin):
    """Saved through exams/time_rules.py; a change here applies from the student's next start (the REST API's
    `apply_to_running` changes a running attempt too)."""

    list_display = ("id", "user", "exam", "multiplier", "extra_seconds", "reason", "created_by", "updated_at")
    list_filter = ("exam",)
    search_fields = ("user__username", "reason")
    fields = ("user", "exam", "multiplier", "extra_seconds", "reason")
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change):
        if change:
            time_rules.update_accommodation(
                by=request.user,
                accommodation_id=obj.pk,
                multiplier=obj.multiplier,
                extra_seconds=obj.extra_seconds,
                reason=obj.reason,
            )
        else:
            result = time_rules.set_accommodation(
                by=request.user,
                username=obj.user.get_username(),
                exam_id=obj.exam_id,
                multiplier=obj.multiplier,
                extra_seconds=obj.extra_seconds,
                reason=obj.reason,
            )
            obj.pk = result.rule.pk if result.rule else None


@admin.register(CloseOverride)
class CloseOverrideAdmin(admin.ModelAdmin):
    """Saved through exams/time_rules.py: the student's running attempt moves with it at once."""

    list_display = ("id", "user", "exam", "close_at", "reason", "created_by", "updated_at")
    list_filter = ("exam",)
    search_fields = ("user__username", "reason")
    fields = ("user", "exam", "close_at", "reason")
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change):
        result = time_rules.set_close_override(
            by=request.user,
            username=obj.user.get_username(),
            exam_id=obj.exam_id,
            close_at=obj.close_at,
            reason=obj.reason,
        )
        obj.pk = result.rule.pk if result.rule else None

    def delete_model(self, request, obj):
        time_rules.delete_close_override(by=request.user, override_id=obj.pk)
