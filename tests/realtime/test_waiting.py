"""A process's waiting rooms (realtime/waiting.py): the `start` frames of a seating."""

import json
from decimal import Decimal

import pytest

from exams import clock, review, waiting_room
from exams.contract import builders
from exams.models import Accommodation, Answer, Attempt, CheckIn
from realtime import waiting
from tests.support.contract_check import check_frame

pytestmark = pytest.mark.django_db


def test_start_frames_are_encoded_once_per_terms_and_spliced_per_student(make_exam, make_user, proctor, monkeypatch):
    """At ~17 ms a frame on a loaded loop, encoding 2,500 frames one by one held a start back by seconds:
    students seated together share one encoding of everything but their attempt id (and questions)."""
    exam = make_exam(duration=600, questions=4, waiting_room=True)
    students = [make_user() for _ in range(60)]
    Accommodation.objects.create(user=students[0], exam=exam, multiplier=Decimal("1.5"), reason="r")
    now = clock.now()
    CheckIn.objects.bulk_create(CheckIn(exam=exam, user=s, arrived_at=now, code_accepted_at=now) for s in students)
    waiting_room.start_now(exam_id=exam.pk, by=proctor)
    first = waiting_room.seat_students(exam_id=exam.pk, user_ids=[students[1].pk])
    Answer.objects.create(attempt=first.attempts[0], question=exam.questions.first(), selected_option="B", saved_at=now)
    seating = waiting_room.seat_students(exam_id=exam.pk, user_ids=[s.pk for s in students])
    assert len(seating.attempts) == 60

    calls = []
    real = builders.start_frame
    monkeypatch.setattr(builders, "start_frame", lambda *a, **k: calls.append(a[0].pk) or real(*a, **k))
    texts = waiting.start_texts(seating)
    # Three kinds of terms: the plain ones, the accommodation, and the attempt seated earlier (its own answers).
    assert len(calls) <= 3, calls

    for attempt in seating.attempts:
        attempt_id, text = texts[attempt.user_id]
        frame = json.loads(text)
        check_frame("waiting", frame)
        rows = builders.question_rows(seating.questions, seating.answers.get(attempt.pk, {}), review.DURING_ATTEMPT)
        expected = json.loads(json.dumps(real(Attempt.objects.get(pk=attempt.pk), exam, rows, at=clock.now())))
        assert attempt_id == attempt.pk == frame["attempt_id"]
        moving = ("server_time", "remaining_seconds")
        assert {k: v for k, v in frame.items() if k not in moving} == {
            k: v for k, v in expected.items() if k not in moving
        }
        assert frame["server_time"] <= clock.iso(clock.now())
    assert json.loads(texts[students[0].pk][1])["allowance"]["accommodation_seconds"] == 300
    assert json.loads(texts[students[1].pk][1])["questions"] != json.loads(texts[students[2].pk][1])["questions"]
