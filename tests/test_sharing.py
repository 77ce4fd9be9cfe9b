"""Sharing: link previews, the "Share" and "copy link" buttons, printable cards and posters."""

import datetime
import html
import re

import pytest

from survey.models import Organisation, Questionnaire
from survey.respond import links
from tests.helpers import make_user

OG = re.compile(r'<meta property="(og:[a-z_]+)" content="([^"]*)">')


def og_tags(text):
    """Return a page's Open Graph tags as a dict, their values unescaped."""
    return {name: html.unescape(value) for name, value in OG.findall(text)}


def copy_links(text):
    """Return the links the page's "copy link" buttons carry, in order."""
    return [html.unescape(v) for v in re.findall(r'data-copy-link="([^"]*)"', text)]


@pytest.fixture
def coordinator(app, network):
    """Return a test client logged in as a district-wide coordinator."""
    make_user("coord", "coordinator")
    client = app.test_client()
    client.get("/login?lang=en")
    reply = client.post("/login", data={"username": "coord", "password": "secret-pass"})
    assert reply.status_code == 302
    return client


def test_open_and_poster_pages_carry_previews(client, sample, network, app):
    """/s/<slug> and /s/<slug>/<group> give og:title and og:description, og:type website."""
    with app.test_request_context():
        poster = links.open_link(sample, network["wards"][0], network["organisations"][0])
    for path in ("/s/sample", poster.removeprefix("http://survey.test")):
        reply = client.get(path)
        assert reply.status_code == 200
        tags = og_tags(reply.get_data(as_text=True))
        assert tags["og:title"] == "Ý kiến về chỉnh trang đô thị"
        assert tags["og:description"] == "Mẫu thử"
        assert tags["og:type"] == "website"


def test_personal_pages_carry_no_preview(client, sample, network):
    """A personal page (/c/…), its form included, has no Open Graph tag and so no name in one."""
    person = network["collaborators"][("P1", "MTTQ")]
    for path in (f"/c/{person.token}", f"/c/{person.token}/sample"):
        reply = client.get(path)
        assert reply.status_code == 200
        assert "og:" not in reply.get_data(as_text=True)


def test_home_share_button_carries_the_open_link_never_the_token(client, sample, network):
    """The collaborator's page shares the questionnaire's open link, never their personal link."""
    person = network["collaborators"][("P1", "MTTQ")]
    text = client.get(f"/c/{person.token}").get_data(as_text=True)
    (button,) = re.findall(r"<button[^>]*data-share-url[^>]*>", text)
    assert 'data-share-url="http://survey.test/s/sample"' in button
    assert " hidden" in button  # shown only where the browser can share
    assert person.token not in button


def test_no_share_button_without_an_open_link(client, sample, network):
    """A questionnaire without an open link has nothing to share."""
    Questionnaire.update(open_link=False).where(Questionnaire.id == sample.id).execute()
    person = network["collaborators"][("P1", "MTTQ")]
    assert "data-share-url" not in client.get(f"/c/{person.token}").get_data(as_text=True)


def test_posters_show_closing_date_issuer_contact_and_copy_buttons(coordinator, sample, app):
    """Each poster prints its closing date, the issuer and contact, and copies its own link."""
    closes = datetime.datetime(2026, 12, 31, 10, 0)
    Questionnaire.update(closes_at=closes).where(Questionnaire.id == sample.id).execute()
    app.config.update(REPORT_ISSUER="BAN TUYÊN GIÁO", PHONE_CONTACT="028 3864 0000")
    text = coordinator.get("/network/posters/sample").get_data(as_text=True)
    assert text.count("Hạn trả lời: ") == 4 and "31/12/2026" in text
    assert text.count("BAN TUYÊN GIÁO") == 4 and text.count("Liên hệ: 028 3864 0000") == 4
    printed = re.findall(r'<p class="qr-link">([^<]*)</p>', text)
    assert len(printed) == 4 and copy_links(text) == printed
    assert all(link.startswith("http://survey.test/s/sample/") for link in printed)
    assert "data-print" in text and "share.js" in text


def test_posters_without_closing_date_or_settings(coordinator, sample):
    """No closing date, issuer or contact: the poster prints none of their lines."""
    text = coordinator.get("/network/posters/sample").get_data(as_text=True)
    assert "poster-closes" not in text and "poster-issuer" not in text
    assert "poster-contact" not in text


def test_cards_copy_buttons_carry_each_personal_link(coordinator, network, app):
    """Each card's copy button carries its printed personal link; issuer and contact printed."""
    app.config.update(REPORT_ISSUER="BAN TUYÊN GIÁO", PHONE_CONTACT="028 3864 0000")
    reply = coordinator.get("/network/cards")
    text = reply.get_data(as_text=True)
    printed = re.findall(r'<p class="qr-link">([^ <]*) <button', text)
    expected = {f"http://survey.test/c/{p.token}" for p in network["collaborators"].values()}
    assert set(printed) == expected and copy_links(text) == printed
    assert text.count("Liên hệ: 028 3864 0000") == 4 and text.count("BAN TUYÊN GIÁO") == 4
    assert "data-print" in text and "no-store" in reply.headers["Cache-Control"]


def test_cards_and_posters_print_each_organisations_own_contact(coordinator, network, sample, app):
    """An organisation with a contact of its own has it printed on its cards and posters; the
    others keep the district's (PHONE_CONTACT)."""
    app.config.update(PHONE_CONTACT="028 3864 0000")
    Organisation.update(contact="Chị Lan, 0908 111 222").where(
        Organisation.code == "MTTQ"
    ).execute()
    for path in ("/network/cards", "/network/posters/sample"):
        text = coordinator.get(path).get_data(as_text=True)
        assert text.count("Liên hệ: Chị Lan, 0908 111 222") == 2, path  # P1 and P2 of MTTQ
        assert text.count("Liên hệ: 028 3864 0000") == 2, path  # P1 and P2 of Đoàn


def test_collaborator_page_and_list_copy_personal_links(coordinator, network):
    """The collaborator's page and the list offer their personal link to copy, never cached."""
    person = network["collaborators"][("P1", "MTTQ")]
    link = f"http://survey.test/c/{person.token}"
    reply = coordinator.get(f"/network/collaborators/{person.id}")
    assert copy_links(reply.get_data(as_text=True)) == [link]
    assert "no-store" in reply.headers["Cache-Control"]
    reply = coordinator.get("/network/collaborators")
    listed = copy_links(reply.get_data(as_text=True))
    assert link in listed and len(listed) == 4
    assert "no-store" in reply.headers["Cache-Control"]


def test_deactivated_collaborators_have_no_copy_button(coordinator, network):
    """A deactivated collaborator's link does not work, so the list offers none to copy."""
    person = network["collaborators"][("P1", "MTTQ")]
    person.active = False
    person.save()
    listed = copy_links(coordinator.get("/network/collaborators?status=all").get_data(as_text=True))
    assert f"http://survey.test/c/{person.token}" not in listed and len(listed) == 3


def test_share_script_is_static_and_served(client):
    """The copy and print buttons' script is a static file (CSP allows no inline script)."""
    reply = client.get("/static/share.js")
    assert reply.status_code == 200 and b"window.print()" in reply.data
    reply.close()
