"""The synchronized start's writes: many students' attempts and `started` events, one INSERT ... SELECT each.

Django's `bulk_create` compiles every value of every row in Python (55,000 values and 10,000 model
instances for 2,500 students: ~13 s of one process on a loaded core). Students seated together
share their terms (start instant, allotted time, close: exams/windows.seat_terms), so a batch of
them is one statement (exams/insert_select.py) whose only per-row value, the user id, the database
reads from the user rows; their events likewise from the attempts just made.
"""

from django.contrib.auth import get_user_model
from django.db.models import F

from .insert_select import insert_like
from .models import Attempt, AttemptEvent

# Students per statement: their ids are the statement's parameters (SQLite allows 999 by default).
BATCH = 900


def _batches(ids: list[int]):
    for i in range(0, len(ids), BATCH):
        yield ids[i : i + BATCH]


def insert_attempts(template: Attempt, user_ids: list[int]) -> None:
    """One attempt like `template` (its exam, number, start, timeline, deadline) per user of `user_ids`."""
    for batch in _batches(user_ids):
        insert_like(template, get_user_model().objects.filter(pk__in=batch), user=F("pk"))


def insert_events(template: AttemptEvent, *, exam_id: int, number: int, user_ids: list[int]) -> None:
    """One event like `template` for the attempt numbered `number` of each user of `user_ids` in the exam."""
    for batch in _batches(user_ids):
        insert_like(
            template, Attempt.objects.filter(exam_id=exam_id, number=number, user_id__in=batch), attempt=F("pk")
        )
