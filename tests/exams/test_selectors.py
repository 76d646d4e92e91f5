"""Reads (exams/selectors.py): models and plain values, from the database only."""

import pytest

from exams import review, selectors, services
from exams.errors import Forbidden, NotFound
from exams.models import Question

pytestmark = pytest.mark.django_db


def start(user, exam):
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def answer(attempt, n: int, option: str = "A"):
    question = Question.objects.filter(exam_id=attempt.exam_id)[n]
    return services.save_answer(
        user=attempt.user, attempt_id=attempt.pk, question_id=question.pk, selected_option=option
    )


def test_get_attempt_and_own_attempt(student, make_user, exam):
    attempt = start(student, exam)
    assert selectors.get_attempt(attempt.pk).exam.title == exam.title
    assert selectors.get_own_attempt(user=student, attempt_id=attempt.pk) == attempt
    with pytest.raises(Forbidden) as info:
        selectors.get_own_attempt(user=make_user(), attempt_id=attempt.pk)
    assert info.value.code == "not_owner"
    with pytest.raises(NotFound):
        selectors.get_attempt(attempt.pk + 1000)
    with pytest.raises(NotFound):
        selectors.get_exam(exam.pk + 1000)


def test_the_sheet_holds_the_questions_in_order_and_the_answers(student, exam):
    attempt = start(student, exam)
    answer(attempt, 2, "B")
    answer(attempt, 0, "A")
    sheet = selectors.attempt_sheet(attempt, review.DURING_ATTEMPT)
    assert [q.order for q in sheet.questions] == [1, 2, 3]
    assert sheet.answers == {sheet.questions[0].pk: "A", sheet.questions[2].pk: "B"}
    assert (sheet.attempt, sheet.review) == (attempt, review.DURING_ATTEMPT)


def test_progress_is_read_for_many_attempts_at_once(make_user, make_exam, django_assert_num_queries):
    small, large = make_exam(questions=2), make_exam(questions=5)
    first, second, third = start(make_user(), small), start(make_user(), large), start(make_user(), large)
    answer(first, 0)
    last = answer(first, 1)
    answer(second, 4)
    attempts = selectors.attempts_in_order([third.pk, first.pk, second.pk])
    with django_assert_num_queries(2):
        progress = selectors.with_progress(attempts)
    assert [p.attempt.pk for p in progress] == [first.pk, second.pk, third.pk]
    assert [(p.answered, p.total_questions) for p in progress] == [(2, 2), (1, 5), (0, 5)]
    assert (progress[0].last_answer_at, progress[2].last_answer_at) == (last.saved_at, None)


def test_proctor_attempts_by_exam_or_by_id(make_user, make_exam, django_assert_num_queries):
    exam, other = make_exam(), make_exam()
    mine = [start(make_user(), exam) for _ in range(3)]
    elsewhere = start(make_user(), other)
    with django_assert_num_queries(3):
        by_exam = selectors.proctor_attempts(exam_id=exam.pk)
        [p.attempt.user.get_username() for p in by_exam]  # loaded with the attempts
    assert [p.attempt.pk for p in by_exam] == [a.pk for a in mine]
    assert [p.attempt.pk for p in selectors.proctor_attempts(attempt_ids=[elsewhere.pk, mine[1].pk])] == [
        mine[1].pk,
        elsewhere.pk,
    ]


def test_exams_for_a_student_are_the_published_ones_with_their_attempts(student, make_user, make_exam):
    exam = make_exam(max_attempts=2)
    make_exam(published=False)
    first = start(student, exam)
    services.submit_attempt(user=student, attempt_id=first.pk)
    second = start(student, exam)
    start(make_user(), exam)  # someone else's
    [listing] = selectors.exams_for_student(student)
    assert (listing.exam.pk, listing.total_questions) == (exam.pk, 3)
    assert [(a.pk, a.number) for a in listing.attempts] == [(first.pk, 1), (second.pk, 2)]


def test_exams_for_a_proctor_count_attempts_in_progress(make_user, make_exam):
    exam, hidden = make_exam(), make_exam(published=False, questions=1)
    start(make_user(), exam)
    done = start(make_user(), exam)
    services.submit_attempt(user=done.user, attempt_id=done.pk)
    rows = [(e.exam.pk, e.total_questions, e.ongoing) for e in selectors.exams_for_proctor()]
    assert rows == [(exam.pk, 3, 1), (hidden.pk, 1, 0)]


def test_with_ids_selects_as_pk_in_does_in_updates_and_subqueries(make_user, exam):
    from exams.models import Attempt, AttemptStatus, Exam

    attempts = [start(make_user(), exam) for _ in range(3)]
    ids = [attempts[0].pk, attempts[2].pk]
    assert sorted(Attempt.objects.with_ids(ids).values_list("pk", flat=True)) == sorted(ids)
    assert not Attempt.objects.with_ids([]).exists()
    # In a subquery the table has another alias: the lookup names the column through it.
    assert list(Exam.objects.filter(pk__in=Attempt.objects.with_ids(ids).values("exam_id"))) == [exam]
    assert Attempt.objects.with_ids(ids).update(status=AttemptStatus.TIMEOUT) == 2
    assert Attempt.objects.get(pk=attempts[1].pk).status == AttemptStatus.ONGOING
    with pytest.raises(ValueError):
        Attempt.objects.with_ids(["1) OR (1=1"])  # written into the SQL as integers, or not at all


def test_ids_in_is_a_condition_like_any_other(make_user, exam):
    from exams.id_lists import ids_in
    from exams.models import Attempt

    ids = [start(make_user(), exam).pk for _ in range(3)]
    assert list(Attempt.objects.exclude(ids_in("pk", ids[:2])).values_list("pk", flat=True)) == ids[2:]
    assert Attempt.objects.exclude(ids_in("pk", [])).count() == 3  # as `exclude(pk__in=[])`
    assert Attempt.objects.filter(ids_in("exam_id", [exam.pk]) | ids_in("pk", [])).count() == 3
