"""The QR card sheet in Debian's Chromium: codes on screen and on printed A4 decode to the links."""

import io

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from survey.models import Collaborator
from survey.respond import links
from tests.helpers import log_in_page, make_user

pytestmark = pytest.mark.browser

CARDS_PER_PAGE = 8  # 2 columns × 4 rows of 94 × 66 mm on A4 with 10 mm margins


@pytest.fixture
def app(csrf_app):
    """Print the cards with CSRF on, as in production."""
    return csrf_app


@pytest.fixture
def people(network):
    """Add fourteen people (two pages), some with long Vietnamese names; return their links."""
    ward, org = network["wards"][1], network["organisations"][0]
    for i in range(10):
        Collaborator.create(
            name=f"Nguyễn Thị Phương Thảo Hoàng {i}",
            phone=f"09770000{i:02d}",
            ward=ward,
            organisation=org,
        )
    make_user("coord", "coordinator")
    return {f"http://survey.test/c/{c.token}" for c in Collaborator.select()}


@pytest.fixture
def page(browser, server, people):
    """Open Chromium at desktop width, logged in through the login page as the coordinator."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, device_scale_factor=2, locale="vi-VN"
    )
    page = context.new_page()
    log_in_page(page, server, "coord")
    yield page
    context.close()


def decode(image):
    """Return the texts of the QR codes found in a PIL image."""
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def pdf_pages(pdf, dpi):
    """Render each page of a PDF file at dpi (as `pdftoppm -r dpi` did); return their PNG bytes."""
    pages = []
    with pdfium.PdfDocument(str(pdf)) as document:
        for page in document:
            png = io.BytesIO()
            page.render(scale=dpi / 72).to_pil().save(png, format="PNG")
            pages.append(png.getvalue())
    return pages


def test_screen_codes_decode_to_personal_links(page, server, people, keep):
    """Every card on the screen decodes to exactly its collaborator's personal link."""
    errors = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(server + "/network/cards")
    assert page.locator(".qr-card").count() == len(people)
    shot = page.screenshot(full_page=True)
    keep("cards-desktop.png", shot)
    found = decode(Image.open(io.BytesIO(shot)))
    assert sorted(found) == sorted(people)
    assert errors == []  # no CSP violation or failed resource


def test_printed_a4_pages_keep_cards_whole(page, server, people, tmp_path, keep):
    """Printed to A4, each page holds whole cards whose codes all decode; none is cut in two."""
    page.goto(server + "/network/cards")
    pdf = tmp_path / "cards.pdf"
    pdf.write_bytes(page.pdf(format="A4", print_background=True))
    pages = pdf_pages(pdf, 150)
    assert len(pages) == -(-len(people) // CARDS_PER_PAGE)
    found = []
    for number, png in enumerate(pages, 1):
        keep(f"cards-print-{number}.png", png)
        image = Image.open(io.BytesIO(png))
        assert abs(image.size[1] / image.size[0] - 297 / 210) < 0.01  # A4 portrait
        codes = decode(image)
        expected = min(CARDS_PER_PAGE, len(people) - CARDS_PER_PAGE * (number - 1))
        assert len(codes) == expected
        found += codes
    assert sorted(found) == sorted(people)


def test_phone_width_has_no_sideways_scroll(page, server, people, keep):
    """At 360 px wide the sheet and the roster list fit without scrolling sideways."""
    page.set_viewport_size({"width": 360, "height": 740})
    for path, name in (
        ("/network/cards", "cards-phone.png"),
        ("/network/collaborators", "collaborators-phone.png"),
    ):
        page.goto(server + path)
        keep(name, page.screenshot(full_page=True))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_printed_posters_carry_signed_groups(page, server, sample, app, tmp_path, keep):
    """Each poster prints on its own A4 page with a code for its signed ward × organisation link."""
    page.goto(server + "/network/posters/sample")
    pdf = tmp_path / "posters.pdf"
    pdf.write_bytes(page.pdf(format="A4", print_background=True))
    pages = pdf_pages(pdf, 100)
    assert len(pages) == 4  # 2 wards × 2 organisations, the sample targets everyone
    groups = set()
    for number, png in enumerate(pages, 1):
        keep(f"poster-print-{number}.png", png)
        (link,) = decode(Image.open(io.BytesIO(png)))
        assert link.startswith("http://survey.test/s/sample/")
        with app.app_context():
            ward, organisation = links.read_group(link.rsplit("/", 1)[1])
        groups.add((ward.code, organisation.code))
    assert groups == {("P1", "MTTQ"), ("P1", "DOAN"), ("P2", "MTTQ"), ("P2", "DOAN")}
