"""The tally page and report in Debian's Chromium: phone and desktop layout, refresh, PDF print."""

import copy
import time

import pypdfium2 as pdfium
import pytest

from survey.models import Organisation, Ward
from survey.questionnaires.file_format import import_questionnaire
from tests.helpers import make_user, store_answers
from tests.test_hotspots import FILE, HOT, fill

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


def pdf_texts(pdf):
    """Return each page's text, without white space (PDFium breaks lines inside words)."""
    with pdfium.PdfDocument(pdf) as document:
        return [
            "".join(page.get_textpage().get_text_range().replace("\ufffe", "").split())
            for page in document
        ], [page.get_size() for page in document]


def test_printable_report_prints_the_word_content_on_numbered_a4_pages(
    open_page, server, app, network, keep
):
    """Printed by Chromium at A4: the official header on page 1, hotspots, a written answer,
    recipients and signature, and each page from the second numbered at its top."""
    Ward.create(code="P3", name="Phường 3")
    Ward.create(code="P4", name="Phường 4")
    data = copy.deepcopy(FILE)
    data["questions"].append({"key": "note", "kind": "longtext", "prompt": "Góp ý"})
    hot = import_questionnaire(data)
    fill(app, hot, HOT)
    with app.test_request_context():  # five written answers in one group: k = 5 lets them show
        for i in range(5):
            answers = {"agree": "yes", "topics": ["roads"], "note": f"Cần thêm đèn chiếu sáng {i}"}
            store_answers(hot, Ward.get(code="P2"), Organisation.get(code="DOAN"), answers)
    page, errors = open_page(1280, 900)
    settings = "issuer=Ban+Dân+vận&signer=Nguyễn+Văn+A&signer_title=Trưởng+ban&number=7"
    page.goto(server + "/questionnaires/hot/report?recipients=Lưu+VT&" + settings)
    page.emulate_media(media="print")
    pdf = keep("report-official.pdf", page.pdf(format="A4", prefer_css_page_size=True))
    texts, sizes = pdf_texts(str(pdf))
    assert len(texts) >= 2, len(texts)
    assert all(abs(w - 595.3) < 1.5 and abs(h - 841.9) < 1.5 for w, h in sizes), sizes
    first, every = texts[0], "".join(texts)
    for needle in ("BANDÂNVẬN", "Số:7/BC", "CỘNGHÒAXÃHỘICHỦNGHĨAVIỆTNAM", "BÁOCÁO"):
        assert needle in first, needle
    for needle in (
        "I.SỐPHIẾUVÀTỶLỆTRẢLỜI",
        "III.ĐIỂMNÓNG",
        "Phường1·ỦybanMTTQ",
        "Cầnthêmđènchiếusáng",
        "Nơinhận:",
        "-LưuVT;",
        "TRƯỞNGBAN",
        "NguyễnVănA",
    ):
        assert needle in every, needle
    assert not first.startswith("1")  # the first page carries no number, as in the Word file
    for number, text in enumerate(texts[1:], start=2):
        assert text.startswith(str(number)), (number, text[:20])
    assert not errors, errors
