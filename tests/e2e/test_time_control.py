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


# Each page notes (epoch ms, one clock: every page runs on this machine) when the paused screen is on it:
# the frame after the overlay is set. The dashboard notes when the proctor confirmed the pause (the click
# that sends it); the confirmation's dialog is answered by this test, outside the measured time.
_NOTE_PAUSED = """() => {
  window.__pausedAt = null;
  const overlay = document.querySelector("#overlay");
  const paused = () => overlay.dataset.overlay === "paused" && !overlay.hidden;
  new MutationObserver(() => {
    if (window.__pausedAt === null && paused()) {
      requestAnimationFrame(() => { window.__pausedAt ??= performance.timeOrigin + performance.now(); });
    }
  }).observe(overlay, { attributes: true, childList: true });
}"""
_NOTE_CONFIRMED = """() => {
  const ask = window.confirm.bind(window);
  window.__confirmedAt = null;
  window.confirm = (text) => {
    const yes = ask(text);
    window.__confirmedAt = performance.timeOrigin + performance.now();
    return yes;
  };
}"""


def _room_of_three(browsers: Browsers, make_user, make_exam):
    """A proctor watching an exam that three students are taking."""
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
    return exam, users, desk, students


def _pause_from_the_dashboard(desk: Page, students: list[Page]) -> tuple[list[str], list[float]]:
    """The proctor pauses the exam (its message asked, then the count confirmed); returns the dialogs' texts
    and, per student, the seconds from the proctor's confirming click to the paused screen."""
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept("Fire alarm: leave the room calmly." if dialog.type == "prompt" else None)

    for page in students:
        page.evaluate(_NOTE_PAUSED)
    desk.evaluate(_NOTE_CONFIRMED)
    desk.on("dialog", answer)
    desk.get_by_role("button", name="Pause exam").click()
    for page in students:
        expect(_overlay(page)).to_be_visible(timeout=5000)
    confirmed = desk.evaluate("window.__confirmedAt")
    shown = [page.wait_for_function("window.__pausedAt").json_value() for page in students]
    return asked, [(at - confirmed) / 1000 for at in shown]


@pytest.mark.timing
def test_every_student_screen_pauses_within_a_second_of_the_proctors_click(browsers: Browsers, make_user, make_exam):
    """Issue 11 §7: pause the exam from the dashboard, every student screen pauses within 1 s."""
    _, _, desk, students = _room_of_three(browsers, make_user, make_exam)
    _, paused_after = _pause_from_the_dashboard(desk, students)
    print(f"click -> every screen paused in {max(paused_after):.3f} s (each: {paused_after})")
    assert all(0 < after <= 1.0 for after in paused_after), paused_after
    browsers.assert_clean()


def test_pausing_the_exam_pauses_every_student_screen_and_resumes_with_the_right_time(
    browsers: Browsers, make_user, make_exam
):
    exam, users, desk, students = _room_of_three(browsers, make_user, make_exam)
    names = [user.username for user in users]
    asked, paused_after = _pause_from_the_dashboard(desk, students)
    assert asked[1] == f"Pause “{exam.title}” for all 3 attempts in progress?"
    assert len(paused_after) == len(names)  # the bound is the timing test's (above)
    for page in students:
        expect(_overlay(page)).to_contain_text("Fire alarm: leave the room calmly.")
        expect(_overlay(page)).to_contain_text("you lose no time")
    expect(desk.locator("#feed")).to_contain_text("Exam paused (3 attempts).")

    # A student who starts meanwhile starts paused, with all of their time ahead.
    late = in_thread(make_user, username="dan")
    latecomer = browsers.new_page(late.username)
    sign_in(latecomer, "/", late.username)
    start_exam(latecomer, exam.title)
    expect(_overlay(latecomer)).to_contain_text("you lose no time")
    expect(latecomer.locator("#countdown")).to_have_text("10:00")

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
    expect(desk.locator("#feed")).to_contain_text("Exam resumed (4 attempts).")
    expect(_overlay(latecomer)).to_be_hidden()
    assert 590 <= countdown(latecomer) <= 600

    # It resumes with the time it had: the deadline moved by the paused time exactly.
    for page, left, user in zip(students, frozen, users, strict=True):
        expect(page.locator("#countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
        assert abs(countdown(page) - left) <= 2
        attempt = in_thread(Attempt.objects.get, user=user)
        assert attempt.paused_at is None and attempt.paused_total.total_seconds() >= 2.5
        assert abs(countdown(page) - (attempt.deadline_at - clock.now()).total_seconds()) <= 2
    browsers.assert_clean()
