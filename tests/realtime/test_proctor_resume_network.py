"""A proctor's dashboard reconnecting over a real socket to a real daphne: with `?since=` (the newest
`server_time` of its rows) it gets only the attempts changed while it was away (issue 13 §3)."""

import asyncio
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect

from exams import clock, row_changes, services
from exams.models import AttemptEvent, EventKind
from tests.conftest import token_for
from tests.realtime.test_sockets_network import WAIT, attempt_path, open_ws, proctor_path, recv, recv_event
from tests.support.processes import daphne

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]


def open_desk(base: str, exam_id: int, token: str, since: str):
    """The proctor socket with `?since=` (and the token after it)."""
    uri = f"{base.replace('http://', 'ws://')}{proctor_path(exam_id)}?since={since}&token={token}"
    return connect(uri, origin=base, open_timeout=WAIT)


def newest_server_time(rows: list[dict]) -> str:
    return max(rows, key=lambda r: r["server_time"])["server_time"]


def rows_of(frame: dict) -> dict[int, dict]:
    return {values[0]: dict(zip(frame["columns"], values, strict=True)) for values in frame["rows"]}


async def wait_for_event(attempt_id: int, kind: str) -> None:
    """Until the attempt's `kind` event is committed (the hub records presence on its next flush)."""
    end = time.monotonic() + 5
    while not await asyncio.to_thread(AttemptEvent.objects.filter(attempt_id=attempt_id, kind=kind).exists):
        assert time.monotonic() < end, f"no {kind} event for attempt {attempt_id}"
        await asyncio.sleep(0.05)


def started_long_ago(make_user, exam, count: int) -> tuple[list, list]:
    """`count` students with an attempt each, started long ago as far as the change log is concerned."""
    students = [make_user() for _ in range(count)]
    attempts = [services.start_attempt(user=s, exam_id=exam.pk).attempt for s in students]
    AttemptEvent.objects.update(at=clock.now() - row_changes.GRACE - timedelta(minutes=1))
    return students, attempts


def answer(student, attempt, question_id: int, option: str):
    return asyncio.to_thread(
        services.save_answer, user=student, attempt_id=attempt.pk, question_id=question_id, selected_option=option
    )


async def test_a_reconnect_with_since_gets_only_the_rows_changed_meanwhile(make_user, proctor, exam):
    students, attempts = await asyncio.to_thread(started_long_ago, make_user, exam, 3)
    question_id = await asyncio.to_thread(lambda: exam.questions.first().pk)
    with daphne() as base:
        async with open_ws(base, proctor_path(exam.pk), token_for(proctor)) as desk:
            full = await recv(desk)
        assert (full["type"], full["since"], sorted(rows_of(full))) == ("snapshot", None, [a.pk for a in attempts])
        since = newest_server_time(list(rows_of(full).values()))

        # While the dashboard is away: one student answers, another opens a socket.
        await answer(students[0], attempts[0], question_id, "A")
        async with open_ws(base, attempt_path(attempts[1].pk), token_for(students[1])) as student_ws:
            await recv(student_ws)
            await wait_for_event(attempts[1].pk, EventKind.CONNECTED)

            async with open_desk(base, exam.pk, token_for(proctor), quote(since)) as desk:
                delta = await recv(desk)
                assert (delta["type"], delta["since"]) == ("snapshot", since)
                changed = rows_of(delta)
                assert sorted(changed) == [attempts[0].pk, attempts[1].pk]
                assert changed[attempts[0].pk]["answered"] == 1
                assert changed[attempts[1].pk]["connected"] is True
                # And live from there: the next change arrives as an event. The hub publishes a
                # connect just after recording it, so its `student_connected` may follow the
                # snapshot that already showed it: the same state again, and nothing else.
                await answer(students[2], attempts[2], question_id, "B")
                event = await recv_event(desk)
                if event["type"] == "student_connected":
                    assert event["attempt"]["attempt_id"] == attempts[1].pk
                    event = await recv_event(desk)
                assert (event["type"], event["attempt"]["attempt_id"]) == ("answer_saved", attempts[2].pk)


async def test_a_since_too_old_or_not_a_time_gets_the_full_snapshot(student, proctor, exam):
    attempt = (await asyncio.to_thread(services.start_attempt, user=student, exam_id=exam.pk)).attempt
    too_old = clock.iso(clock.now() - row_changes.MAX_AGE - timedelta(seconds=5))
    with daphne() as base:
        for since in (quote(too_old), "yesterday"):
            async with open_desk(base, exam.pk, token_for(proctor), since) as desk:
                frame = await recv(desk)
            assert (frame["type"], frame["since"], list(rows_of(frame))) == ("snapshot", None, [attempt.pk])
