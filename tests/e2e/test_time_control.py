"""Time control in Chromium against a real daphne and a real expiry listener (issue 11 §4, §7): the
proctor pauses the whole exam from the dashboard, every student's screen pauses (questions covered,
the reason shown, the clock stopped) and resumes with the right time."""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from exams import clock
from exams.models import Attempt

from .conftest import Browsers, in_thread, sign_in
from .test_browser import countdown, proctor_row, start_exam, watch_exam

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.django_db(transaction=True)]


def _overlay(page: Page):
    return page.locator('#overlay[data-overlay="paused"]')


def test_pausing_the_exam_pauses_every_student_screen_and_resumes_with_the_right_time(
    browsers: Browsers, make_user, make_exam
):
    names = ["ana", "ben", "cho"]
    users = [make_user(username=name) for name in names]
    proctor = make_user(staff=True, username="head")
    exam = make_exam(duration=600, questions=2)
    desk = browsers.new_page("proctor")
    watch_exam(desk, proctor.username, exam)
    students = []
    for user in users:
        page = browsers.new_page(user.username)
        sign_in(page, "/", user.username)
        start_exam(page, exam.title)
        students.append(page)
    for name in names:
        expect(proctor_row(desk, name).locator('[data-label="Status"]')).to_have_text("In progress")

    # The dashboard asks for the students' message, then confirms naming the exam and the count.
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept("Fire alarm: leave the room calmly." if dialog.type == "prompt" else None)

    desk.on("dialog", answer)
    clicked = time.monotonic()
    desk.get_by_role("button", name="Pause exam").click()
    paused_after = []
    for page in students:
        expect(_overlay(page)).to_be_visible(timeout=5000)
        paused_after.append(time.monotonic() - clicked)
    assert asked[1] == f"Pause “{exam.title}” for all 3 attempts in progress?"
    print(f"pause -> every screen paused in {max(paused_after):.2f} s (each: {paused_after})")
    for page in students:
        expect(_overlay(page)).to_contain_text("Fire alarm: leave the room calmly.")
        expect(_overlay(page)).to_contain_text("you lose no time")
    expect(desk.locator("#feed")).to_contain_text("Exam paused (3 attempts).")

    # The clock stands still while paused (the server keeps ticking the same time left).
    frozen = [countdown(page) for page in students]
    students[0].wait_for_timeout(2500)
    # (to the second the page rounds to, as its clock estimate settles)
    assert all(abs(countdown(page) - left) <= 1 for page, left in zip(students, frozen, strict=True))

    clicked = time.monotonic()
    desk.get_by_role("button", name="Resume exam").click()
    for page in students:
        expect(_overlay(page)).to_be_hidden(timeout=5000)
    print(f"resume -> every screen running again in {time.monotonic() - clicked:.2f} s")
    expect(desk.locator("#feed")).to_contain_text("Exam resumed (3 attempts).")

    # It resumes with the time it had: the deadline moved by the paused time exactly.
    for page, left, user in zip(students, frozen, users, strict=True):
        expect(page.locator("#countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
        assert abs(countdown(page) - left) <= 2
        attempt = in_thread(Attempt.objects.get, user=user)
        assert attempt.paused_at is None and attempt.paused_total.total_seconds() >= 2.5
        assert abs(countdown(page) - (attempt.deadline_at - clock.now()).total_seconds()) <= 2
    browsers.assert_clean()
