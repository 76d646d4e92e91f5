"""The student page of issue 12, end to end in headless Chromium against a real daphne and listener:
the instructions page before the clock starts, the question navigator with flags and "clear my
choice", the honest connection banner and the report of answers that arrived too late, a forced
submission labelled as the proctor's, and the device-clock warning following a changed clock.

Set DOCS_SCREENSHOTS=1 to refresh `docs/student.png` and `docs/student-instructions.png` from the first test.
"""

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from exams import clock
from exams.models import Answer, Attempt, AttemptStatus

from .conftest import Browsers, in_thread, login, rest, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def question_ids(exam) -> list[int]:
    return list(exam.questions.order_by("order").values_list("id", flat=True))


def stored_answers(attempt_id: int) -> dict[int, str]:
    return dict(Answer.objects.filter(attempt_id=attempt_id).values_list("question_id", "selected_option"))


def attempts_of(user) -> list[Attempt]:
    return list(Attempt.objects.filter(user=user))


def question(page: Page, question_id: int):
    return page.locator(f'[data-question-id="{question_id}"].question')


def nav_button(page: Page, number: int):
    return page.locator("#navigator-list .nav-question").nth(number - 1)


def open_instructions(page: Page, title: str) -> None:
    page.locator(".exam-card", has_text=title).get_by_role("button", name="Start exam").click()
    expect(page.locator("#instructions-title")).to_have_text(title)


def start_from_instructions(page: Page, title: str) -> None:
    page.get_by_role("button", name="Start the exam").click()
    expect(page.locator("#exam-title")).to_have_text(title)
    expect(page.locator("#connection")).to_have_text("Live")


def cut_sockets(page: Page) -> dict:
    """Route the page's attempt sockets through the test, which can cut them like a network would."""
    state: dict = {"cut": False, "routes": []}

    def route_socket(ws: WebSocketRoute) -> None:
        if state["cut"]:
            ws.close(code=1012, reason="cut by the test")
            return
        state["routes"].append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/attempts/"), route_socket)
    return state


def go_offline(page: Page, sockets: dict) -> None:
    sockets["cut"] = True
    page.context.set_offline(True)
    for ws in sockets["routes"]:
        ws.close(code=1012, reason="cut by the test")
    sockets["routes"].clear()


def go_online(page: Page, sockets: dict, *, with_socket: bool = True) -> None:
    page.context.set_offline(False)
    sockets["cut"] = not with_socket
    page.evaluate("window.dispatchEvent(new Event('online'))")


# --- A. the instructions page, B. the navigator, flags and "clear my choice" ------------------------


def test_instructions_then_start_then_navigate_flag_and_clear(browsers: Browsers, student, make_exam):
    exam = make_exam(duration=600, questions=3, description="Calculators are allowed.\n\nNo notes.")
    q1, q2, q3 = question_ids(exam)
    page = browsers.new_page("student")
    sign_in(page, "/", student.username)

    # The instructions come first: title, time, rules, and nothing started yet.
    open_instructions(page, exam.title)
    expect(page.locator("#instructions-facts")).to_contain_text("10 min")
    expect(page.locator("#instructions-facts")).to_contain_text("3 questions")
    expect(page.locator("#instructions-rules")).to_contain_text("Calculators are allowed.")
    expect(page.locator("#instructions-rules")).to_contain_text("No notes.")
    expect(page.locator("#instructions-rules")).to_contain_text("The clock starts when you press Start")
    # A reload shows the same page, and still nothing has started.
    page.reload()
    expect(page.locator("#instructions-title")).to_have_text(exam.title)
    expect(page.get_by_role("button", name="Start the exam")).to_be_enabled()
    assert in_thread(attempts_of, student) == []
    if os.environ.get("DOCS_SCREENSHOTS"):
        page.screenshot(path=DOCS / "student-instructions.png")

    # Only the explicit Start starts the clock.
    clicked = clock.now()
    start_from_instructions(page, exam.title)
    [attempt] = in_thread(attempts_of, student)
    assert attempt.started_at >= clicked - timedelta(milliseconds=5)

    # The navigator: one button per question, marked as answered.
    expect(page.locator("#navigator-list .nav-question")).to_have_text(["1", "2", "3"])
    question(page, q1).locator('input[value="A"]').check()
    expect(nav_button(page, 1)).to_have_attribute("data-answered", "true")
    expect(nav_button(page, 2)).to_have_attribute("data-answered", "false")
    expect(question(page, q1).locator(".save-state")).to_have_attribute("data-state", "saved")

    # Flag for review: marked on the question and the navigator, kept across a reload.
    question(page, q2).get_by_role("button", name="Flag for review").click()
    expect(question(page, q2).get_by_role("button", name="Flag for review")).to_have_attribute("aria-pressed", "true")
    expect(nav_button(page, 2)).to_have_attribute("data-flagged", "true")
    expect(nav_button(page, 2)).to_have_attribute("aria-label", "Question 2: not answered, flagged for review")
    expect(page.locator("#navigator-flagged")).to_have_text("1 flagged for review")
    page.reload()
    expect(page.locator("#exam-title")).to_have_text(exam.title)
    expect(nav_button(page, 2)).to_have_attribute("data-flagged", "true")
    expect(question(page, q2).get_by_role("button", name="Flag for review")).to_have_attribute("aria-pressed", "true")
    expect(nav_button(page, 1)).to_have_attribute("data-answered", "true")

    # Clear my choice: the server forgets the answer too.
    question(page, q3).locator('input[value="B"]').check()
    expect(question(page, q3).locator(".save-state")).to_have_attribute("data-state", "saved")
    question(page, q1).get_by_role("button", name="Clear my choice").click()
    expect(question(page, q1).locator(".save-state")).to_have_text(re.compile(r"^Choice cleared at "))
    expect(question(page, q1).locator("input:checked")).to_have_count(0)
    expect(nav_button(page, 1)).to_have_attribute("data-answered", "false")
    expect(question(page, q1).get_by_role("button", name="Clear my choice")).to_be_disabled()
    assert in_thread(stored_answers, attempt.pk) == {q1: "", q3: "B"}
    expect(page.locator("#progress")).to_have_text("1 of 3 answered")

    # The navigator jumps to a question.
    nav_button(page, 3).click()
    expect(question(page, q3)).to_be_focused()
    if os.environ.get("DOCS_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.mouse.move(0, 0)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=DOCS / "student.png")

    # Submitting reminds of the flag; the result counts the cleared question as unanswered.
    page.get_by_role("button", name="Submit exam…").click()
    expect(page.locator("#submit-dialog")).to_contain_text("1 question is still flagged for review.")
    page.locator("#submit-dialog").get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#result-title")).to_have_text("Exam submitted")
    assert in_thread(lambda: Attempt.objects.get(pk=attempt.pk).status) == AttemptStatus.COMPLETED
    # The flags were this attempt's: gone once it ended.
    assert page.evaluate(f"localStorage.getItem('exam.flags.{attempt.pk}')") is None
    browsers.assert_clean()


# --- C. honest status: offline, back online, answers that arrived too late ---------------------------


def test_the_offline_banner_and_the_answers_that_arrived_too_late(browsers: Browsers, student, make_exam):
    exam = make_exam(duration=600, questions=3)
    q1, q2, _ = question_ids(exam)
    page = browsers.new_page("student")
    browsers.allow_console_error(r"net::ERR_INTERNET_DISCONNECTED")
    browsers.allow_console_error(r"status of 410 .*/api/exam/timer/submit-answer/")  # the late answer, refused
    sockets = cut_sockets(page)
    sign_in(page, "/", student.username)
    open_instructions(page, exam.title)
    start_from_instructions(page, exam.title)
    [attempt] = in_thread(attempts_of, student)
    banner = page.locator('[data-banner="connection"]')
    expect(banner).to_have_count(0)

    # Offline: the banner says what is true, and the answer waits on this device.
    go_offline(page, sockets)
    expect(banner).to_have_text(
        re.compile(r"^You are offline: answers are kept on this device and will be sent when you reconnect\.")
    )
    question(page, q1).locator('input[value="A"]').check()
    expect(question(page, q1).locator(".save-state")).to_have_attribute("data-state", "offline")
    expect(banner).to_contain_text("1 answer waiting on this device.")
    expect(nav_button(page, 1)).to_have_attribute("data-problem", "true")

    # Back: the answer goes, and the banner says so before it leaves.
    go_online(page, sockets)
    expect(banner).to_have_text("Back online: all your answers are saved.", timeout=15_000)
    assert in_thread(stored_answers, attempt.pk) == {q1: "A"}
    # Sent from this window: never labelled as another window's (tests/js/answers.test.mjs has the race).
    expect(question(page, q1).locator(".save-state")).to_have_text(re.compile(r"^Saved at [^()]+$"))
    expect(banner).to_have_count(0, timeout=8_000)

    # Offline again, past the deadline: the choice made offline reaches the server too late.
    go_offline(page, sockets)
    expect(banner).to_contain_text("You are offline")
    question(page, q2).locator('input[value="B"]').check()
    expect(question(page, q2).locator(".save-state")).to_have_attribute("data-state", "offline")
    in_thread(lambda: Attempt.objects.filter(pk=attempt.pk).update(deadline_at=clock.now() - timedelta(seconds=5)))
    go_online(page, sockets, with_socket=False)  # the answer goes over REST first
    expect(page.locator("#result-title")).to_have_text("Time is up", timeout=20_000)
    late = page.locator("#late-answers")
    expect(late).to_contain_text("1 answer did not count")
    expect(late).to_contain_text(
        re.compile(
            r"Question 2: Your choice B, made at .+, while this device was offline \(from .+\), "
            r"reached the server after the deadline \(.+\) and was not counted\."
        )
    )
    assert in_thread(stored_answers, attempt.pk) == {q1: "A"}
    # The report is kept with the attempt: its result says it again after a reload.
    page.reload()
    expect(page.locator("#late-answers")).to_contain_text("Question 2: Your choice B")
    browsers.assert_clean()


# --- C. a forced submission says the proctor ended it, everywhere ------------------------------------


def test_a_forced_submission_says_the_proctor_ended_it(browsers: Browsers, student, proctor, make_exam):
    exam = make_exam(duration=600, questions=2)
    page = browsers.new_page("student")
    sign_in(page, "/", student.username)
    open_instructions(page, exam.title)
    start_from_instructions(page, exam.title)
    [attempt] = in_thread(attempts_of, student)

    status, body = rest(
        browsers.base, "POST", f"/api/exam/timer/force-submit/{attempt.pk}/", login(browsers.base, proctor.username)
    )
    assert (status, body["ended_by"]) == (200, "proctor")
    expect(page.locator("#result-title")).to_have_text("Your exam was ended by the proctor")
    expect(page.locator("#forced-note")).to_contain_text("A proctor ended your exam before you submitted it.")
    page.reload()
    expect(page.locator("#result-title")).to_have_text("Your exam was ended by the proctor")
    page.get_by_role("button", name="Back to exams").click()
    card = page.locator(".exam-card", has_text=exam.title)
    expect(card).to_contain_text("Attempt 1: ended by the proctor — score 0 / 2")
    browsers.assert_clean()


# --- D2. the device-clock warning follows a changed clock ----------------------------------------


def test_the_device_clock_warning_follows_a_changed_system_clock(browsers: Browsers, student, make_exam):
    exam = make_exam(duration=600, questions=1)
    page = browsers.new_page("student")
    start = datetime.now(UTC)
    page.clock.install(time=start + timedelta(hours=1))
    checks: list[str] = []
    page.on("response", lambda response: checks.append(response.url) if "/timer/remaining/" in response.url else None)
    sign_in(page, "/", student.username)
    open_instructions(page, exam.title)
    start_from_instructions(page, exam.title)
    hint = page.locator("#clock-hint")
    expect(hint).to_have_text(re.compile(r"^Your device's clock is (59|60) min (\d+ s )?ahead"))
    # The page's first clock checks are done; the next one is a minute away.
    while len(checks) < 3:
        page.wait_for_event("response", timeout=5_000)
    # The student sets their clock two hours back (the page's monotonic clock does not move).
    page.clock.set_system_time(datetime.now(UTC) - timedelta(hours=1))
    expect(hint).to_have_text(re.compile(r"^Your device's clock is (59|60) min (\d+ s )?behind"), timeout=3_000)
    page.clock.set_system_time(datetime.now(UTC) + timedelta(seconds=1))
    expect(hint).to_be_hidden(timeout=3_000)
    browsers.assert_clean()


# --- a proctor's pause: the student's clock stands still and answers wait ------------------------------


def test_a_pause_stops_the_students_clock_and_holds_the_answers(browsers: Browsers, student, proctor, make_exam):
    exam = make_exam(duration=600, questions=2)
    q1, _ = question_ids(exam)
    page = browsers.new_page("student")
    sign_in(page, "/", student.username)
    open_instructions(page, exam.title)
    start_from_instructions(page, exam.title)
    [attempt] = in_thread(attempts_of, student)
    token = login(browsers.base, proctor.username)

    body = {"category": "environment", "note": "Fire alarm", "attempt_ids": [attempt.pk]}
    status, reply = rest(browsers.base, "POST", f"/api/proctor/exams/{exam.pk}/pause/", token, body)
    assert status == 200, reply
    expect(page.locator("#timer-box")).to_have_attribute("data-level", "paused")
    expect(question(page, q1).locator('input[value="A"]')).to_be_disabled()
    expect(page.get_by_role("button", name="Submit exam…")).to_be_disabled()
    frozen = page.locator("#countdown").inner_text()
    page.wait_for_timeout(2_500)  # the pause lasts a while; the clock must not have moved meanwhile
    expect(page.locator("#countdown")).to_have_text(frozen)

    status, reply = rest(
        browsers.base, "POST", f"/api/proctor/exams/{exam.pk}/resume/", token, {"attempt_ids": [attempt.pk]}
    )
    assert status == 200, reply
    expect(page.locator("#timer-box")).not_to_have_attribute("data-level", "paused")
    expect(question(page, q1).locator('input[value="A"]')).to_be_enabled()
    question(page, q1).locator('input[value="A"]').check()
    expect(question(page, q1).locator(".save-state")).to_have_attribute("data-state", "saved")
    # The time left runs on from where it stood, not from where it would be without the pause.
    left = page.locator("#countdown").inner_text()
    seconds = lambda text: int(text.split(":")[0]) * 60 + int(text.split(":")[1])  # noqa: E731
    assert seconds(frozen) - 3 <= seconds(left) <= seconds(frozen)
    browsers.assert_clean()
