"""§3 Exam-wide (or selection) time control (exams/time_control.change_time): every ongoing attempt in one
action, by minutes or by a percent of each one's allotted time, a bounded number of statements; Redis moves
with it; shortening and the hard close have clear rules."""

from datetime import timedelta

import pytest

from exams import clock, deadlines, services, time_control, timers
from exams.errors import ServiceError
from exams.models import Attempt, AttemptEvent, EventKind, ExamEvent

from .conftest import Statements, fresh

pytestmark = pytest.mark.django_db


def _code(code, **kwargs):
    with pytest.raises(ServiceError) as info:
        time_control.change_time(**kwargs)
    assert info.value.code == code, info.value.message
    return info.value


def test_minutes_extend_every_ongoing_attempt_in_one_update(proctor, exam, start_many, clean_redis):
    attempts = start_many(exam, 30)
    finished = attempts[0]
    services.submit_attempt(user=finished.user, attempt_id=finished.pk)

    with Statements() as statements:
        done = time_control.change_time(by=proctor, exam_id=exam.pk, unit="minutes", amount=5, reason="late start")

    assert statements.count("UPDATE") == 1
    assert sorted(done.attempt_ids) == sorted(a.pk for a in attempts[1:])
    for before, after in zip(attempts[1:], fresh(attempts[1:]), strict=True):
        assert after.deadline_at - before.deadline_at == timedelta(minutes=5)
        assert after.extra_seconds == 300 and after.deadline_at == deadlines.deadline_of(after)
        assert clean_redis.zscore(timers.DEADLINES_KEY, str(after.pk)) == clock.to_ms(after.deadline_at)
    assert fresh([finished])[0].extra_seconds == 0
    event = AttemptEvent.objects.get(attempt_id=attempts[1].pk, kind=EventKind.TIME_CHANGED)
    assert event.detail == {"seconds": 300, "minutes": 5, "by": proctor.username, "reason": "late start"}
    assert ExamEvent.objects.get(exam=exam, kind="time_changed").detail["attempts"] == 29


def test_percent_keeps_each_accommodations_ratio(proctor, exam, start_many):
    plain, accommodated = start_many(exam, 2)
    # A 1.5x accommodation: 90 s allotted of the exam's 60.
    Attempt.objects.filter(pk=accommodated.pk).update(**deadlines.timeline_update(allotted_seconds=90))

    time_control.change_time(by=proctor, exam_id=exam.pk, unit="percent", amount=10)

    plain_now, accommodated_now = fresh([plain, accommodated])
    assert (plain_now.extra_seconds, accommodated_now.extra_seconds) == (6, 9)
    assert accommodated_now.deadline_at - accommodated.deadline_at == timedelta(seconds=30 + 9)


def test_a_selection_changes_only_those(proctor, exam, start_many, make_exam):
    chosen, other = start_many(exam, 2)
    [stranger] = start_many(make_exam(), 1)
    time_control.change_time(by=proctor, exam_id=exam.pk, unit="minutes", amount=2, attempt_ids=[chosen.pk])
    assert [a.extra_seconds for a in fresh([chosen, other])] == [120, 0]
    _code("not_in_exam", by=proctor, exam_id=exam.pk, unit="minutes", amount=2, attempt_ids=[stranger.pk])


def test_shortening_below_a_minute_left_is_refused_and_changes_nothing(proctor, make_exam, start_many):
    exam = make_exam(duration=600)
    attempts = start_many(exam, 3)
    error = _code("too_short", by=proctor, exam_id=exam.pk, unit="minutes", amount=-10)
    assert "3 attempt(s)" in error.message
    assert [a.deadline_at for a in fresh(attempts)] == [a.deadline_at for a in attempts]
    # Down to more than a minute left is fine.
    time_control.change_time(by=proctor, exam_id=exam.pk, unit="minutes", amount=-8)
    assert all(a.extra_seconds == -480 for a in fresh(attempts))


def test_a_paused_attempt_is_changed_and_stays_paused(proctor, exam, start_many, clean_redis, on_commit):
    [attempt] = start_many(exam, 1)
    with on_commit():
        time_control.pause(by=proctor, exam_id=exam.pk, category="examinee", attempt_ids=[attempt.pk])
    time_control.change_time(by=proctor, exam_id=exam.pk, unit="minutes", amount=3)
    [after] = fresh([attempt])
    assert after.is_paused and after.deadline_at - attempt.deadline_at == timedelta(minutes=3)
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) is None  # no timer while paused


def test_running_past_the_hard_close_needs_an_explicit_choice(proctor, make_exam, start_many):
    exam = make_exam(duration=600, closes_at=clock.now() + timedelta(minutes=12))
    [attempt] = start_many(exam, 1)

    error = _code("past_close", by=proctor, exam_id=exam.pk, unit="minutes", amount=5)
    assert "This runs 3 min past the close" in error.message
    assert "close=move" in error.message and "close=keep" in error.message

    time_control.change_time(by=proctor, exam_id=exam.pk, unit="minutes", amount=5, close="keep")
    [kept] = fresh([attempt])
    assert kept.close_at == attempt.close_at and kept.deadline_at == attempt.close_at  # clamped

    time_control.change_time(by=proctor, exam_id=exam.pk, unit="minutes", amount=1, close="move")
    [moved] = fresh([attempt])
    assert moved.deadline_at == attempt.deadline_at + timedelta(minutes=6) == moved.close_at


def test_nothing_ongoing_and_bad_arguments(proctor, student, exam):
    _code("nothing_to_change", by=proctor, exam_id=exam.pk, unit="minutes", amount=5)
    _code("invalid", by=proctor, exam_id=exam.pk, unit="hours", amount=5)
    _code("nothing_to_change", by=proctor, exam_id=exam.pk, unit="minutes", amount=0)
    _code("not_staff", by=student, exam_id=exam.pk, unit="minutes", amount=5)
