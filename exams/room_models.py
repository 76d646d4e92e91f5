"""What proctors and students say to each other during an exam, and what proctors record:
announcements (and who acknowledged them), students' questions with their answers, incidents
(issue 12 §2, §3). Services: exams/announcements.py, exams/student_questions.py, exams/incidents.py."""

from django.conf import settings
from django.db import models

from .models import Attempt, Exam, IncidentCategory


class Announcement(models.Model):
    """A proctor's message to the whole exam (`recipient` null) or to one student."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="announcements")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message = models.TextField()
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["exam", "sent_at"], name="announcement_exam_sent")]

    def __str__(self) -> str:
        return f"exam {self.exam_id} announcement {self.pk}"


class AnnouncementAck(models.Model):
    """A student saw an announcement and said so (once: the first acknowledgement stands)."""

    announcement = models.ForeignKey(Announcement, on_delete=models.CASCADE, related_name="acks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["announcement", "user"], name="announcement_ack_once")]


class StudentQuestion(models.Model):
    """A student's question to the proctors (the attempt's thread is its questions in order), answered in place."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="student_questions")
    text = models.TextField()
    asked_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["attempt", "asked_at"], name="student_question_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.attempt_id} question {self.pk}"


class Incident(models.Model):
    """What a proctor recorded against an attempt, or the whole exam (`attempt` null)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="incidents")
    attempt = models.ForeignKey(Attempt, null=True, blank=True, on_delete=models.CASCADE, related_name="incidents")
    category = models.CharField(max_length=16, choices=IncidentCategory.choices)
    note = models.TextField()
    # Time granted with it (through the extension service), 0 for none.
    granted_seconds = models.PositiveIntegerField(default=0)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"exam {self.exam_id} incident {self.pk} ({self.category})"
