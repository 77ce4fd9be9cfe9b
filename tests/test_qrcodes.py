"""QR codes: they decode to the text put in, are cached, and fit a strict CSP when inlined."""

import io
import re

import zxingcpp
from PIL import Image

from survey.models import Collaborator, CollaboratorCode
from survey.network import qrcodes
from survey.network.routes import cards

LINK = "http://survey.test/c/Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4"


def decode_png(data):
    """Return the texts of the QR codes in PNG bytes."""
    return [
        r.text
        for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
        if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def test_png_decodes_to_the_text():
    """A PNG code reads back as exactly the text, Vietnamese included, at several sizes."""
    for text, box in ((LINK, 8), (LINK, 3), ("https://x.vn/s/khảo-sát", 6)):
        data = qrcodes.png(text, box_size=box)
        assert data.startswith(b"\x89PNG")
        assert decode_png(data) == [text]


def test_bigger_boxes_make_bigger_pictures():
    """box_size sets the pixels per module."""
    small = Image.open(io.BytesIO(qrcodes.png(LINK, box_size=2))).size[0]
    large = Image.open(io.BytesIO(qrcodes.png(LINK, box_size=10))).size[0]
    assert large == 5 * small


def test_svg_is_inline_ready_and_csp_safe():
    """The SVG has no XML declaration, no style attribute or element, and a viewBox."""
    markup = qrcodes.svg(LINK)
    assert markup.startswith('<svg class="qr"')
    assert "<?xml" not in markup and "style" not in markup and "<script" not in markup
    assert re.search(r'viewBox="0 0 (\d+) \1"', markup)
    assert 'xmlns="http://www.w3.org/2000/svg"' in markup


def test_codes_are_cached():
    """Drawing the same code twice costs one drawing: the second comes from the cache."""
    qrcodes.clear_cache()
    first = qrcodes.svg(LINK)
    assert qrcodes.svg(LINK) is first
    assert qrcodes.svg.cache_info().hits == 1
    assert qrcodes.png(LINK) is qrcodes.png(LINK)
    assert qrcodes.svg(LINK + "x") != first


def test_qr_endpoints_serve_the_personal_link(network, login):
    """The collaborator's QR endpoints return SVG and a PNG that decodes to their link."""
    client = login("coordinator")
    person = network["collaborators"][("P2", "DOAN")]
    png = client.get(f"/network/collaborators/{person.id}/qr.png")
    assert png.mimetype == "image/png" and "no-store" in png.headers["Cache-Control"]
    assert decode_png(png.data) == [f"http://survey.test/c/{person.token}"]
    svg = client.get(f"/network/collaborators/{person.id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.get_data(as_text=True).startswith("<svg")
    assert client.get("/network/collaborators/999/qr.png").status_code == 404


def test_card_sheet_inlines_one_code_per_active_person(network, login):
    """The sheet inlines an SVG per active collaborator, with no style attribute or script."""
    client = login("coordinator")
    person = network["collaborators"][("P1", "MTTQ")]
    person.active = False
    person.save()
    reply = client.get("/network/cards?ward=&organisation=")
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "no-store" in reply.headers["Cache-Control"]
    assert html.count('<svg class="qr"') == 3
    assert person.token not in html and "CTV P2 DOAN" in html
    assert 'style="' not in html and "<script>" not in html and "<style" not in html
    only = client.get("/network/cards?ward=P2&organisation=MTTQ").get_data(as_text=True)
    assert only.count('<svg class="qr"') == 1 and "CTV P2 MTTQ" in only
    assert client.get("/network/cards?ward=NOPE").status_code == 400


def names_on(client, query=""):
    """Return the names on a card sheet page, in order (None when the page does not exist)."""
    reply = client.get("/network/cards" + query)
    if reply.status_code == 404:
        return None
    return re.findall(r'<p class="qr-name">([^<]+)</p>', reply.get_data(as_text=True))


def test_card_codes_are_drawn_once_per_link_and_kept(network, login, app):
    """The sheet keeps each card's code with its collaborator, reads it back the next time, and
    draws it again only for a new link (rotated, or another BASE_URL)."""
    client = login("coordinator")
    person = network["collaborators"][("P1", "MTTQ")]
    link = f"http://survey.test/c/{person.token}"
    client.get("/network/cards")
    kept = {row.collaborator_id: row for row in CollaboratorCode.select()}
    assert set(kept) == {p.id for p in network["collaborators"].values()}
    assert kept[person.id].link == link and kept[person.id].svg == qrcodes.draw_svg(link)
    marker = '<svg class="qr" data-kept="yes"></svg>'
    CollaboratorCode.update(svg=marker).where(CollaboratorCode.link == link).execute()
    assert 'data-kept="yes"' in client.get("/network/cards").get_data(as_text=True)
    Collaborator.get_by_id(person.id).rotate_token()
    fresh = Collaborator.get_by_id(person.id)
    html = client.get("/network/cards").get_data(as_text=True)
    assert 'data-kept="yes"' not in html and html.count('<svg class="qr"') == 4
    row = CollaboratorCode.get_by_id(person.id)
    assert row.link == f"http://survey.test/c/{fresh.token}" and "<path" in row.svg
    app.config["BASE_URL"] = "https://khaosat.example.vn"
    client.get("/network/cards")
    assert {r.link.split("/c/")[0] for r in CollaboratorCode.select()} == {
        "https://khaosat.example.vn"
    }
    assert CollaboratorCode.select().count() == 4


def test_sheet_pages_follow_wards_and_organisations(network, login, monkeypatch):
    """Whole ward × organisation groups share a page where they fit; a larger group has pages of
    its own; the group list leads to each group's page; past the last page is 404."""
    monkeypatch.setattr(cards, "CARDS_PER_PAGE", 3)
    client = login("coordinator")
    ward, organisation = network["wards"][0], network["organisations"][0]  # P1 · MTTQ
    for name in ("Bảo", "An", "Đức", "Cường"):
        Collaborator.create(name=name, phone="", ward=ward, organisation=organisation)
    pages = [names_on(client, f"?page={n}") for n in range(1, 6)]
    assert pages == [
        ["CTV P1 DOAN"],
        ["An", "Bảo", "CTV P1 MTTQ"],
        ["Cường", "Đức"],
        ["CTV P2 DOAN", "CTV P2 MTTQ"],
        None,
    ]
    html = client.get("/network/cards?page=3").get_data(as_text=True)
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]+)</option>', html)
    assert [(value, label) for value, _, label in options] == [
        ("1", "Phường 1 · Đoàn Thanh niên (1)"),
        ("2", "Phường 1 · Ủy ban MTTQ (5)"),
        ("4", "Phường 2 · Đoàn Thanh niên (1)"),
        ("4", "Phường 2 · Ủy ban MTTQ (1)"),
    ]
    assert [label for _, chosen, label in options if chosen] == ["Phường 1 · Ủy ban MTTQ (5)"]
    assert "8 " in html  # the whole sheet's count, not the page's
    assert names_on(client, "?ward=P1&organisation=MTTQ&page=2") == ["Cường", "Đức"]
    assert client.get("/network/cards?page=0").status_code == 400
