"""Redis losing its data, going away or hanging: the database's deadline stays the truth.

The outage tests run their own redis-server on a free port and kill or SIGSTOP it; the shared
one is never touched.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from exams import clock, timers
from exams.api.throttling import FailOpenScopedRateThrottle
from exams.api.views import SubmitAnswerView
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus, EventKind, Question
from tests.conftest import token_for
from tests.support.http import rest_call
from tests.support.processes import daphne

from .conftest import ANSWER_URL, assert_error, questions_url, remaining_url, set_deadline, start_url, submit_url

# The TTL runs to the first millisecond the attempt is due: deadline (ms) + grace + 1 (exams/deadlines.py).
SLACK_MS = 1500


# --- FLUSHDB mid-attempt --------------------------------------------------------------


@pytest.mark.django_db
def test_flushdb_mid_attempt_keeps_the_true_remaining_time(client_for, student, exam, clean_redis):
    api = client_for(student)
    attempt_id = api.post(start_url(exam.pk)).json()["attempt_id"]
    # 40 of the 60 s have gone by when Redis loses everything.
    attempt = set_deadline(Attempt.objects.get(pk=attempt_id), seconds_from_now=20)
    deadline_ms = clock.to_ms(attempt.deadline_at)
    clean_redis.flushdb()

    body = api.get(remaining_url(attempt_id)).json()

    assert body["status"] == "ongoing"
    assert 19 <= body["remaining_seconds"] <= 20
    assert body["deadline"] == clock.iso(attempt.deadline_at)
    # The timer is back with the true remaining ms, not a fresh 60 s.
    assert 20_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(attempt_id)) <= 20_000 + 1
    assert int(clean_redis.get(timers.timer_key(attempt_id))) == deadline_ms
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt_id)) == deadline_ms


@pytest.mark.django_db
def test_after_a_flushdb_resume_answer_and_submit_carry_on(client_for, student, exam, clean_redis):
    api = client_for(student)
    attempt_id = api.post(start_url(exam.pk)).json()["attempt_id"]
    set_deadline(Attempt.objects.get(pk=attempt_id), seconds_from_now=30)
    clean_redis.flushdb()

    resumed = api.post(start_url(exam.pk))
    assert resumed.status_code == 200
    assert resumed.json()["attempt_id"] == attempt_id and 29 <= resumed.json()["remaining_seconds"] <= 30
    assert 30_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(attempt_id)) <= 30_000 + 1

    clean_redis.flushdb()
    question = Question.objects.filter(exam=exam).first()
    answer = api.post(
        ANSWER_URL, {"attempt_id": attempt_id, "question_id": question.pk, "selected_option": "A"}, format="json"
    )
    assert answer.status_code == 200
    assert api.get(questions_url(attempt_id)).status_code == 200
    result = api.post(submit_url(attempt_id)).json()
    assert (result["status"], result["score"]) == ("completed", 1)


# --- Redis down -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_start_with_redis_down_is_503_and_leaves_nothing(client_for, student, exam, private_redis):
    api = client_for(student)
    private_redis.kill()

    response = api.post(start_url(exam.pk))

    error = assert_error(response, 503, "service_unavailable")
    # The start's own message, not the generic handler's: the timer write is what failed.
    assert "timer service" in error["message"].lower()
    assert not Attempt.objects.exists()
    assert not AttemptEvent.objects.exists()
    # The database and authentication are fine meanwhile: the 503 came from the timer.
    assert api.get("/api/exams/").status_code == 200

    # Once Redis is back, the same request starts the attempt.
    private_redis.start()
    assert api.post(start_url(exam.pk)).status_code == 201
    assert Attempt.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_an_attempt_carries_on_from_the_database(client_for, student, exam, private_redis):
    api = client_for(student)
    attempt_id = api.post(start_url(exam.pk)).json()["attempt_id"]
    set_deadline(Attempt.objects.get(pk=attempt_id), seconds_from_now=40)
    q1, q2, _ = Question.objects.filter(exam=exam)
    private_redis.kill()

    remaining = api.get(remaining_url(attempt_id))
    assert remaining.status_code == 200
    assert remaining.json()["status"] == "ongoing" and 39 <= remaining.json()["remaining_seconds"] <= 40

    resumed = api.post(start_url(exam.pk))
    assert resumed.status_code == 200 and resumed.json()["attempt_id"] == attempt_id

    for question, option in ((q1, "A"), (q2, "B")):
        saved = api.post(
            ANSWER_URL, {"attempt_id": attempt_id, "question_id": question.pk, "selected_option": option}, format="json"
        )
        assert saved.status_code == 200, saved.content
    assert Answer.objects.filter(attempt_id=attempt_id).count() == 2
    assert api.get(questions_url(attempt_id)).status_code == 200

    result = api.post(submit_url(attempt_id))
    assert result.status_code == 200
    assert (result.json()["status"], result.json()["score"]) == ("completed", 1)
    assert Attempt.objects.get(pk=attempt_id).status == AttemptStatus.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_an_expired_attempt_still_times_out_on_access(client_for, student, exam, private_redis):
    api = client_for(student)
    attempt_id = api.post(start_url(exam.pk)).json()["attempt_id"]
    private_redis.kill()
    set_deadline(Attempt.objects.get(pk=attempt_id), seconds_from_now=-1)

    body = api.get(remaining_url(attempt_id)).json()

    assert body["status"] == "timeout" and body["remaining_seconds"] == 0
    assert AttemptEvent.objects.filter(attempt_id=attempt_id, kind=EventKind.TIMED_OUT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_extend_with_redis_down_is_503_and_changes_nothing(client_for, student, proctor, exam, private_redis):
    attempt_id = client_for(student).post(start_url(exam.pk)).json()["attempt_id"]
    before = Attempt.objects.get(pk=attempt_id)
    private_redis.kill()

    response = client_for(proctor).post(f"/api/exam/timer/extend/{attempt_id}/", {"seconds": 30}, format="json")

    assert_error(response, 503, "service_unavailable")
    after = Attempt.objects.get(pk=attempt_id)
    assert (after.deadline_at, after.extra_seconds) == (before.deadline_at, 0)
    assert not AttemptEvent.objects.filter(attempt_id=attempt_id, kind=EventKind.EXTENDED).exists()


@pytest.mark.django_db(transaction=True)
def test_login_with_redis_down_still_works(client_for, student, private_redis):
    # The login rate limit counts in Redis; while it is down the limit lets requests through.
    private_redis.kill()
    client = client_for()
    response = client.post("/api/auth/login/", {"username": student.username, "password": "pw"}, format="json")
    assert response.status_code == 200
    assert_error(client.post("/api/auth/login/", {"username": student.username, "password": "x"}, format="json"), 401)


# --- Redis hung (SIGSTOP) -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_redis_hung_an_answer_sent_in_time_is_stored(client_for, student, exam, private_redis):
    api = client_for(student)
    attempt_id = api.post(start_url(exam.pk)).json()["attempt_id"]
    # The deadline falls while Redis hangs; the answer is sent before it.
    attempt = set_deadline(Attempt.objects.get(pk=attempt_id), seconds_from_now=1)
    question = Question.objects.filter(exam=exam).first()
    private_redis.pause()

    sent_at = clock.now()
    response = api.post(
        ANSWER_URL, {"attempt_id": attempt_id, "question_id": question.pk, "selected_option": "A"}, format="json"
    )

    # Judged at receipt: the answer throttle's wait on Redis did not make it late.
    assert response.status_code == 200, response.content
    answer = Answer.objects.get(attempt_id=attempt_id, question=question)
    assert answer.selected_option == "A"
    assert sent_at <= answer.saved_at < attempt.deadline_at
    assert response.json()["saved_at"] == clock.iso(answer.saved_at)
    assert Attempt.objects.get(pk=attempt_id).status == AttemptStatus.ONGOING


@pytest.mark.network
@pytest.mark.django_db(transaction=True)
def test_with_redis_hung_answers_to_daphne_are_judged_at_arrival(student, exam, private_redis):
    """Answers sent to a real daphne before the deadline and processed after it still count.

    The throttle's wait on the hung Redis (made 1.5 s here) stands in for any delay between
    arrival and processing.
    """
    token = token_for(student)
    q1, q2, _ = Question.objects.filter(exam=exam)
    with daphne(TEST_REDIS_URL=private_redis.url, OPTIONAL_REDIS_TIMEOUT=1.5) as base:
        status, body = rest_call(base, "POST", start_url(exam.pk), token)
        assert status == 201, body
        attempt = set_deadline(Attempt.objects.get(pk=body["attempt_id"]), seconds_from_now=0.5)
        private_redis.pause()
        with ThreadPoolExecutor(2) as pool:
            sent_at = clock.now()
            replies = [
                pool.submit(
                    rest_call,
                    base,
                    "POST",
                    ANSWER_URL,
                    token,
                    {"attempt_id": attempt.pk, "question_id": q.pk, "selected_option": "A"},
                    timeout=30,
                )
                for q in (q1, q2)
            ]
            first_stored_at = _wait_for(lambda: Answer.objects.filter(attempt=attempt).exists())
            private_redis.resume()
            results = [reply.result() for reply in replies]

    assert [status for status, _ in results] == [200, 200], results
    # Processed after the deadline had passed, judged by when they arrived.
    assert first_stored_at > attempt.deadline_at
    answers = Answer.objects.filter(attempt=attempt)
    assert {a.question_id for a in answers} == {q1.pk, q2.pk}
    assert all(sent_at <= a.saved_at < attempt.deadline_at for a in answers)
    assert not AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.TIMED_OUT).exists()


def _wait_for(condition, timeout: float = 15):
    """Poll the database until `condition()` holds; returns the moment it did."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.05)
    return clock.now()


@pytest.mark.timing
@pytest.mark.django_db
def test_with_redis_hung_the_answer_throttle_lets_answers_through_at_once(student, private_redis):
    request = Request(APIRequestFactory().post(ANSWER_URL))
    request.user = student
    throttle = FailOpenScopedRateThrottle()
    private_redis.pause()

    started = time.monotonic()
    assert throttle.allow_request(request, SubmitAnswerView())
    # Its counter read gives up after OPTIONAL_REDIS_TIMEOUT (0.1 s), not redis-py's 5 s default.
    assert time.monotonic() - started < 1.0


@pytest.mark.timing
@pytest.mark.django_db(transaction=True)
def test_with_redis_hung_time_left_and_resume_answer_at_once(client_for, student, exam, private_redis):
    api = client_for(student)
    attempt_id = api.post(start_url(exam.pk)).json()["attempt_id"]
    private_redis.pause()

    # Both re-arm the timer on the way, best effort, on the fast-failing client.
    for call in (lambda: api.get(remaining_url(attempt_id)), lambda: api.post(start_url(exam.pk))):
        started = time.monotonic()
        response = call()
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "ongoing"
        assert time.monotonic() - started < 1.0


@pytest.mark.timing
@pytest.mark.django_db(transaction=True)
def test_with_redis_hung_extend_is_503_within_the_redis_timeout(client_for, student, proctor, exam, private_redis):
    attempt_id = client_for(student).post(start_url(exam.pk)).json()["attempt_id"]
    private_redis.pause()

    started = time.monotonic()
    response = client_for(proctor).post(f"/api/exam/timer/extend/{attempt_id}/", {"seconds": 30}, format="json")

    # Required Redis work: a 503 after REDIS_TIMEOUT (2 s), never a silent skip.
    assert_error(response, 503, "service_unavailable")
    assert time.monotonic() - started < 4.0
    assert Attempt.objects.get(pk=attempt_id).extra_seconds == 0
