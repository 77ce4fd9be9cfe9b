"""The tally page and report in Debian's Chromium: phone and desktop layout, refresh, PDF print."""

import time

import pytest

from survey.models import Organisation, Ward
from tests.helpers import make_user, store_answers

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app):
    """Refresh the tallies every second, so the live test need not wait 15."""
    app.config["TALLY_REFRESH_SECONDS"] = 1
    return app


@pytest.fixture
def open_page(browser, server, db):
    """Return a function giving a logged-in page of a viewport size, collecting console errors."""
    make_user("watcher", "viewer")
    contexts = []

    def opened(width, height):
        """Log in in a fresh context of this size and return (page, console errors)."""
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server + "/login")
        page.fill("input[name=username]", "watcher")
        page.fill("input[name=password]", "secret-pass")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        errors.clear()  # the login page's favicon request is no concern of these tests
        return page, errors

    yield opened
    for context in contexts:
        context.close()


def test_tally_page_on_a_phone_and_a_desktop(open_page, server, tally_sample, shot):
    """At 360 px nothing but the tables scrolls sideways; at desktop width the breakdown fits."""
    page, errors = open_page(360, 740)
    page.goto(server + "/questionnaires/sample/tallies?by=ward")
    assert shot(page, "tallies-360").stat().st_size > 5000  # not a blank page
    assert page.inner_text("[data-k='c|agree|yes']") == "4"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    widths = page.eval_on_selector_all(
        "svg.bar rect.bar-fg", "els => els.map(e => e.getAttribute('width'))"
    )
    assert "66.7" in widths
    assert not errors, errors  # no CSP refusals, no script errors

    page, errors = open_page(1280, 900)
    page.goto(server + "/questionnaires/sample/tallies?by=organisation")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator("table.breakdown").count() == 4  # agree, topics, score, age
    assert shot(page, "tallies-1280").stat().st_size > 5000
    assert not errors, errors


def test_page_updates_numbers_in_place(open_page, server, tally_sample, app):
    """A new response shows up within the refresh interval, in the same elements (no reload)."""
    page, errors = open_page(1280, 900)
    page.goto(server + "/questionnaires/sample/tallies")
    page.evaluate("document.querySelector(\"[data-k='responses']\").dataset.mark = 'same'")
    page.evaluate("window.notReloaded = true")
    with app.test_request_context():
        store_answers(
            tally_sample,
            Ward.get(code="P2"),
            Organisation.get(code="MTTQ"),
            {"agree": "no", "why": "Mới", "score": "2"},
        )
    deadline = time.monotonic() + 10
    while page.inner_text("[data-k='responses']") != "7" and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # polled from here: the page's CSP forbids eval'd predicates
    assert page.inner_text("[data-k='c|agree|no']") == "3"
    assert page.inner_text("[data-k='c|score|2']") == "1"
    assert page.evaluate("document.querySelector(\"[data-k='responses']\").dataset.mark") == "same"
    assert page.evaluate("window.notReloaded") is True
    time.sleep(1.5)  # a refresh with nothing new changes nothing either
    assert page.inner_text("[data-k='responses']") == "7"
    assert not errors, errors


def test_report_prints_to_pdf(open_page, server, tally_sample, shot, keep):
    """The report prints to A4 PDF pages with the title and every question."""
    page, errors = open_page(1280, 900)
    page.goto(server + "/questionnaires/sample/report?by=organisation")
    assert page.locator("section.tally-q").count() == 7
    page.emulate_media(media="print")
    assert page.locator(".topbar").is_hidden()
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= 2, pages
    assert shot(page, "report-print").stat().st_size > 5000
    keep("report.pdf", pdf)
    assert not errors, errors
