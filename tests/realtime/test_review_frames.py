"""The review policy on the student's socket: no frame carries an answer's correctness, whatever
the policy (a student reads the reviewed result over REST, where exams/review.py decides).

The frames of an attempt's whole life are scanned: the snapshot, acknowledgements, the reply to
`submit`, the end pushed to another socket, the state on connecting to an ended attempt, and a
`timeout` pushed by the expiry.
"""

import pytest
from channels.db import database_sync_to_async

from exams import services
from exams.contract import builders
from exams.models import ExpiryPath
from tests.exams.conftest import set_deadline
from tests.exams.test_review import CORRECTNESS, revealing

from .test_consumers import attempt_path, frame_of, next_frame, open_socket, request, start_attempt

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


@pytest.mark.parametrize("when", ["at_once", "closed"])
async def test_no_student_frame_reveals_correctness(make_exam, make_user, proctor, when):
    exam = await database_sync_to_async(make_exam)(review_when=when)
    # Released as well: under any policy the review is open, and still no frame carries it.
    await database_sync_to_async(services.release_review)(exam_id=exam.pk, by=proctor)
    questions = await database_sync_to_async(lambda: list(exam.questions.values_list("pk", flat=True)))()
    submitter, timed_out = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    frames = []

    attempt = (await start_attempt(user=submitter, exam_id=exam.pk)).attempt
    comm, other = await open_socket(attempt_path(attempt.pk), submitter), None
    frames.append(await next_frame(comm, skip_ticks=False))
    other = await open_socket(attempt_path(attempt.pk), submitter)
    frames.append(await next_frame(other, skip_ticks=False))
    frames.append(await request(comm, {"type": "answer", "question_id": questions[0], "selected_option": "B"}))
    frames.append(await frame_of(other, "answer_saved"))
    frames.append(reply := await request(comm, {"type": "submit"}))
    assert reply["type"] == "submitted"
    frames.append(await frame_of(other, "submitted"))
    for socket in (comm, other):
        await socket.disconnect()
    ended = await open_socket(attempt_path(attempt.pk), submitter)
    frames.append(await next_frame(ended, skip_ticks=False))
    frames.append(await frame_of(ended, "submitted"))
    await ended.disconnect()

    late = (await start_attempt(user=timed_out, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(late.pk), timed_out)
    frames.append(await next_frame(comm, skip_ticks=False))
    await database_sync_to_async(set_deadline)(late, seconds_from_now=-5)
    await database_sync_to_async(services.expire_attempts)(attempt_ids=[late.pk], path=ExpiryPath.RECONCILER)
    frames.append(await frame_of(comm, "timeout"))
    await comm.disconnect()

    assert {f["type"] for f in frames} == {"timer", "answer_saved", "submitted", "timeout"}
    assert not revealing(frames), [f for f in frames if revealing(f)]
    # ... while REST's result, for the same student at the same time, does reveal it.
    sheet = await database_sync_to_async(services.submit_attempt)(user=submitter, attempt_id=attempt.pk)
    assert revealing(builders.result(sheet)) == CORRECTNESS
