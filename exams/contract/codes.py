"""Every error code and close code of the contract, each declared once with what it means.

An error is `{"error": {"code", "message"}}` over REST and `{"type": "error", "code", "message"}`
on a socket. The same failure has the same code on both; the HTTP status is REST's.
"""

from dataclasses import dataclass

REST, SOCKET, BOTH = "REST", "socket", "both"


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int  # the HTTP status over REST
    where: str  # REST, socket or both
    meaning: str


# Input the parsers and declarations refuse (one code per failure, the same on both transports).
INVALID = "invalid"
MALFORMED_JSON = "malformed_json"
MESSAGE_TOO_LARGE = "message_too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
UNKNOWN_TYPE = "unknown_type"
BAD_REQUEST = "bad_request"
# The server.
THROTTLED = "throttled"
SERVICE_UNAVAILABLE = "service_unavailable"
SERVER_ERROR = "server_error"

_CODES = [
    # Input
    ErrorCode(INVALID, 400, BOTH, "A field is missing, of the wrong type or out of range; or not a JSON object."),
    ErrorCode(MALFORMED_JSON, 400, BOTH, "The body or message is not valid JSON."),
    ErrorCode(MESSAGE_TOO_LARGE, 413, BOTH, "The body or message is over the size limit."),
    ErrorCode(UNSUPPORTED_MEDIA_TYPE, 415, BOTH, "Not JSON: another Content-Type, or a binary socket frame."),
    ErrorCode(UNKNOWN_TYPE, 400, SOCKET, "The message's `type` is not one this socket takes."),
    ErrorCode(BAD_REQUEST, 400, BOTH, "A rule refused the request (no more specific code applies)."),
    # Who
    ErrorCode("not_authenticated", 401, REST, "No credentials were sent."),
    ErrorCode("authentication_failed", 401, REST, "The credentials were refused."),
    ErrorCode(
        "token_not_valid",
        401,
        BOTH,
        "The access or refresh token is invalid or expired (a socket's `auth`: or not the socket's user's).",
    ),
    ErrorCode("no_active_account", 401, REST, "Wrong username or password, or an inactive account."),
    ErrorCode("user_not_found", 401, REST, "The token's user no longer exists."),
    ErrorCode("user_inactive", 401, REST, "The token's user is inactive."),
    ErrorCode("bad_authorization_header", 401, REST, "The Authorization header is not `Bearer <token>`."),
    ErrorCode("forbidden", 403, REST, "Not allowed."),
    ErrorCode("not_owner", 403, BOTH, "The attempt belongs to another user."),
    ErrorCode("not_staff", 403, BOTH, "Only proctors (staff users) can do this."),
    # What
    ErrorCode("not_found", 404, BOTH, "No such attempt, exam or endpoint."),
    ErrorCode("method_not_allowed", 405, REST, "The endpoint does not take this HTTP method."),
    ErrorCode("not_acceptable", 406, REST, "The client does not accept JSON."),
    ErrorCode("exam_not_published", 400, REST, "The exam is not published."),
    ErrorCode("exam_not_open", 409, REST, "The exam has not opened yet."),
    ErrorCode("exam_closed", 409, REST, "The exam has closed."),
    ErrorCode("attempts_exhausted", 409, REST, "No attempts left for this exam."),
    ErrorCode("start_conflict", 409, REST, "Concurrent starts kept colliding; retry."),
    ErrorCode("not_enrolled", 403, BOTH, "The exam has enrollments and the student is not one of them."),
    ErrorCode("exam_not_started", 409, REST, "A waiting-room exam has not started yet: wait in its waiting room."),
    ErrorCode("start_code_required", 403, BOTH, "The exam has a start code and it has not been entered."),
    ErrorCode("wrong_start_code", 400, SOCKET, "That is not the exam's start code."),
    ErrorCode("start_code_locked", 429, SOCKET, "Too many wrong start codes: entry is locked for a while."),
    ErrorCode("no_waiting_room", 409, BOTH, "The exam has no waiting room (no synchronized start)."),
    ErrorCode("exam_already_started", 409, BOTH, "The exam's synchronized start has already happened."),
    ErrorCode("start_too_soon", 409, REST, "A scheduled start must be more than SYNC_START_LEAD_SECONDS ahead."),
    ErrorCode("unknown_users", 404, REST, "Some usernames are not users; nothing was changed."),
    # 404, not 400: the body is well formed (as the schema says); what it names does not exist.
    ErrorCode("invalid_question", 404, BOTH, "The question is not part of the attempt's exam."),
    ErrorCode("invalid_option", 404, BOTH, "The question has no such option."),
    ErrorCode("attempt_completed", 409, BOTH, "The attempt was submitted; the answer was not saved."),
    ErrorCode("time_up", 410, BOTH, "The answer arrived after the deadline; it was not saved."),
    ErrorCode("attempt_ended", 409, BOTH, "The attempt has ended; it can't be extended."),
    ErrorCode("late_start_refused", 409, REST, "Too late to start under the exam's late-start rule (`late_start`)."),
    ErrorCode(
        "unknown_user", 404, REST, "No user has that username (the body is well formed; the user does not exist)."
    ),
    ErrorCode("attempt_not_in_exam", 400, SOCKET, "The attempt is not part of the exam this socket watches."),
    # 404 like invalid_question: the selection is well formed; what it names is not there.
    ErrorCode("not_in_exam", 404, BOTH, "An attempt of `attempt_ids` is not part of the exam."),
    ErrorCode("conflict", 409, BOTH, "The request conflicts with the attempt's state."),
    ErrorCode("attempt_paused", 409, BOTH, "A proctor paused the attempt: no answers or submit until it resumes."),
    ErrorCode("exam_paused", 409, BOTH, "The exam is paused already: it can't be paused again."),
    ErrorCode("not_paused", 409, BOTH, "Nothing to resume: the exam or the attempts are not paused."),
    ErrorCode("nothing_to_change", 409, BOTH, "No selected attempt is ongoing (or none is running, for a pause)."),
    ErrorCode(
        "too_short", 409, BOTH, "The change would leave an attempt less than a minute (or its time already passed)."
    ),
    ErrorCode(
        "past_close",
        409,
        BOTH,
        'The new end would run past a hard close (the message says "this runs N min past the close"): send it '
        'again with `close: "move"` (move the close) or `close: "keep"` (keep it; the time stops at it).',
    ),
    ErrorCode(
        "hand_in_window",
        409,
        REST,
        "`at_deadline: hand_in` needs `hand_in_seconds` of 1 or more; `auto_submit` takes none (absent or 0).",
    ),
    ErrorCode("not_reopenable", 409, BOTH, "Only a submitted, timed-out or overdue attempt can be reopened."),
    # The server
    ErrorCode(THROTTLED, 429, BOTH, "Too many requests or messages; slow down."),
    ErrorCode("account_locked", 429, REST, "Too many failed sign-ins: the account is locked for a while."),
    ErrorCode(SERVICE_UNAVAILABLE, 503, BOTH, "Redis or the database is unavailable; retry."),
    ErrorCode(SERVER_ERROR, 500, BOTH, "The server failed; retry."),
]
ERRORS: dict[str, ErrorCode] = {c.code: c for c in _CODES}


# WebSocket close codes.
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY_SOCKETS = 4429

CLOSE_CODES: list[tuple[int, str]] = [
    (CLOSE_INTERNAL_ERROR, "A frame could not be sent: reconnect for a fresh state."),
    (CLOSE_SERVICE_RESTART, "The server is restarting: reconnect now (to another process)."),
    (CLOSE_TRY_AGAIN_LATER, "The database was unavailable for the handshake: reconnect with backoff."),
    (
        CLOSE_UNAUTHENTICATED,
        "No, bad or expired token, or an inactive or deleted user; also an open socket whose token expired "
        "without an `auth` renewing it, or whose user was deactivated: refresh the token and reconnect.",
    ),
    (
        CLOSE_FORBIDDEN,
        "Not the attempt's owner, or not staff on a proctor socket (also an open one whose user lost staff): final.",
    ),
    (CLOSE_NOT_FOUND, "No such attempt or exam: final."),
    (
        CLOSE_TOO_MANY_SOCKETS,
        "The user has too many sockets open on this server process (WS_MAX_SOCKETS_PER_USER, or "
        "WS_MAX_SOCKETS_PER_ATTEMPT on one attempt or exam): close another, or reconnect with backoff.",
    ),
]


def describe(detail) -> str:
    """One sentence from a validation error's detail (a string, a list or a field dict)."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = describe(value)
            parts.append(text if field in ("detail", "non_field_errors") else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(describe(item) for item in detail)
    return str(detail)
