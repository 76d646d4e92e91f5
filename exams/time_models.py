"""The time rules set on a student before or during an exam: accommodations and close overrides (issue 11 §1, §2).

Imported at the end of exams/models.py, so Django registers them with the app's other models.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .contract.limits import MAX_ACCOMMODATION_EXTRA_SECONDS, MAX_MULTIPLIER, MAX_REASON_LENGTH, MIN_MULTIPLIER


class Accommodation(models.Model):
    """More time for a student, for one exam or (exam null) for all of their exams; applied when an attempt starts.

    A per-exam accommodation wins over the student's all-exams one.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="accommodations")
    exam = models.ForeignKey(
        "exams.Exam", null=True, blank=True, on_delete=models.CASCADE, related_name="accommodations"
    )
    multiplier = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal(MIN_MULTIPLIER)), MaxValueValidator(Decimal(MAX_MULTIPLIER))],
        help_text="The exam's duration is multiplied by this (1.5: 50% more time).",
    )
    extra_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_ACCOMMODATION_EXTRA_SECONDS)],
        help_text="Added after the multiplier.",
    )
    reason = models.CharField(max_length=MAX_REASON_LENGTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "exam"], name="accommodation_unique_per_exam"),
            models.CheckConstraint(condition=Q(multiplier__gte=Decimal(MIN_MULTIPLIER)), name="accommodation_min"),
        ]

    def __str__(self) -> str:
        scope = "all exams" if self.exam_id is None else self.exam
        return f"{self.user} x{self.multiplier} +{self.extra_seconds}s ({scope})"


class CloseOverride(models.Model):
    """A student's own hard close for an exam, in place of the exam's `closes_at` (a late arrival, an accommodation)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="close_overrides")
    exam = models.ForeignKey("exams.Exam", on_delete=models.CASCADE, related_name="close_overrides")
    close_at = models.DateTimeField()
    reason = models.CharField(max_length=MAX_REASON_LENGTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["user", "exam"], name="close_override_unique")]

    def __str__(self) -> str:
        return f"{self.user} closes {self.close_at.isoformat()} ({self.exam})"
