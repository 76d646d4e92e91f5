"""The student page and the proctor dashboard, end to end in headless Chromium.

Each test drives real pages against a real daphne and a real expiry listener, and checks
what the pages show against what the database holds. Set DOCS_SCREENSHOTS=1 to refresh
`docs/proctor.png` and the phone screenshots from the proctor test (`docs/student.png` comes
from test_student_page.py).
"""

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from exams import clock
from exams.models import Answer, Attempt, AttemptStatus

from .conftest import PHONE, Browsers, countdown_seconds, in_thread, login, rest, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"


# --- helpers ---------------------------------------------------------------------------


def question_ids(exam) -> list[int]:
    return list(exam.questions.order_by("order").values_list("id", flat=True))


def saved_answers(attempt_id: int) -> dict[int, str]:
    return dict(Answer.objects.filter(attempt_id=attempt_id).values_list("question_id", "selected_option"))


def attempt_of(user) -> Attempt:
    return Attempt.objects.get(user=user)


def choose(page: Page, question_id: int, option: str) -> None:
    page.locator(f'[data-question-id="{question_id}"] input[value="{option}"]').check()


def save_state(page: Page, question_id: int):
    return page.locator(f'[data-question-id="{question_id}"] .save-state')


def start_exam(page: Page, title: str) -> None:
    """From the list of exams, through the instructions page, to the running attempt."""
    card = page.locator(".exam-card", has_text=title)
    card.get_by_role("button", name="Start exam").click()
    expect(page.locator("#instructions-title")).to_have_text(title)
    page.get_by_role("button", name="Start the exam").click()
    expect(page.locator("#exam-title")).to_have_text(title)
    expect(page.locator("#connection")).to_have_text("Live")


def countdown(page: Page) -> int:
    return countdown_seconds(page.locator("#countdown").inner_text())


def proctor_row(page: Page, username: str):
    name = page.get_by_role("rowheader", name=username, exact=True)
    return page.locator("#attempt-rows tr[data-attempt-id]", has=name)


def watch_exam(page: Page, proctor_name: str, exam) -> None:
    sign_in(page, "/proctor/", proctor_name)
    page.get_by_label("Exam").select_option(str(exam.pk))
    expect(page.locator("#connection")).to_have_text("Live")


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- 1. a student takes an exam ----------------------------------------------------------


def test_student_takes_an_exam(browsers: Browsers, student, make_exam):
    exam = make_exam(duration=600, questions=3, review_when="at_once")  # each answer's verdict at once
    q1, q2, _ = question_ids(exam)
    page = browsers.new_page("student")
    # The student's computer is an hour fast: the countdown must follow the server's clock anyway.
    page.clock.install(time=datetime.now(UTC) + timedelta(hours=1))

    # A wrong password gets a clear message (the browser logs the 401 itself).
    browsers.allow_console_error(r"status of 401 .*/api/auth/login/")
    sign_in(page, "/", student.username, password="wrong")
    expect(page.locator("#signin-error")).to_have_text("Wrong username or password.")
    sign_in(page, "/", student.username)
    expect(page.locator("#user-name")).to_have_text(student.username)

    start_exam(page, exam.title)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(10:00|9:5\d)$"))
    expect(page.locator("#clock-hint")).to_have_text(re.compile(r"^Your device's clock is (59|60) min (\d+ s )?ahead"))
    first = countdown(page)
    expect(page.locator("#countdown")).not_to_have_text(page.locator("#countdown").inner_text(), timeout=3000)
    assert countdown(page) < first
    expect(page.locator("#progress")).to_have_text("0 of 3 answered")

    # Every choice is saved at once, and says so.
    choose(page, q1, "B")
    choose(page, q2, "B")
    expect(save_state(page, q1)).to_have_attribute("data-state", "saved")
    expect(save_state(page, q2)).to_have_text(re.compile(r"^Saved at "))
    attempt = in_thread(attempt_of, student)
    assert in_thread(saved_answers, attempt.pk) == {q1: "B", q2: "B"}

    # Changing an answer twice in a row: the last choice is the one stored.
    choose(page, q1, "A")
    choose(page, q1, "B")
    choose(page, q1, "A")
    expect(save_state(page, q1)).to_have_attribute("data-state", "saved")
    assert in_thread(saved_answers, attempt.pk) == {q1: "A", q2: "B"}
    expect(page.locator("#progress")).to_have_text("2 of 3 answered")

    # A reload resumes the same attempt with its answers and its running clock.
    before = countdown(page)
    page.reload()
    expect(page.locator("#exam-title")).to_have_text(exam.title)
    expect(page.locator(f'[data-question-id="{q1}"] input[value="A"]')).to_be_checked()
    expect(page.locator(f'[data-question-id="{q2}"] input[value="B"]')).to_be_checked()
    expect(page.locator("#countdown")).not_to_have_text("--:--")
    assert before - 3 <= countdown(page) <= before

    # Submitting asks first, then shows the score.
    page.get_by_role("button", name="Submit exam…").click()
    dialog = page.locator("#submit-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You answered 2 of 3 questions")
    dialog.get_by_role("button", name="Keep working").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Submit exam…").click()
    dialog.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#result-title")).to_have_text("Exam submitted")
    expect(page.locator("#result-score")).to_have_text("1 / 3")
    expect(page.locator(".result-row")).to_have_count(3)
    attempt = in_thread(attempt_of, student)
    assert (attempt.status, attempt.score, attempt.max_score) == (AttemptStatus.COMPLETED, 1, 3)

    page.get_by_role("button", name="Back to exams").click()
    card = page.locator(".exam-card", has_text=exam.title)
    expect(card).to_contain_text("Attempt 1: submitted — score 1 / 3")
    expect(card).to_contain_text("No attempts left.")
    browsers.assert_clean()


def test_the_result_follows_the_review_policy_and_a_release(browsers: Browsers, make_user, make_exam):
    alice, proctor = make_user(username="alice"), make_user(staff=True, username="proctor")
    exam = make_exam(duration=600, questions=3)  # the default policy, no closes_at: correct answers on release
    q1, q2, _ = question_ids(exam)
    token = login(browsers.base, "alice")
    status, started = rest(browsers.base, "POST", f"/api/exam/timer/start/{exam.pk}/", token)
    attempt_id = started["attempt_id"]
    for question, option in ((q1, "A"), (q2, "B")):
        body = {"attempt_id": attempt_id, "question_id": question, "selected_option": option}
        assert rest(browsers.base, "POST", "/api/exam/timer/submit-answer/", token, body)[0] == 200
    assert rest(browsers.base, "POST", f"/api/exam/timer/submit/{attempt_id}/", token)[0] == 200

    # The score only, and when the rest will come.
    page = browsers.new_page("student")
    sign_in(page, "/", alice.username)
    card = page.locator(".exam-card", has_text=exam.title)
    card.get_by_role("button", name="See result").click()
    expect(page.locator("#result-score")).to_have_text("1 / 3")
    expect(page.locator("#review-note")).to_have_text(
        "Your answers and the correct ones will be shown when your proctor releases them."
    )
    expect(page.locator(".result-row")).to_have_count(0)

    # The proctor releases it.
    desk = browsers.new_page("proctor")
    watch_exam(desk, proctor.username, exam)
    expect(desk.locator("#review-policy")).to_contain_text("once you release the review")
    desk.get_by_role("button", name="Release the review now…").click()
    desk.locator("#release-dialog").get_by_role("button", name="Release", exact=True).click()
    expect(desk.locator("#feed")).to_contain_text("You released the review to the students.")
    expect(desk.locator("#review-policy")).to_contain_text("now: you released the review")
    expect(desk.get_by_role("button", name="Release the review now…")).to_be_hidden()

    # Now each answer's verdict and the correct one.
    page.get_by_role("button", name="Back to exams").click()
    card.get_by_role("button", name="See result").click()
    rows = page.locator(".result-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("✓ correct")
    expect(rows.nth(1)).to_contain_text("✗ wrong")
    expect(rows.nth(1)).to_contain_text("Correct answer: A — right")
    expect(page.locator("#review-note")).to_have_count(0)
    browsers.assert_clean()


# --- 2. a proctor watches, extends and force-submits ----------------------------------------


def test_proctor_sees_the_student_and_extends_their_time(browsers: Browsers, make_user, make_exam):
    alice, bob = make_user(username="alice"), make_user(username="bob")
    proctor = make_user(staff=True, username="proctor")
    exam = make_exam(duration=120, questions=3)
    q1, q2, _ = question_ids(exam)
    desk = browsers.new_page("proctor")
    watch_exam(desk, proctor.username, exam)
    expect(desk.locator("#no-rows")).to_have_text(re.compile("No attempts yet"))

    # The student appears the moment they start, connected, with their time counting down.
    student = browsers.new_page("student")
    sign_in(student, "/", alice.username)
    start_exam(student, exam.title)
    row = proctor_row(desk, "alice")
    expect(row.locator('[data-label="Status"]')).to_have_text("In progress")
    expect(row.locator('[data-label="Connection"]')).to_have_text("Connected")
    expect(row.locator('[data-label="Answered"]')).to_have_text("0 / 3")
    expect(row.locator('[data-label="Time left"]')).to_have_text(re.compile(r"^(2:00|1:5\d)$"))
    expect(desk.locator("#feed")).to_contain_text("alice started the exam.")

    choose(student, q1, "A")
    expect(row.locator('[data-label="Answered"]')).to_have_text("1 / 3")
    expect(desk.locator("#feed")).to_contain_text("alice saved an answer (1 of 3).")

    # A second student, started over REST, joins the table; sorting and filtering work on it.
    bob_token = login(browsers.base, "bob")
    status, started = rest(browsers.base, "POST", f"/api/exam/timer/start/{exam.pk}/", bob_token)
    assert status == 201, started
    expect(desk.locator("#attempt-rows tr[data-attempt-id]")).to_have_count(2)
    expect(proctor_row(desk, "bob").locator('[data-label="Connection"]')).to_have_text("Not connected")
    names = desk.locator("#attempt-rows th[scope=row]")
    expect(names).to_have_text(["alice", "bob"])
    desk.get_by_role("button", name="Student", exact=True).click()  # already ascending: now descending
    expect(names).to_have_text(["bob", "alice"])
    expect(desk.locator('th[data-sort="student"]')).to_have_attribute("aria-sort", "descending")
    desk.get_by_label("Find a student").fill("bo")
    expect(desk.locator("#attempt-rows tr[data-attempt-id]")).to_have_count(1)
    expect(proctor_row(desk, "bob")).to_be_visible()
    desk.get_by_label("Find a student").fill("")
    expect(desk.locator("#attempt-rows tr[data-attempt-id]")).to_have_count(2)

    # Extra time from the dashboard reaches the student's countdown at once.
    left_before = countdown(student)
    assert left_before <= 120
    row.get_by_role("button", name="Extend time for alice").click()
    dialog = desk.locator("#extend-dialog")
    expect(dialog).to_contain_text("alice")
    dialog.get_by_label("Extra minutes").fill("3")
    dialog.get_by_role("button", name="Extend", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(student.locator("#countdown")).to_have_text(re.compile(r"^(5:00|4:[3-5]\d)$"))
    assert countdown(student) >= left_before + 180 - 3
    expect(student.locator("#notice")).to_contain_text("A proctor gave you 3 min more.")
    expect(row.locator('[data-label="Time left"]')).to_have_text(re.compile(r"^(5:00|4:[3-5]\d)$"))
    expect(desk.locator("#feed")).to_contain_text("alice got 3 min more.")
    attempt = in_thread(attempt_of, alice)
    assert attempt.extra_seconds == 180
    assert abs(countdown(student) - (attempt.deadline_at - clock.now()).total_seconds()) <= 2

    choose(student, q2, "B")
    expect(save_state(student, q2)).to_have_attribute("data-state", "saved")

    # Force submit ends bob's attempt; the status filter finds it.
    proctor_row(desk, "bob").get_by_role("button", name="Force submit bob").click()
    desk.locator("#force-dialog").get_by_role("button", name="Force submit").click()
    expect(proctor_row(desk, "bob").locator('[data-label="Status"]')).to_have_text("Submitted")
    # A finished row offers no buttons (none that would do nothing).
    expect(proctor_row(desk, "bob").locator("button:disabled")).to_have_count(0)
    expect(proctor_row(desk, "bob").get_by_role("button", name=re.compile("Extend|Force submit"))).to_have_count(0)
    expect(proctor_row(desk, "bob").locator('[data-label="Score"]')).to_have_text("0 / 3")
    assert in_thread(attempt_of, bob).status == AttemptStatus.COMPLETED
    desk.get_by_label("Show", exact=True).select_option("completed")
    expect(desk.locator("#attempt-rows tr[data-attempt-id]")).to_have_count(1)
    desk.get_by_label("Show", exact=True).select_option("")
    expect(desk.locator('#summary [data-key="ongoing"] .count')).to_have_text("1")
    expect(desk.locator('#summary [data-key="connected"] .count')).to_have_text("1")
    expect(desk.locator('#summary [data-key="finished"] .count')).to_have_text("1")
    if os.environ.get("DOCS_SCREENSHOTS"):
        desk.locator("#table-scroll").evaluate("box => { box.scrollLeft = 0; }")  # clicks scrolled it sideways
        desk.screenshot(path=DOCS / "proctor.png")

    # Both pages stay readable at a phone's width (no sideways scrolling).
    for name, page in (("student", student), ("proctor", desk)):
        page.set_viewport_size(PHONE)
        assert no_horizontal_scroll(page)
        if os.environ.get("DOCS_SCREENSHOTS"):
            page.screenshot(path=DOCS / f"{name}-phone.png", full_page=True)

    # The student leaving shows on the dashboard.
    student.close()
    expect(row.locator('[data-label="Connection"]')).to_have_text("Not connected")
    expect(desk.locator("#feed")).to_contain_text("alice disconnected.")
    browsers.assert_clean()


# --- 3. time runs out on both pages ------------------------------------------------------------


def test_time_runs_out_on_both_pages(browsers: Browsers, student, proctor, make_exam):
    exam = make_exam(duration=8, questions=3)
    q1, _, _ = question_ids(exam)
    desk = browsers.new_page("proctor")
    watch_exam(desk, proctor.username, exam)
    page = browsers.new_page("student")
    sign_in(page, "/", student.username)
    start_exam(page, exam.title)

    choose(page, q1, "A")
    expect(save_state(page, q1)).to_have_attribute("data-state", "saved")
    # Under a minute left from the start: announced to screen readers, and shown.
    expect(page.locator("#announcer")).to_have_text("Less than 1 minute left.")
    expect(page.locator("#timer-box")).to_have_attribute("data-level", "danger")
    row = proctor_row(desk, student.username)
    expect(row.locator('[data-label="Time left"]')).to_have_text(re.compile(r"^0:0\d"))

    expect(page.locator("#result-title")).to_have_text("Time is up", timeout=15_000)
    expect(page.locator("#result-score")).to_have_text("1 / 3")
    expect(row.locator('[data-label="Status"]')).to_have_text("Timed out")
    expect(row.locator('[data-label="Time left"]')).to_have_text("0:00")
    expect(desk.locator("#feed")).to_contain_text(f"{student.username} ran out of time, score 1 / 3.")
    attempt = in_thread(attempt_of, student)
    assert (attempt.status, attempt.score) == (AttemptStatus.TIMEOUT, 1)
    browsers.assert_clean()


# --- 4. the socket is cut: answers go over REST, and queued ones when the network returns -------


def test_answers_survive_a_cut_socket_and_going_offline(short_token_server, browsers: Browsers, student, make_exam):
    exam = make_exam(duration=300, questions=3)
    q1, q2, _ = question_ids(exam)
    page = browsers.new_page("student")
    calls: list[str] = []
    page.on("response", lambda response: calls.append(f"{response.status} {response.request.method} {response.url}"))

    # Every student socket goes through this route, so the test can cut it like a network would.
    cut = {"on": False}
    routes: list[WebSocketRoute] = []

    def route_socket(ws: WebSocketRoute) -> None:
        if cut["on"]:
            ws.close(code=1012, reason="cut by the test")
            return
        routes.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/attempts/"), route_socket)
    signed_in = time.monotonic()
    sign_in(page, "/", student.username)
    start_exam(page, exam.title)
    attempt = in_thread(attempt_of, student)

    cut["on"] = True
    for ws in routes:
        ws.close(code=1012, reason="cut by the test")
    expect(page.locator("#connection")).not_to_have_text("Live")

    # Socket down, HTTP up: the answer is saved over REST.
    choose(page, q1, "A")
    expect(save_state(page, q1)).to_have_attribute("data-state", "saved")
    assert in_thread(saved_answers, attempt.pk) == {q1: "A"}
    assert any(re.fullmatch(r"200 POST .*/api/exam/timer/submit-answer/", call) for call in calls)

    # Everything down: the answer waits, marked offline, and is not lost.
    browsers.allow_console_error(r"net::ERR_INTERNET_DISCONNECTED")
    page.context.set_offline(True)
    choose(page, q2, "B")
    expect(save_state(page, q2)).to_have_attribute("data-state", "offline")
    expect(save_state(page, q2)).to_have_text(re.compile("offline, will retry"))
    assert in_thread(saved_answers, attempt.pk) == {q1: "A"}

    # Let the access token expire meanwhile: coming back needs a refresh first.
    page.wait_for_timeout(max(0, 10 - (time.monotonic() - signed_in)) * 1000)
    page.context.set_offline(False)
    cut["on"] = False
    expect(page.locator("#connection")).to_have_text("Live", timeout=15_000)
    expect(save_state(page, q2)).to_have_attribute("data-state", "saved")
    assert in_thread(saved_answers, attempt.pk) == {q1: "A", q2: "B"}
    assert any(re.fullmatch(r"200 POST .*/api/auth/refresh/", call) for call in calls)

    # The countdown never depended on the socket.
    attempt = in_thread(attempt_of, student)
    assert abs(countdown(page) - (attempt.deadline_at - clock.now()).total_seconds()) <= 2

    # An access token the server rejects although it looks fresh: a 401, one refresh, a retry.
    browsers.allow_console_error(r"status of 401 .*/api/me/")
    page.evaluate("""() => {
        const key = "exam.student.tokens";
        const tokens = JSON.parse(sessionStorage.getItem(key));
        const now = Math.floor(Date.now() / 1000);
        const claims = btoa(JSON.stringify({exp: now + 3600, iat: now}));
        tokens.access = `${tokens.access.split(".")[0]}.${claims.replace(/=+$/, "")}.forged`;
        sessionStorage.setItem(key, JSON.stringify(tokens));
    }""")
    calls.clear()
    page.reload()
    expect(page.locator("#connection")).to_have_text("Live")
    assert [c for c in calls if "/api/me/" in c or "/api/auth/refresh/" in c][:3] == [
        f"401 GET {browsers.base}/api/me/",
        f"200 POST {browsers.base}/api/auth/refresh/",
        f"200 GET {browsers.base}/api/me/",
    ]
    choose(page, q2, "A")
    expect(save_state(page, q2)).to_have_attribute("data-state", "saved")
    assert in_thread(saved_answers, attempt.pk) == {q1: "A", q2: "A"}
    browsers.assert_clean()


# --- 4b. an open exam outlives its access tokens ---------------------------------------------------


def test_an_open_exam_outlives_its_access_tokens_on_one_socket(
    short_token_server, browsers: Browsers, student, make_exam
):
    """Issue 10 §1: a socket lives as long as its token. The page renews the token in-band (`auth`)
    before it expires, so the same socket stays open across several 9-second tokens."""
    exam = make_exam(duration=300, questions=2)
    q1, _ = question_ids(exam)
    page = browsers.new_page("student")
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws) if "/ws/attempts/" in ws.url else None)
    sign_in(page, "/", student.username)
    start_exam(page, exam.title)
    assert len(sockets) == 1
    socket = sockets[0]
    sent: list[str] = []
    socket.on("framesent", lambda frame: sent.append(frame))
    signed_in = time.time()

    # Two renewals, each answered: the second comes after the first token has expired.
    for _ in range(2):
        socket.wait_for_event("framereceived", predicate=lambda frame: '"auth_ok"' in frame, timeout=15_000)
    assert time.time() > signed_in + 9

    expect(page.locator("#connection")).to_have_text("Live")
    choose(page, q1, "A")
    expect(save_state(page, q1)).to_have_attribute("data-state", "saved")
    assert in_thread(saved_answers, in_thread(attempt_of, student).pk) == {q1: "A"}
    kinds = [json.loads(frame)["type"] for frame in sent]
    assert kinds[:2] == ["auth", "auth"] and "answer" in kinds, kinds  # the answer too went over this socket
    assert len(sockets) == 1 and not socket.is_closed(), "never reconnected"
    browsers.assert_clean()


# --- 5. a student on the proctor page --------------------------------------------------------------


def test_a_student_on_the_proctor_page_is_told_it_is_for_proctors(browsers: Browsers, student, proctor):
    page = browsers.new_page("student on /proctor/")
    sign_in(page, "/proctor/", student.username)
    expect(page.get_by_role("heading", name="Not a proctor account")).to_be_visible()
    expect(page.locator("#denied-message")).to_contain_text(f"signed in as {student.username}")
    page.get_by_role("button", name="Sign in with another account").click()
    page.get_by_label("Username").fill(proctor.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Exam")).to_be_visible()
    browsers.assert_clean()
