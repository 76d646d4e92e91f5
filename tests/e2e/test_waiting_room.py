"""The waiting room end to end in headless Chromium against a real daphne and listener: two students
wait (one enters a wrong code, then the right one), the proctor presses "Start now" on the dashboard
and confirms (the confirmation names the exam and the number waiting), and both students' questions
appear at the same start instant, with the same clock.

Set DOCS_SCREENSHOTS=1 to refresh `docs/waiting-room.png` from it.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from exams import clock
from exams.models import Attempt, Enrollment, Exam

from .conftest import Browsers, countdown_seconds, in_thread, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def open_waiting_room(page, title: str) -> None:
    page.locator(".exam-card", has_text=title).get_by_role("button", name="Start exam").click()
    expect(page.locator("#instructions-title")).to_have_text(title)
    expect(page.get_by_test_id("waiting-room")).to_be_visible()
    expect(page.get_by_role("button", name="Start the exam")).to_be_hidden()


def test_students_wait_then_start_together_when_the_proctor_starts(browsers: Browsers, make_exam, make_user, proctor):
    scheduled = clock.now() + timedelta(minutes=42, seconds=30)
    exam = make_exam(duration=900, questions=3, waiting_room=True, start_code="PX42", starts_at=scheduled)
    Exam.objects.filter(pk=exam.pk).update(title="Physics final")
    ada, bob = make_user(username="ada"), make_user(username="bob")

    pages = {}
    for user in (ada, bob):
        page = browsers.new_page(user.username)
        sign_in(page, "/", user.username)
        open_waiting_room(page, "Physics final")
        expect(page.locator("#waiting-headline")).to_contain_text("start code")
        pages[user.username] = page

    ada_page, bob_page = pages["ada"], pages["bob"]
    ada_page.get_by_label("Start code").fill("nope")
    ada_page.get_by_role("button", name="Enter code").click()
    expect(ada_page.locator("#start-code-error")).to_contain_text("not the start code")
    for page in (ada_page, bob_page):
        page.get_by_label("Start code").fill("px 42")
        page.get_by_role("button", name="Enter code").click()
        expect(page.locator("#waiting-headline")).to_contain_text("questions appear when the exam starts")
        expect(page.locator("#start-code-form")).to_be_hidden()
        expect(page.locator("#waiting-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        left = countdown_seconds(page.locator("#waiting-countdown").inner_text())
        assert -0.5 <= left - (scheduled - clock.now()).total_seconds() <= 1.5  # the server's clock, rounded up
    if os.environ.get("DOCS_SCREENSHOTS"):
        ada_page.screenshot(path=DOCS / "waiting-room.png")
    assert in_thread(lambda: Attempt.objects.filter(exam=exam).count()) == 0

    dashboard = browsers.new_page("proctor")
    sign_in(dashboard, "/proctor/", proctor.username)
    dashboard.get_by_label("Exam").select_option(str(exam.pk))
    confirmations = []

    def confirm(dialog):
        confirmations.append(dialog.message)
        dialog.accept()

    dashboard.on("dialog", confirm)
    dashboard.get_by_role("button", name="Start now…").click()

    # Both screens show the questions, behind a short "get ready" until the shared instant.
    for page in (ada_page, bob_page):
        expect(page.locator("#exam-title")).to_have_text("Physics final")
        expect(page.locator(".question")).to_have_count(3)
        expect(page.get_by_text("Get ready")).to_be_hidden()
    assert confirmations == [
        'Start "Physics final" now? 2 students are waiting; their clocks all start together in a moment. '
        "This replaces the scheduled start."
    ]
    attempts = in_thread(lambda: list(Attempt.objects.filter(exam=exam)))
    assert len(attempts) == 2 and len({a.started_at for a in attempts}) == 1
    assert {(a.deadline_at - a.started_at).total_seconds() for a in attempts} == {900}
    assert re.fullmatch(r"1[45]:\d\d", ada_page.locator("#countdown").inner_text())
    browsers.assert_clean()


def test_an_announcement_reaches_the_waiting_room_is_acknowledged_there_and_replayed_to_a_late_joiner(
    browsers: Browsers, make_exam, make_user, proctor
):
    exam = make_exam(duration=900, questions=3, waiting_room=True)
    Exam.objects.filter(pk=exam.pk).update(title="Chemistry final")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    ada_page = browsers.new_page("ada")
    sign_in(ada_page, "/", ada.username)
    open_waiting_room(ada_page, "Chemistry final")
    expect(ada_page.locator("#waiting-headline")).to_contain_text("The proctor will start the exam")

    desk = browsers.new_page("proctor")
    sign_in(desk, "/proctor/", proctor.username)
    desk.get_by_label("Exam", exact=True).select_option(str(exam.pk))
    expect(desk.locator("#connection")).to_have_text("Live")
    desk.locator("#tab-announcements").click()
    desk.get_by_label("Message", exact=True).fill("Bring your calculator.")
    desk.get_by_role("button", name="Send announcement").click()

    banner = ada_page.locator('[data-banner^="announcement-"]')
    expect(banner).to_contain_text("Bring your calculator.")
    expect(banner).to_contain_text("To everyone")
    ada_page.get_by_role("button", name="Got it").click()
    expect(banner).to_have_count(0)
    expect(desk.locator("#announcement-list li").first).to_contain_text("✓ ada")

    # A student who opens the room later sees it on arrival; Ada, back again, does not (acknowledged).
    bob_page = browsers.new_page("bob")
    sign_in(bob_page, "/", bob.username)
    open_waiting_room(bob_page, "Chemistry final")
    expect(bob_page.locator('[data-banner^="announcement-"]')).to_contain_text("Bring your calculator.")
    ada_page.get_by_role("button", name="Back to exams").click()  # her waiting socket closes
    open_waiting_room(ada_page, "Chemistry final")  # and a new one opens
    expect(ada_page.locator("#waiting-headline")).to_contain_text("The proctor will start the exam")
    expect(banner).to_have_count(0)


def test_the_proctor_writes_to_one_enrolled_student_in_the_waiting_room_from_the_not_started_list(
    browsers: Browsers, make_exam, make_user, proctor
):
    """A student without an attempt is named by user id: the not-started list's "Message…" opens the
    announcement to them; it reaches them in the waiting room and not the other waiting student, who
    sees the next announcement to everyone as their first."""
    exam = make_exam(duration=900, questions=3, waiting_room=True)
    Exam.objects.filter(pk=exam.pk).update(title="Biology final")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    Enrollment.objects.bulk_create(Enrollment(exam=exam, user=u) for u in (ada, bob))
    pages = {}
    for user in (ada, bob):
        page = browsers.new_page(user.username)
        sign_in(page, "/", user.username)
        open_waiting_room(page, "Biology final")
        pages[user.username] = page

    desk = browsers.new_page("proctor")
    sign_in(desk, "/proctor/", proctor.username)
    desk.get_by_label("Exam", exact=True).select_option(str(exam.pk))
    expect(desk.locator("#connection")).to_have_text("Live")
    desk.locator("#tab-not-started").click()
    desk.get_by_role("button", name="Send ada an announcement").click()
    expect(desk.get_by_label("To", exact=True)).to_have_value(f"user:{ada.pk}")
    desk.get_by_label("Message", exact=True).fill("Ada, please come to the front desk.")
    desk.get_by_role("button", name="Send announcement").click()
    expect(pages["ada"].locator('[data-banner^="announcement-"]')).to_contain_text("please come to the front desk")
    expect(desk.locator("#announcement-list li").first).to_contain_text("to ada")

    desk.get_by_label("To", exact=True).select_option("")
    desk.get_by_label("Message", exact=True).fill("Ten minutes to the start.")
    desk.get_by_role("button", name="Send announcement").click()
    bob_banners = pages["bob"].locator('[data-banner^="announcement-"]')
    expect(bob_banners.first).to_contain_text("Ten minutes to the start.")
    expect(bob_banners).to_have_count(1)  # the one to Ada never reached him
