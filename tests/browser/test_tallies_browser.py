"""The tally page and report in Debian's Chromium: phone and desktop layout, refresh, PDF print."""

import copy
import time

import pypdfium2 as pdfium
import pytest

from survey.models import Organisation, Ward
from survey.questionnaires.file_format import import_questionnaire
from tests.browser.test_phone_width_browser import CHOICES, LONG_KEY, WAVE
from tests.helpers import log_in_page, make_user, store_answers
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
        log_in_page(page, server, "watcher")
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


def bottom_lines(pdf):
    """Return the lowest printed line of each PDF page, without white space.

    Read by position, not in the text's order: Chromium draws a table's cells after the
    headings around it, so the page's text can end with a heading that is not at its foot.
    """
    lines = []
    with pdfium.PdfDocument(pdf) as document:
        for page in document:
            text = page.get_textpage()
            rects = [text.get_rect(i) for i in range(text.count_rects())]
            low = min(bottom for _left, bottom, _right, _top in rects)
            line = sorted(r for r in rects if r[1] < low + 3)  # one line: bottoms within 3 pt
            # Each box shrunk by 1 pt at its sides: a box's text would take its neighbours' edges.
            words = [text.get_text_bounded(lf + 1, b, rt - 1, t) for lf, b, rt, t in line]
            lines.append("".join("".join(words).split()))
    return lines


def stranded_headings(page, pdf):
    """Return the printed pages (numbered from 1) but the last whose lowest line is a heading."""
    headings = page.eval_on_selector_all(
        "main :is(h1, h2, h3, h4)", "els => els.map(e => e.textContent)"
    )
    headings = ["".join(h.split()) for h in headings if h.strip()]
    lines = bottom_lines(pdf)
    return [
        (number, line)
        for number, line in enumerate(lines[:-1], start=1)
        if len(line) > 3 and any(h.endswith(line) for h in headings)
    ]


def coded_headers(page, codes):
    """Return the table headers of the page that show a group's code instead of its name."""
    found = page.eval_on_selector_all("main th", "els => els.map(e => e.textContent.trim())")
    return [text for text in found if text in codes]


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
    assert not stranded_headings(page, str(pdf))
    assert not coded_headers(page, ("P1", "P2", "P3", "P4", "MTTQ", "DOAN"))
    assert not errors, errors


WARDS = [(f"P{i:02d}", f"Phường {i}") for i in range(1, 15)]


def test_printed_repeat_keeps_headings_with_their_content_and_says_names(
    open_page, server, app, db, keep
):
    """A repeat in 14 wards of one organisation, as the tester printed it: no page ends with a
    heading, section I is said once (no second count block, no link to the earlier wave), no
    column is headed with a code, and a share never leaves its "%" on a line of its own."""
    wards = [Ward.create(code=code, name=name) for code, name in WARDS]
    org = Organisation.create(code="DOAN", name="Quận đoàn")
    first = import_questionnaire(copy.deepcopy(WAVE))
    second = copy.deepcopy(WAVE)
    second.update({"slug": "an-ninh-2", "title": "Ý kiến thanh niên 2025 – đợt 2"})
    second["repeat_of"] = WAVE["slug"]
    repeat = import_questionnaire(second)
    with app.test_request_context():
        for questionnaire, per_ward in ((first, 8), (repeat, 6)):
            for w, ward in enumerate(wards):
                for i in range(per_ward + w % 5):
                    choice = CHOICES[(i + w) % 3]["key"]
                    answers = {"safe": choice, LONG_KEY: str((i + w) % 11), "note": "Đèn"}
                    store_answers(questionnaire, ward, org, answers)
    page, errors = open_page(1280, 900)
    page.goto(server + "/questionnaires/an-ninh-2/report")
    page.emulate_media(media="print")
    pdf = keep("report-repeat.pdf", page.pdf(format="A4", prefer_css_page_size=True))
    texts, _sizes = pdf_texts(str(pdf))
    every = "".join(texts)
    assert not stranded_headings(page, str(pdf))
    assert not coded_headers(page, ("DOAN", *(code for code, _name in WARDS)))
    assert "110phiếutrảlời" not in every  # section I says them, in a sentence and its tables
    assert "Sốphiếutrảlờitheophườngvàtổchức" not in every  # the tally page's own block
    assert page.locator(f"main a[href*='{WAVE['slug']}']").count() == 0
    assert "Quậnđoàn" in every
    lines = page.evaluate(
        "[...document.querySelectorAll('main .pct')].filter(e => e.getClientRects().length > 1)"
        ".length"
    )
    assert lines == 0
    assert not errors, errors
