"""Students' questions to the proctors (issue 12 §2): one thread per attempt, each question
answered in place; the answer goes to that student's sockets only (and to the proctors)."""

import logging

from django.contrib.auth.models import User
from django.db import transaction

from . import clock, notifications
from .contract.limits import MAX_QUESTION_ANSWER_LENGTH, MAX_STUDENT_QUESTION_LENGTH, QUESTIONS_PER_WINDOW
from .errors import Conflict, Forbidden, NotFound, ServiceError
from .models import Attempt
from .room_models import StudentQuestion
from .room_rules import clean_text, require_staff, within_rate

logger = logging.getLogger(__name__)


def ask_question(*, user: User, attempt_id: int, text: str) -> StudentQuestion:
    """The student of an attempt in progress asks the proctors a question."""
    text = clean_text(text, field="text", limit=MAX_STUDENT_QUESTION_LENGTH)
    with transaction.atomic():
        # The attempt's row lock orders this against a racing end and the student's other questions.
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None:
            raise NotFound(f"Attempt {attempt_id} does not exist.")
        if attempt.user_id != user.pk:
            raise Forbidden("This attempt belongs to another user.", code="not_owner")
        if not attempt.is_ongoing or attempt.is_due(clock.now()):
            raise Conflict("This attempt has ended; questions are for the exam in progress.", code="attempt_ended")
        within_rate(
            StudentQuestion.objects.filter(attempt_id=attempt_id),
            field="asked_at",
            limit=QUESTIONS_PER_WINDOW,
            what="questions",
        )
        attempt.user = user  # its owner: the proctors' frame names them
        question = StudentQuestion.objects.create(attempt=attempt, text=text, asked_at=clock.now())
        transaction.on_commit(lambda: notifications.question_changed(question), robust=True)
    return question


def answer_question(*, question_id: int, by: User, text: str, exam_id: int | None = None) -> StudentQuestion:
    """A proctor answers a student's question in place (a second answer replaces the first)."""
    require_staff(by)
    text = clean_text(text, field="text", limit=MAX_QUESTION_ANSWER_LENGTH)
    with transaction.atomic():
        question = StudentQuestion.objects.select_for_update().filter(pk=question_id).first()
        if question is None:
            raise NotFound(f"Question {question_id} does not exist.")
        attempt = Attempt.objects.select_related("user").get(pk=question.attempt_id)
        if exam_id is not None and attempt.exam_id != exam_id:
            raise ServiceError(f"Question {question_id} was not asked in exam {exam_id}.", code="attempt_not_in_exam")
        question.answer, question.answered_at, question.answered_by = text, clock.now(), by
        question.save(update_fields=["answer", "answered_at", "answered_by"])
        question.attempt = attempt
        transaction.on_commit(lambda: notifications.question_changed(question), robust=True)
    logger.info("question %s of attempt %s answered by %s", question_id, attempt.pk, by.get_username())
    return question
