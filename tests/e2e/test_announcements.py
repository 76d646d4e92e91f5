"""The exam room end to end in headless Chromium against a real daphne and expiry listener
(issue 12 §2): a proctor's announcement reaches every student's screen at once and stays there
until acknowledged, the proctor sees who acknowledged, a student who starts late gets it on
connect, and a student's question is answered in place. Set DOCS_SCREENSHOTS=1 to refresh
`docs/announcement.png` (a student's screen showing an announcement).
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import Browsers, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
TYPO = "Question 2: option B should read “Paris”, not “Pairs”. Your answers are kept."


def sit(browsers: Browsers, username: str, title: str) -> Page:
    """A student signed in, with their attempt open and its socket live."""
    page = browsers.new_page(username)
    sign_in(page, "/", username)
    page.locator(".exam-card", has_text=title).get_by_role("button", name="Start exam").click()
    page.get_by_role("button", name="Start the exam").click()
    expect(page.locator("#exam-title")).to_have_text(title)
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def watch(browsers: Browsers, proctor, exam) -> Page:
    desk = browsers.new_page("proctor")
    sign_in(desk, "/proctor/", proctor.username)
    desk.get_by_label("Exam", exact=True).select_option(str(exam.pk))
    expect(desk.locator("#connection")).to_have_text("Live")
    return desk


def banner(page: Page):
    return page.locator('[data-banner^="announcement-"]')


def test_an_announcement_is_seen_at_once_acknowledged_and_replayed_to_a_late_joiner(
    browsers: Browsers, make_user, make_exam, proctor
):
    exam = make_exam(duration=1800, questions=3)
    for name in ("ann", "bob", "carl"):
        make_user(username=name)
    ann, bob = sit(browsers, "ann", exam.title), sit(browsers, "bob", exam.title)
    desk = watch(browsers, proctor, exam)
    expect(desk.locator("#attempt-rows tr[data-attempt-id]")).to_have_count(2)

    desk.locator("#tab-announcements").click()
    desk.get_by_label("Message", exact=True).fill(TYPO)
    desk.get_by_role("button", name="Send announcement").click()
    for page in (ann, bob):
        expect(banner(page)).to_contain_text(TYPO)
        expect(banner(page)).to_contain_text("To everyone")
    if os.environ.get("DOCS_SCREENSHOTS"):
        ann.screenshot(path=str(DOCS / "announcement.png"))

    sent = desk.locator("#announcement-list li").first
    expect(sent.locator(".ack-count")).to_have_text("Acknowledged by 0 of 2")
    ann.get_by_role("button", name="Got it").click()
    expect(banner(ann)).to_have_count(0)
    expect(sent.locator(".ack-count")).to_have_text("Acknowledged by 1 of 2")
    expect(sent).to_contain_text("✓ ann")
    expect(sent).to_contain_text("Not yet: bob")
    # Bob has not acknowledged: it is still on his screen, and after a reload too.
    bob.reload()
    expect(bob.locator("#connection")).to_have_text("Live")
    expect(banner(bob)).to_contain_text(TYPO)
    # Ann's acknowledgement is kept: a reload does not bring it back.
    ann.reload()
    expect(ann.locator("#connection")).to_have_text("Live")
    expect(ann.locator("#exam-title")).to_have_text(exam.title)

    # Carl starts after it was sent: it is in his connect state.
    carl = sit(browsers, "carl", exam.title)
    expect(banner(carl)).to_contain_text(TYPO)
    bob.get_by_role("button", name="Got it").click()
    expect(sent).to_contain_text("✓ ann, bob")
    expect(banner(ann)).to_have_count(0)

    # To one student: only Carl sees it.
    carl_option = desk.locator("#announce-to option", has_text="carl").get_attribute("value")
    desk.locator("#announce-to").select_option(carl_option)
    desk.get_by_label("Message", exact=True).fill("Carl, please move to seat 12.")
    desk.get_by_role("button", name="Send announcement").click()
    expect(banner(carl).filter(has_text="seat 12")).to_contain_text("To you only")
    expect(desk.locator("#announcement-list li").first.locator(".ack-count")).to_have_text("Acknowledged by 0 of 1")
    # Sent in the same fan-out message as Carl's: Bob's screen has no banner.
    expect(banner(bob)).to_have_count(0)
    browsers.assert_clean()


def test_a_question_is_asked_and_answered_in_place(browsers: Browsers, make_user, make_exam, proctor):
    exam = make_exam(duration=1800, questions=2)
    make_user(username="dora")
    student = sit(browsers, "dora", exam.title)
    desk = watch(browsers, proctor, exam)

    student.get_by_text("Questions to the proctors").click()
    student.get_by_label("Ask the proctors").fill("Is question 2 in degrees or radians?")
    student.get_by_role("button", name="Send question").click()
    expect(student.locator("#ask-thread li")).to_contain_text("Waiting for an answer")

    expect(desk.locator('#panel-tabs [data-panel="questions"] .tab-badge')).to_have_text("1")
    desk.locator("#tab-questions").click()
    asked = desk.locator("#question-inbox li.unanswered")
    expect(asked).to_contain_text("Is question 2 in degrees or radians?")
    expect(asked).to_contain_text("dora")
    asked.get_by_label("Answer to dora").fill("Radians.")
    asked.get_by_role("button", name="Reply").click()
    expect(desk.locator("#question-inbox li.answered")).to_contain_text("Radians.")
    expect(desk.locator('#panel-tabs [data-panel="questions"] .tab-badge')).to_have_text("")

    expect(student.locator("#ask-thread li")).to_contain_text("Proctor: Radians.")
    # Replayed on reconnect.
    student.reload()
    expect(student.locator("#connection")).to_have_text("Live")
    expect(student.locator("#ask-thread li")).to_contain_text("Proctor: Radians.")
    browsers.assert_clean()
