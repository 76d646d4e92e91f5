"""The exam room on the sockets (issue 12 §2): announcements pushed and replayed, acknowledgements
seen live by proctors, questions asked and answered in place. WebsocketCommunicator on the real
ASGI app, the real Redis channel layer and the real database; every frame checked against its
declaration. What must not reach a socket is proved by a later event that must."""

import json

import pytest
from channels.db import database_sync_to_async

from exams import announcements, clock, services
from exams.contract.limits import MAX_STUDENT_QUESTION_LENGTH
from exams.room_models import Announcement
from realtime.hub import get_hub
from tests.realtime.test_consumers import (
    attempt_path,
    frame_of,
    next_frame,
    open_socket,
    proctor_path,
    request,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

start_attempt = database_sync_to_async(services.start_attempt)
send_announcement = database_sync_to_async(announcements.send_announcement)


async def seated(make_user, exam, name: str):
    """A student with an attempt at `exam` and an open socket past its `timer` frame."""
    user = await database_sync_to_async(make_user)(username=name)
    attempt = (await start_attempt(user=user, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), user)
    assert (await next_frame(comm, skip_ticks=False))["type"] == "timer"
    return user, attempt, comm


async def pushed(comm) -> dict:
    """The next pushed event, past ticks and any `room` resync (a hub that lost track for a moment,
    on a busy machine, resends the state; a push is what these tests wait for)."""
    while (frame := await next_frame(comm))["type"] == "room":
        pass
    return frame


async def act(desk, message: dict) -> dict:
    """A proctor's action and its `ack` (presence events about the students may come first)."""
    await desk.send_to(text_data=json.dumps(message))
    return await frame_of(desk, "ack")


async def proctor_socket(proctor, exam):
    comm = await open_socket(proctor_path(exam.pk), proctor)
    assert (await next_frame(comm))["type"] == "snapshot"
    return comm


async def test_an_announcement_reaches_every_student_of_the_exam_at_once_and_no_other(
    make_user, make_exam, exam, proctor
):
    _, _, ann = await seated(make_user, exam, "ann")
    _, _, bob = await seated(make_user, exam, "bob")
    other_exam = await database_sync_to_async(make_exam)()
    _, _, carl = await seated(make_user, other_exam, "carl")
    desk = await proctor_socket(proctor, exam)

    reply = await act(desk, {"type": "announce", "message": "Q3: option C reads 42.", "request_id": "a1"})
    assert reply["type"] == "ack" and reply["action"] == "announce" and reply["request_id"] == "a1"
    assert reply["to"] == "exam" and reply["recipients"] == 2 and reply["acks"] == []
    for comm in (ann, bob):
        heard = await pushed(comm)
        assert heard["type"] == "announcement" and heard["id"] == reply["id"]
        assert heard["message"] == "Q3: option C reads 42." and heard["acknowledged_at"] is None
    sent = await frame_of(desk, "announcement_sent")  # presence events may come first
    assert sent["announcement"]["id"] == reply["id"]

    # Carl sits another exam: the next frame he gets is his own exam's announcement, not ann's.
    own = await send_announcement(exam_id=other_exam.pk, by=proctor, message="Carl's room only.")
    assert (await pushed(carl))["id"] == own.pk
    for comm in (ann, bob, carl, desk):
        await comm.disconnect()


async def test_one_students_announcement_reaches_them_only(make_user, exam, proctor):
    _, _, ann = await seated(make_user, exam, "ann")
    bob_user, bob_attempt, bob = await seated(make_user, exam, "bob")
    desk = await proctor_socket(proctor, exam)
    reply = await act(desk, {"type": "announce", "message": "Bob: your mic.", "attempt_id": bob_attempt.pk})
    assert reply["to"] == "student" and reply["student"] == "bob" and reply["recipients"] == 1
    heard = await pushed(bob)
    assert heard["type"] == "announcement" and heard["to"] == "student"
    # Ann's next frame is the announcement to everyone that followed, not Bob's.
    everyone = await send_announcement(exam_id=exam.pk, by=proctor, message="All: ten minutes.")
    assert (await pushed(ann))["id"] == everyone.pk
    for comm in (ann, bob, desk):
        await comm.disconnect()


async def test_acknowledgements_reach_the_proctors_with_names_and_counts(make_user, exam, proctor):
    _, _, ann = await seated(make_user, exam, "ann")
    _, _, bob = await seated(make_user, exam, "bob")
    desk = await proctor_socket(proctor, exam)
    sent = await send_announcement(exam_id=exam.pk, by=proctor, message="Pens down at 11.")
    await frame_of(ann, "announcement")
    await frame_of(bob, "announcement")
    await frame_of(desk, "announcement_sent")

    acked = await request(ann, {"type": "acknowledge", "announcement_id": sent.pk, "request_id": 7})
    assert acked == {
        "type": "acknowledged",
        "announcement_id": sent.pk,
        "acknowledged_at": acked["acknowledged_at"],
        "request_id": 7,
    }
    seen = await frame_of(desk, "announcement_ack")
    assert seen["announcement_id"] == sent.pk and seen["ack"]["student"] == "ann" and seen["acknowledged"] == 1
    await request(bob, {"type": "acknowledge", "announcement_id": sent.pk})
    seen = await frame_of(desk, "announcement_ack")
    assert seen["ack"]["student"] == "bob" and seen["acknowledged"] == 2
    # A repeat changes nothing and tells nobody: the proctor's next frame is a later event.
    again = await request(ann, {"type": "acknowledge", "announcement_id": sent.pk})
    assert again["acknowledged_at"] == acked["acknowledged_at"]
    later = await send_announcement(exam_id=exam.pk, by=proctor, message="Later.")
    while (frame := await next_frame(desk))["type"] != "announcement_sent":
        assert frame["type"] != "announcement_ack", frame  # presence events may come between
    assert frame["announcement"]["id"] == later.pk
    for comm in (ann, bob, desk):
        await comm.disconnect()


async def test_a_late_joiner_and_a_reconnect_get_the_announcements_in_the_connect_state(make_user, exam, proctor):
    first = await send_announcement(exam_id=exam.pk, by=proctor, message="Before you came.")
    user, attempt, ann = await seated(make_user, exam, "ann")
    state = await next_frame(ann)
    assert state["type"] == "room" and [a["id"] for a in state["announcements"]] == [first.pk]
    await request(ann, {"type": "acknowledge", "announcement_id": first.pk})
    await ann.disconnect()

    second = await send_announcement(exam_id=exam.pk, by=proctor, message="While you were away.")
    again = await open_socket(attempt_path(attempt.pk), user)
    assert (await next_frame(again, skip_ticks=False))["type"] == "timer"
    state = await next_frame(again)
    assert state["type"] == "room"
    assert [(a["id"], a["acknowledged_at"] is None) for a in state["announcements"]] == [
        (first.pk, False),
        (second.pk, True),
    ]
    await again.disconnect()


async def test_a_question_is_answered_in_place_to_its_student_only(make_user, exam, proctor):
    _, ann_attempt, ann = await seated(make_user, exam, "ann")
    _, _, bob = await seated(make_user, exam, "bob")
    desk = await proctor_socket(proctor, exam)

    asked = await request(ann, {"type": "ask", "text": "Is Q2 in radians?", "request_id": "q"})
    assert asked["type"] == "question" and asked["answer"] is None and asked["request_id"] == "q"
    inbox = await frame_of(desk, "question")
    assert inbox["question"]["student"] == "ann" and inbox["question"]["answer"] is None

    reply = await act(desk, {"type": "answer_question", "question_id": asked["id"], "text": "Yes, radians."})
    assert reply["type"] == "ack" and reply["action"] == "answer_question" and reply["answer"] == "Yes, radians."
    answered = await frame_of(ann, "question")
    assert answered["id"] == asked["id"] and answered["answer"] == "Yes, radians."
    # Bob's next frame is a later announcement: the answer was not his.
    later = await send_announcement(exam_id=exam.pk, by=proctor, message="All: ten minutes.")
    assert (await pushed(bob))["id"] == later.pk
    for comm in (ann, bob, desk):
        await comm.disconnect()


async def test_bad_room_messages_get_errors_and_the_socket_stays(make_user, exam, proctor):
    _, _, ann = await seated(make_user, exam, "ann")
    too_long = await request(ann, {"type": "ask", "text": "x" * (MAX_STUDENT_QUESTION_LENGTH + 1), "request_id": 1})
    assert too_long["type"] == "error" and too_long["code"] == "invalid" and too_long["request_id"] == 1
    unknown = await request(ann, {"type": "acknowledge", "announcement_id": 999999})
    assert unknown["type"] == "error" and unknown["code"] == "not_found"
    # Students can't announce; the socket is still served.
    refused = await request(ann, {"type": "announce", "message": "hi"})
    assert refused["type"] == "error" and refused["code"] == "unknown_type"
    asked = await request(ann, {"type": "ask", "text": "Still here?"})
    assert asked["type"] == "question"
    await ann.disconnect()


async def test_a_resync_replays_what_was_missed(make_user, exam, proctor):
    """After the hub lost track (Redis away), the room is sent again from the database."""
    _, _, ann = await seated(make_user, exam, "ann")
    desk = await proctor_socket(proctor, exam)
    # Stored without being pushed, as if Redis had dropped the message.
    missed = await database_sync_to_async(Announcement.objects.create)(
        exam=exam, message="Missed.", sent_at=clock.now(), sent_by=proctor
    )
    await get_hub().resync_all()
    state = await frame_of(ann, "room")
    assert [a["id"] for a in state["announcements"]] == [missed.pk]
    room = await frame_of(desk, "room")
    assert [a["id"] for a in room["announcements"]] == [missed.pk] and room["announcements"][0]["recipients"] == 1
    for comm in (ann, desk):
        await comm.disconnect()


async def test_a_resync_replays_missed_announcements_to_the_waiting_room(make_user, make_exam, proctor):
    """A waiting student's announcements are sent again from the database after the hub lost track."""
    exam = await database_sync_to_async(make_exam)(waiting_room=True)
    ann, bob = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    waiting = [await open_socket(f"/ws/exams/{exam.pk}/wait/", user) for user in (ann, bob)]
    for comm in waiting:
        assert (await next_frame(comm))["type"] == "waiting"
    create = database_sync_to_async(Announcement.objects.create)
    missed = await create(exam=exam, message="Missed.", sent_at=clock.now(), sent_by=proctor)
    only_bob = await create(exam=exam, recipient=bob, message="Bob.", sent_at=clock.now(), sent_by=proctor)
    await get_hub().resync_all()
    replays = [await frame_of(comm, "announcements") for comm in waiting]
    assert [a["id"] for a in replays[0]["announcements"]] == [missed.pk]
    assert [a["id"] for a in replays[1]["announcements"]] == [missed.pk, only_bob.pk]
    for comm in waiting:
        await comm.disconnect()
