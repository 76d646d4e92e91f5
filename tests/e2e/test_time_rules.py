"""Issue 11's time rules end to end in headless Chromium against a real daphne and listener: the
student's accommodation shown before and during the exam, and a proctor's close override that moves
the student's countdown at once."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from exams import clock, time_rules

from .conftest import Browsers, countdown_seconds, in_thread, login, rest, sign_in
from .test_browser import attempt_of, proctor_row, start_exam, watch_exam

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.django_db(transaction=True)]


def test_the_accommodation_is_shown_before_and_during_and_a_close_override_moves_the_countdown(
    browsers: Browsers, student, proctor, make_exam
):
    exam = make_exam(duration=1200, questions=2)
    time_rules.set_accommodation(
        by=proctor,
        username=student.username,
        exam_id=exam.pk,
        multiplier=Decimal("1.5"),
        extra_seconds=0,
        reason="extra time",
    )
    page = browsers.new_page("student")
    sign_in(page, "/", student.username)

    # Before: the instructions say the student's own time.
    page.locator(".exam-card", has_text=exam.title).get_by_role("button", name="Start exam").click()
    expect(page.locator("#instructions-title")).to_have_text(exam.title)
    expect(page.locator("#instructions-extra")).to_contain_text("Your time: 30 min including 10 min extra time")

    # During: the same line over the questions, and a countdown of 30 minutes.
    page.get_by_role("button", name="Start the exam").click()
    expect(page.locator("#exam-title")).to_have_text(exam.title)
    expect(page.locator("#banners")).to_contain_text("Your time: 30 min including 10 min extra time")
    expect(page.locator("#countdown")).to_have_text(countdown_between(1780, 1800))

    # A proctor gives the student their own close in 5 minutes: the countdown follows at once.
    close = clock.now() + timedelta(minutes=5)
    status, body = rest(
        browsers.base,
        "POST",
        f"/api/proctor/exams/{exam.pk}/close-overrides/",
        login(browsers.base, proctor.username),
        {"username": student.username, "close_at": clock.iso(close), "reason": "leaves early"},
    )
    assert status == 200 and len(body["applied_attempts"]) == 1, body
    expect(page.locator("#countdown")).to_have_text(countdown_between(285, 300))
    expect(page.locator("#banners")).to_contain_text("the exam closes for you at")
    browsers.assert_clean()


def countdown_between(low: int, high: int):
    """A pattern for a countdown text ("m:ss" or "h:mm:ss") showing between `low` and `high` seconds."""
    texts = []
    for seconds in range(low, high + 1):
        h, rest_ = divmod(seconds, 3600)
        m, s = divmod(rest_, 60)
        texts.append(f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}")
    assert all(low <= countdown_seconds(t) <= high for t in texts)
    return re.compile("^(" + "|".join(texts) + ")$")


def test_a_grant_past_the_close_asks_the_proctor_to_move_or_keep_it(browsers: Browsers, student, proctor, make_exam):
    """The dashboard's extend speaks the one past-close vocabulary: the server's "this runs N min past the
    close" is shown, and the proctor's choice is sent again as `close`."""
    closes = clock.now() + timedelta(minutes=12)
    exam = make_exam(duration=600, questions=2, closes_at=closes)
    page = browsers.new_page("student")
    sign_in(page, "/", student.username)
    start_exam(page, exam.title)
    desk = browsers.new_page("proctor")
    watch_exam(desk, proctor.username, exam)
    row = proctor_row(desk, student.username)
    extend, choice = desk.locator("#extend-dialog"), desk.locator("#close-dialog")

    row.get_by_role("button", name=f"Extend time for {student.username}").click()
    extend.get_by_label("Extra minutes").fill("5")
    extend.get_by_role("button", name="Extend", exact=True).click()
    expect(choice).to_contain_text(re.compile(r"This runs [23] min past the close"))
    choice.get_by_role("button", name="Keep the close").click()
    expect(extend).to_be_hidden()
    attempt = in_thread(attempt_of, student)
    assert attempt.extra_seconds == 300 and attempt.deadline_at == attempt.close_at == closes

    row.get_by_role("button", name=f"Extend time for {student.username}").click()
    extend.get_by_label("Extra minutes").fill("1")
    extend.get_by_role("button", name="Extend", exact=True).click()
    choice.get_by_role("button", name="Move the close").click()
    expect(extend).to_be_hidden()
    attempt = in_thread(attempt_of, student)
    assert attempt.deadline_at == attempt.close_at == attempt.started_at + timedelta(minutes=16)
    expect(page.locator("#countdown")).to_have_text(countdown_between(15 * 60, 16 * 60))
    browsers.assert_clean()
