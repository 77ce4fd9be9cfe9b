"""Sharing in Debian's Chromium: long names keep their printed link; posters still one A4 each."""

import pypdfium2 as pdfium
import pytest

from survey.models import Collaborator, Questionnaire
from tests.helpers import log_in_page, make_user

pytestmark = pytest.mark.browser

# As long as a name may be (200 characters, the column's limit on PostgreSQL).
LONG_NAME = ("Nguyễn Thị Phương Thảo Hoàng Lê Bảo Ngọc Trân Châu Tôn Nữ Minh Khai " * 4)[:200]


@pytest.fixture
def app(csrf_app):
    """Print with CSRF on, as in production, and with an issuer and a contact line set."""
    csrf_app.config.update(REPORT_ISSUER="BAN TUYÊN GIÁO QUẬN 10", PHONE_CONTACT="028 3864 0000")
    return csrf_app


@pytest.fixture
def long_names(network):
    """Add collaborators with very long names (one unbroken); return every active link."""
    ward, org = network["wards"][0], network["organisations"][0]
    Collaborator.create(name=LONG_NAME.strip(), ward=ward, organisation=org)
    Collaborator.create(name="Trần" + "x" * 120, ward=ward, organisation=org)
    make_user("coord", "coordinator")
    return {f"http://survey.test/c/{c.token}" for c in Collaborator.select()}


@pytest.fixture
def page(browser, server, long_names):
    """Open Chromium logged in through the login page as the coordinator."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    log_in_page(page, server, "coord")
    yield page
    context.close()


def pdf_text(path):
    """Return the text of every page of a PDF, whitespace removed (links wrap across lines)."""
    with pdfium.PdfDocument(str(path)) as document:
        texts = [p.get_textpage().get_text_range() for p in document]
    # PDFium reports a hyphen ending a line as U+FFFE; a token may end in "-".
    texts = [text.replace("\ufffe", "-") for text in texts]
    return "".join("".join(text.split()) for text in texts), len(texts)


def test_long_names_keep_their_printed_link(page, server, long_names, tmp_path, keep):
    """Printed to PDF, every card's link text is there, the long-named ones' included."""
    page.goto(server + "/network/cards")
    assert page.locator("button[data-print]").is_visible()  # shown once the script runs
    assert page.locator(".qr-card button[data-copy-link]").first.is_visible()
    pdf = tmp_path / "cards.pdf"
    pdf.write_bytes(page.pdf(format="A4", print_background=True))
    keep("cards-long-names.pdf", pdf.read_bytes())
    text, _ = pdf_text(pdf)
    missing = [link for link in long_names if link not in text]
    assert not missing, (missing, text)
    assert "Liênhệ:02838640000" in text and "BANTUYÊNGIÁOQUẬN10" in text
    assert "Saochép" not in text and "Copylink" not in text  # the buttons are not printed


def test_long_name_link_stays_inside_its_card_on_screen(page, server, long_names):
    """On screen each card's link lies wholly inside the card's box."""
    page.goto(server + "/network/cards")
    outside = page.evaluate(
        """() => Array.from(document.querySelectorAll('.qr-card')).filter(card => {
            const box = card.getBoundingClientRect();
            const link = card.querySelector('.qr-link').getBoundingClientRect();
            return link.bottom > box.bottom + 0.5 || link.top < box.top;
        }).length"""
    )
    assert outside == 0


def test_posters_with_every_line_still_print_one_page_each(page, server, sample, tmp_path):
    """With issuer, closing date and contact, each of the four posters fits its A4 page."""
    Questionnaire.update(closes_at="2026-12-31 10:00:00").where(
        Questionnaire.id == sample.id
    ).execute()
    page.goto(server + "/network/posters/sample")
    pdf = tmp_path / "posters.pdf"
    pdf.write_bytes(page.pdf(format="A4", print_background=True))
    text, pages = pdf_text(pdf)
    assert pages == 4
    assert text.count("Hạntrảlời:") == 4 and text.count("BANTUYÊNGIÁOQUẬN10") == 4
