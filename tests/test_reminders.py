"""Reminders: exactly who has not answered, scoped, with call, SMS and Zalo links, CSV, marking."""

import csv
import html
import io
import re
from urllib.parse import quote

import pytest

from survey.models import AuditEvent, Collaborator, Receipt
from survey.questionnaires.file_format import import_questionnaire
from survey.respond.links import personal_link
from tests.helpers import SAMPLE, csrf_token_of, make_user


def count_receipt(questionnaire, collaborator):
    """Record that a collaborator answered, as a submission's receipt does."""
    Receipt.create(questionnaire=questionnaire, collaborator=collaborator, count=1)


@pytest.fixture
def waiting(app, network, sample):
    """Answer for P1×MTTQ, an extra MTTQ person and P2×DOAN; an inactive one is never listed.

    Left: P1×DOAN and P2×MTTQ.
    """
    people = dict(network["collaborators"])
    orgs = {o.code: o for o in network["organisations"]}
    ward = network["wards"][0]
    extra = Collaborator.create(
        name="Extra", phone="0911111111", ward=ward, organisation=orgs["MTTQ"]
    )
    Collaborator.create(
        name="Inactive", phone="0922222222", active=False, ward=ward, organisation=orgs["DOAN"]
    )
    for person in (people[("P1", "MTTQ")], extra, people[("P2", "DOAN")]):
        count_receipt(sample, person)
    return {
        "left": {people[("P1", "DOAN")].id, people[("P2", "MTTQ")].id},
        "people": people,
        "orgs": orgs,
    }


def client_as(app, role, organisation=None):
    """Return a test client logged in with a new account of this role and organisation."""
    name = f"{role}-{organisation.code if organisation else 'all'}"
    make_user(name, role, organisation)
    client = app.test_client()
    assert client.post("/login", data={"username": name, "password": "secret-pass"}).status_code
    return client


def listed(response):
    """Return the ids of the collaborators a reminder page lists."""
    assert response.status_code == 200
    return {int(i) for i in re.findall(r'id="message-(\d+)"', response.get_data(as_text=True))}


def csv_rows(response):
    """Return the rows of a downloaded CSV."""
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_lists_exactly_the_non_respondents(app, waiting):
    """Only the active targeted collaborators without a receipt, grouped by ward, never cached."""
    response = client_as(app, "admin").get("/network/reminders/sample")
    assert listed(response) == waiting["left"]
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_data(as_text=True)
    assert "Extra" not in body and "Inactive" not in body
    assert body.index("Phường 1 · Đoàn Thanh niên") < body.index("Phường 2 · Ủy ban MTTQ")


def test_each_has_call_sms_zalo_and_copy(app, db, waiting):
    """Call, SMS (message and personal link URL-encoded), Zalo, and a copy button JS reveals."""
    person = waiting["people"][("P1", "DOAN")]
    body = client_as(app, "admin").get("/network/reminders/sample").get_data(as_text=True)
    with app.test_request_context():
        link = personal_link(person)
    assert f'href="tel:{person.phone}"' in body
    assert f'href="https://zalo.me/{person.phone}"' in body
    sms = html.unescape(re.search(rf'href="(sms:{person.phone}\?body=[^"]+)"', body).group(1))
    assert quote(link, safe="") in sms and "/c/" not in sms  # the link, encoded
    assert quote(person.name, safe="") in sms
    assert f'data-copy="message-{person.id}"' in body and " hidden>" in body
    assert "<script>" not in body and "reminders.js" in body
    assert link in body  # readable in the message box without JS


def test_scoped_to_the_organisation(app, waiting):
    """A coordinator sees their organisation's people only; another's sees none of them."""
    mttq, doan = waiting["orgs"]["MTTQ"], waiting["orgs"]["DOAN"]
    p1_doan, p2_mttq = waiting["people"][("P1", "DOAN")], waiting["people"][("P2", "MTTQ")]
    for org, mine, theirs in ((mttq, p2_mttq, p1_doan), (doan, p1_doan, p2_mttq)):
        client = client_as(app, "coordinator", org)
        response = client.get("/network/reminders/sample")
        assert listed(response) == {mine.id}
        assert theirs.name not in response.get_data(as_text=True)
        names = [row[0] for row in csv_rows(client.get("/network/reminders/sample.csv"))[1:]]
        assert names == [mine.name]


def test_csv_columns_for_bulk_senders(app, waiting):
    """Name, phone, link and message per person, formula-like cells neutralised, audited."""
    person = waiting["people"][("P1", "DOAN")]
    Collaborator.update(name="=HYPERLINK(1)").where(Collaborator.id == person.id).execute()
    client = client_as(app, "admin")
    rows = csv_rows(client.get("/network/reminders/sample.csv?lang=en"))
    assert rows[0] == ["Full name", "Phone", "Link", "Message"]
    assert len(rows) == 3
    with app.test_request_context():
        link = personal_link(Collaborator.get_by_id(person.id))
    first = rows[1]
    assert first[:3] == ["'=HYPERLINK(1)", person.phone, link]
    assert link in first[3]
    assert AuditEvent.get(AuditEvent.action == "reminder.export").target.startswith("#")


def test_marking_sent_is_audited_and_shown(app, waiting):
    """The listed people are recorded with the time; the page then shows when."""
    client = client_as(app, "admin")
    ids = ",".join(str(i) for i in sorted(waiting["left"]))
    response = client.post("/network/reminders/sample/sent", data={"ids": ids})
    assert response.status_code == 302
    event = AuditEvent.get(AuditEvent.action == "reminder.sent")
    assert event.target.endswith(" sample") and event.user.role == "admin"
    assert event.detail == f"n=2 ids={ids}"
    body = client.get("/network/reminders/sample").get_data(as_text=True)
    assert len(re.findall(r"<td>\d\d/\d\d/\d{4} \d\d:\d\d</td>", body)) == 2


def test_marking_keeps_only_who_is_listed_for_the_user(app, waiting):
    """Another organisation's or an answered person's id is dropped; none left, no entry."""
    client = client_as(app, "coordinator", waiting["orgs"]["MTTQ"])
    other = waiting["people"][("P1", "DOAN")].id
    answered = waiting["people"][("P1", "MTTQ")].id
    client.post("/network/reminders/sample/sent", data={"ids": f"{other},{answered}"})
    assert not AuditEvent.select().where(AuditEvent.action == "reminder.sent").exists()
    assert client.post("/network/reminders/sample/sent", data={"ids": "1;2"}).status_code == 400
    assert client.post("/network/reminders/sample/sent").status_code == 400


def test_marking_needs_the_csrf_token(app, waiting):
    """With CSRF on, the form's token is needed."""
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("coord", "coordinator")
    client = app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"username": "coord", "password": "secret-pass", "csrf_token": token}
    )
    page = client.get("/network/reminders/sample").get_data(as_text=True)
    ids = re.search(r'name="ids" value="([^"]+)"', page).group(1)
    assert client.post("/network/reminders/sample/sent", data={"ids": ids}).status_code == 400
    done = client.post(
        "/network/reminders/sample/sent", data={"ids": ids, "csrf_token": csrf_token_of(page)}
    )
    assert done.status_code == 302
    assert AuditEvent.select().where(AuditEvent.action == "reminder.sent").count() == 1


def test_anonymous_questionnaire_may_be_listed(app, waiting):
    """Receipts say who answered an anonymous questionnaire, never when: the list is allowed."""
    data = dict(SAMPLE, slug="anon", anonymous=True)
    anon = import_questionnaire(data)
    count_receipt(anon, waiting["people"][("P1", "MTTQ")])
    assert len(listed(client_as(app, "admin").get("/network/reminders/anon"))) == 4


def test_rates_page_links_to_reminders(app, waiting):
    """Coordinators reach the reminders from the rates page; viewers get no dead link."""
    assert "/network/reminders/sample" in client_as(app, "admin").get(
        "/network/rates/sample"
    ).get_data(as_text=True)
    viewer = client_as(app, "viewer", waiting["orgs"]["MTTQ"])
    assert "/network/reminders/" not in viewer.get("/network/rates/sample").get_data(as_text=True)
    assert viewer.get("/network/reminders/sample").status_code == 403


def test_unknown_questionnaire_is_404(app, waiting):
    """A bad address is 404 on the page, the CSV and the marking."""
    client = client_as(app, "admin")
    assert client.get("/network/reminders/nope").status_code == 404
    assert client.get("/network/reminders/nope.csv").status_code == 404
    assert client.post("/network/reminders/nope/sent", data={"ids": "1"}).status_code == 404
