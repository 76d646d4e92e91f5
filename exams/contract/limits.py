"""The contract's input limits, each defined once.

Services, the declarations (hence the OpenAPI schema), the socket's parser, the REST parser
and docs/api.md all read them from here.
"""

from django.conf import settings

# An option key (`"A"`, `"B"`, ...) is at most this long.
MAX_OPTION_LENGTH = 8
# A proctor grants at most this much extra time at once.
MAX_EXTEND_SECONDS = 24 * 3600
# A bulk action names at most this many attempts: small enough that a list one longer still
# fits `max_message_bytes`, so it is refused for its length (400), not its size (413). The
# dashboard sends a larger selection in several requests.
MAX_BULK_ATTEMPTS = 100
# A time change of many attempts at once: whole minutes (or percent of each attempt's allotted time) either way.
MAX_CHANGE_AMOUNT = 24 * 60
# Shortening never leaves an attempt less than this (a clear error instead).
MIN_TIME_LEFT_SECONDS = 60
# A reopened attempt gets at most this many minutes.
MAX_REOPEN_MINUTES = 24 * 60
# A pause's note, a time change's or a reopening's reason.
MAX_NOTE_LENGTH = 500
# What proctors and students write to each other (issue 12 §2, §3), in characters; a socket
# message must also fit the message size (WS_MAX_MESSAGE_BYTES), which 1,000 characters of
# any alphabet of up to three UTF-8 bytes do.
MAX_ANNOUNCEMENT_LENGTH = 1000
MAX_STUDENT_QUESTION_LENGTH = 1000
MAX_QUESTION_ANSWER_LENGTH = 1000
MAX_INCIDENT_NOTE_LENGTH = 1000
# Rates, counted in the database over a sliding window (so across every server process):
# announcements per exam, questions per attempt.
ANNOUNCEMENTS_PER_WINDOW = 10
QUESTIONS_PER_WINDOW = 5
RATE_WINDOW_SECONDS = 60
# The dashboard's history: the newest this many events of an exam's attempts.
HISTORY_EVENTS = 200
# A client's `request_id` (a string or an integer) is at most this many characters.
MAX_REQUEST_ID_LENGTH = 64
# Every valid client message is one flat object: deeper nesting is refused before parsing
# (a 4 KB frame of brackets would otherwise exhaust the parser's recursion).
MAX_JSON_DEPTH = 4
# A start code (exams/waiting_room.py) is at most this long.
MAX_START_CODE_LENGTH = 32
# Wrong start codes a student may enter before entry is locked for START_CODE_LOCK_SECONDS.
START_CODE_MAX_FAILURES = 5
START_CODE_LOCK_SECONDS = 60
# Usernames in one JSON enrollment request (it must fit the body limit, WS_MAX_MESSAGE_BYTES), and
# the size of an uploaded enrollment CSV (the way to enroll a whole class).
MAX_ENROLL_USERNAMES = 20
MAX_ENROLL_CSV_BYTES = 1024 * 1024
# A username (Django's limit).
MAX_USERNAME_LENGTH = 150


def max_message_bytes() -> int:
    """The largest client message, socket frame or REST body (the WS_MAX_MESSAGE_BYTES setting)."""
    return settings.EXAM["WS_MAX_MESSAGE_BYTES"]


# (name, value, what it bounds) for docs/api.md.
LIMITS: list[tuple[str, str, str]] = [
    ("option length", f"{MAX_OPTION_LENGTH} characters", "`selected_option`, over REST and the socket"),
    ("extension", f"1 to {MAX_EXTEND_SECONDS} seconds", "`seconds` of an extension (24 hours)"),
    ("bulk action", f"1 to {MAX_BULK_ATTEMPTS} attempts", "`attempt_ids` of a bulk request"),
    (
        "time change",
        f"-{MAX_CHANGE_AMOUNT} to {MAX_CHANGE_AMOUNT}",
        f"`amount` (minutes or percent) of a time change; never below {MIN_TIME_LEFT_SECONDS} s left",
    ),
    ("reopen", f"1 to {MAX_REOPEN_MINUTES} minutes", "`minutes` of a reopening"),
    ("note, reason", f"at most {MAX_NOTE_LENGTH} characters", "a pause's `note`, a change's or reopening's `reason`"),
    ("request_id", f"at most {MAX_REQUEST_ID_LENGTH} characters", "a string or an integer, echoed in the reply"),
    ("announcement", f"1 to {MAX_ANNOUNCEMENT_LENGTH} characters", "`message` of an announcement"),
    ("student question", f"1 to {MAX_STUDENT_QUESTION_LENGTH} characters", "`text` of a student's question"),
    ("answer to a question", f"1 to {MAX_QUESTION_ANSWER_LENGTH} characters", "`text` of a proctor's answer"),
    ("incident note", f"1 to {MAX_INCIDENT_NOTE_LENGTH} characters", "`note` of an incident"),
    (
        "announcement rate",
        f"{ANNOUNCEMENTS_PER_WINDOW} per {RATE_WINDOW_SECONDS} s per exam",
        "announcements sent to one exam, by all its proctors (429 `throttled` beyond)",
    ),
    (
        "question rate",
        f"{QUESTIONS_PER_WINDOW} per {RATE_WINDOW_SECONDS} s per attempt",
        "questions a student asks (429 `throttled` beyond)",
    ),
    ("message size", "the `WS_MAX_MESSAGE_BYTES` setting", "a socket message or a REST body, in bytes"),
    ("nesting", f"{MAX_JSON_DEPTH} levels", "brackets in a socket message or a REST body"),
    ("start code", f"at most {MAX_START_CODE_LENGTH} characters", "`code` of a `start_code` message; `start_code`"),
    (
        "wrong start codes",
        f"{START_CODE_MAX_FAILURES}, then locked {START_CODE_LOCK_SECONDS} s",
        "per student and exam, in the database (every process agrees)",
    ),
    ("usernames", f"at most {MAX_ENROLL_USERNAMES}", "`usernames` of one enrollment request"),
    ("enrollment CSV", f"{MAX_ENROLL_CSV_BYTES} bytes", "the body of an enrollment import (`text/csv`)"),
]

# A reason given with a time change (an accommodation, a grant, a close override).
MAX_REASON_LENGTH = 200
# An accommodation's time multiplier and extra time (issue 11 §1).
MIN_MULTIPLIER = "1.00"
MAX_MULTIPLIER = "5.00"
MAX_ACCOMMODATION_EXTRA_SECONDS = 24 * 3600
# How many rows one CSV import of accommodations may hold.
MAX_IMPORT_ROWS = 5000
# How long after the exam opens (or its scheduled start) a late start may be allowed, at most.
MAX_LATE_START_MINUTES = 24 * 60
# The hand-in window (`at_deadline: hand_in`): at most an hour to press submit.
MAX_HAND_IN_SECONDS = 3600

LIMITS += [
    ("multiplier", f"{MIN_MULTIPLIER} to {MAX_MULTIPLIER}", "an accommodation's time multiplier, two decimals"),
    ("accommodation extra", f"0 to {MAX_ACCOMMODATION_EXTRA_SECONDS // 60} minutes", "an accommodation's extra time"),
    ("CSV import", f"at most {MAX_IMPORT_ROWS} rows", "accommodations imported at once"),
    ("hand-in window", f"1 to {MAX_HAND_IN_SECONDS} seconds", "`hand_in_seconds` under `at_deadline: hand_in`"),
]
