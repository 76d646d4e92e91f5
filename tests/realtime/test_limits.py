"""realtime/limits.py: per-user socket counts, a shared message budget and a cap on actions under way."""

import pytest

from realtime.limits import UserLimits


@pytest.fixture
def limits(settings) -> UserLimits:
    settings.EXAM = {
        **settings.EXAM,
        "WS_MAX_SOCKETS_PER_USER": 3,
        "WS_MAX_SOCKETS_PER_ATTEMPT": 2,
        "WS_USER_MESSAGES_PER_SECOND": 0.001,  # no refill within a test
        "WS_USER_MESSAGE_BURST": 4,
        "WS_MAX_INFLIGHT_PER_USER": 2,
    }
    return UserLimits()


def test_sockets_are_capped_per_user_and_per_room(limits):
    a, b, c, d = object(), object(), object(), object()
    assert limits.admit(a, user_id=1, room=("attempt", 7))
    assert limits.admit(b, user_id=1, room=("attempt", 7))
    assert not limits.admit(c, user_id=1, room=("attempt", 7)), "a third on one attempt"
    assert limits.admit(c, user_id=1, room=("attempt", 8))
    assert not limits.admit(d, user_id=1, room=("exam", 3)), "a fourth in all"
    # Another user's sockets are counted apart, even in the same room.
    assert limits.admit(d, user_id=2, room=("attempt", 7))
    assert sorted(map(id, limits.sockets(1))) == sorted(map(id, (a, b, c)))
    # A socket that leaves makes room (release is idempotent); admitting twice counts once.
    limits.release(a, user_id=1)
    limits.release(a, user_id=1)
    assert limits.admit(b, user_id=1, room=("attempt", 7))
    assert limits.admit(a, user_id=1, room=("attempt", 7))


def test_a_refused_socket_leaves_nothing_behind(limits, settings):
    settings.EXAM = {**settings.EXAM, "WS_MAX_SOCKETS_PER_USER": 0}
    assert not limits.admit(object(), user_id=1, room=("attempt", 7))
    assert limits.users() == []


def test_the_message_budget_is_shared_by_the_user_s_sockets(limits):
    first, second = object(), object()
    limits.admit(first, user_id=1, room=("attempt", 7))
    limits.admit(second, user_id=1, room=("attempt", 8))
    limits.admit(object(), user_id=2, room=("attempt", 9))
    assert [limits.take(1) for _ in range(5)] == [True, True, True, True, False]
    assert limits.take(2), "another user's budget is their own"
    # The budget belongs to the user, not to a socket: a new socket does not bring a new one.
    limits.admit(object(), user_id=1, room=("attempt", 10))
    assert not limits.take(1)


def test_actions_under_way_are_capped_per_user(limits):
    limits.admit(object(), user_id=1, room=("attempt", 7))
    assert [limits.begin(1) for _ in range(3)] == [True, True, False]
    limits.end(1)
    assert limits.begin(1)
    assert not limits.begin(1)


def test_a_user_is_forgotten_once_their_last_socket_and_action_are_done(limits):
    socket = object()
    limits.admit(socket, user_id=1, room=("attempt", 7))
    assert [limits.take(1) for _ in range(5)][-1] is False
    assert limits.begin(1)
    limits.release(socket, user_id=1)
    assert limits.users() == [1], "an action under way keeps the count"
    limits.end(1)
    assert limits.users() == []
    # Back with a fresh budget.
    limits.admit(socket, user_id=1, room=("attempt", 7))
    assert limits.take(1)
