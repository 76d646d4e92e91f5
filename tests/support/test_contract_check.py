"""The checker itself: it must fail on a body or frame that drifted from its declaration."""

import pytest

from exams.contract import builders, frames, rest
from tests.support.contract_check import ShapeError, check, check_body, check_event, check_frame

TIMER = {
    "attempt_id": 1,
    "status": "ongoing",
    "remaining_seconds": 30,
    "deadline": "2026-11-24T17:04:05.123Z",
    "server_time": "2026-11-24T17:03:35.000Z",
}


def test_a_body_as_declared_passes():
    check(rest.Timer, TIMER)
    check_frame("student", {"type": "timer", **TIMER})
    check_frame("student", {"type": "error", "code": "invalid", "message": "no", "request_id": "r1"})


@pytest.mark.parametrize(
    ("drift", "complaint"),
    [
        ({**TIMER, "paused": False}, "undeclared field"),
        ({k: v for k, v in TIMER.items() if k != "deadline"}, "missing field 'deadline'"),
        ({**TIMER, "attempt_id": "1"}, "expected an integer"),
        ({**TIMER, "attempt_id": True}, "expected an integer"),
        ({**TIMER, "attempt_id": 0}, "below the declared minimum"),
        ({**TIMER, "status": "paused"}, "is not one of"),
        ({**TIMER, "deadline": "2026-11-24T17:04:05Z"}, "milliseconds"),
        ({**TIMER, "deadline": None}, "null is not allowed"),
        ([TIMER], "expected an object"),
    ],
)
def test_a_drifted_body_fails(drift, complaint):
    with pytest.raises(ShapeError, match=complaint):
        check(rest.Timer, drift)


def test_nested_and_listed_shapes_are_checked_too():
    result = {
        "attempt_id": 1,
        "status": "completed",
        "score": 1,
        "max_score": 2,
        "percentage": 50.0,
        "answered": 1,
        "total_questions": 2,
        "results": [{"question_id": 1, "selected_option": None, "points": 1, "hint": "A"}],
    }
    with pytest.raises(ShapeError, match=r"results\[0\]: undeclared field\(s\) \['hint'\]"):
        check(rest.Result, result)
    with pytest.raises(ShapeError, match="not one of"):
        check(rest.Error, {"error": {"code": "no_such_code", "message": "x"}})


def test_a_snapshot_row_is_checked_through_its_columns():
    snapshot = {"type": "snapshot", "exam_id": 1, "since": None, "columns": ["attempt_id"], "rows": []}
    with pytest.raises(ShapeError, match="are not ProctorRow's fields"):
        check_frame("proctor", snapshot)
    columns = frames.PROCTOR_COLUMNS
    with pytest.raises(ShapeError, match=r"rows\[0\]: expected a list of"):
        check_frame("proctor", {**snapshot, "columns": columns, "rows": [[1]]})
    row = [None] * len(columns)
    with pytest.raises(ShapeError, match=r"rows\[0\]\.attempt_id: null is not allowed"):
        check_frame("proctor", {**snapshot, "columns": columns, "rows": [row]})


def test_frames_are_checked_by_socket_type_and_action():
    with pytest.raises(ShapeError, match="no student frame of this type"):
        check_frame("student", {"type": "snapshot", "exam_id": 1, "columns": frames.PROCTOR_COLUMNS, "rows": []})
    check_frame(
        "proctor", {"type": "snapshot", "exam_id": 1, "since": None, "columns": frames.PROCTOR_COLUMNS, "rows": []}
    )
    with pytest.raises(ShapeError, match="no proctor frame"):
        check_frame("proctor", {"type": "ack", "action": "teleport", **TIMER})
    with pytest.raises(ShapeError, match="missing field 'added_seconds'"):
        check_frame("proctor", {"type": "ack", "action": "extend", **TIMER})
    with pytest.raises(ShapeError, match="unknown target"):
        check_event(["room", 1, {"type": "timer", **TIMER}])
    assert frames.frame_declaration("proctor", {"type": "ack", "action": "extend"}) is frames.ExtendAck


@pytest.mark.parametrize(
    "request_",
    [
        {"kind": "extended", "attempt_ids": [1]},
        {"kind": "time_changed", "attempt_ids": []},
        {"kind": "time_changed", "attempt_ids": ["1"]},
        {"kind": "time_changed", "attempt_ids": [1], "rows": []},
    ],
)
def test_a_proctor_rows_request_names_an_attempt_event_and_attempts(request_):
    check_event(["exam_rows", 1, {"kind": "time_changed", "attempt_ids": [1, 2]}])
    with pytest.raises(ShapeError, match="malformed proctor rows request"):
        check_event(["exam_rows", 1, request_])


@pytest.mark.django_db
def test_rest_bodies_are_checked_by_path_method_and_status():
    check_body("GET", "/api/exam/timer/remaining/1/", 200, TIMER)
    with pytest.raises(ShapeError, match="missing field 'exam_id'"):
        check_body("POST", "/api/exam/timer/start/1/", 201, {**TIMER, "duration_seconds": 60, "resumed": False})
    with pytest.raises(ShapeError, match="does not declare"):
        check_body("GET", "/api/exam/timer/remaining/1/", 201, TIMER)
    with pytest.raises(ShapeError, match="undeclared"):
        check_body("GET", "/api/no/such/path/", 404, {"detail": "Not found."})
    error = {"error": {"code": "not_owner", "message": "Not yours."}}
    check_body("GET", "/api/exam/timer/remaining/1/", 403, error)
    # An error status the operation does not document fails like an undeclared field.
    with pytest.raises(ShapeError, match="does not declare"):
        check_body("GET", "/api/me/", 403, error)
    check_body("DELETE", "/api/me/", 405, {"error": {"code": "method_not_allowed", "message": "No."}})


def test_the_test_client_fails_on_a_builder_that_drifted(client_for, student, exam, monkeypatch):
    """Wired in: a builder that adds a field fails whichever test calls the endpoint."""
    attempt_id = client_for(student).post(f"/api/exam/timer/start/{exam.pk}/").json()["attempt_id"]
    real = builders.timer
    monkeypatch.setattr(builders, "timer", lambda attempt, **kw: {**real(attempt, **kw), "paused": False})
    with pytest.raises(ShapeError, match=r"undeclared field\(s\) \['paused'\]"):
        client_for(student).get(f"/api/exam/timer/remaining/{attempt_id}/")
