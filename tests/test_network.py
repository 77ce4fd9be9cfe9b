"""The network screens: wards and organisations, the roster, import, export, scoping, posters."""

import os
import re
import time
from io import BytesIO
from pathlib import Path

import pytest

from survey.models import AuditEvent, Collaborator, Organisation, Questionnaire, Ward
from survey.questionnaires.file_format import set_targets
from survey.respond import links
from tests.helpers import csrf_token_of, make_user


def client_as(app, role, organisation=None, username=None):
    """Return a new test client logged in as a new account."""
    username = username or f"{role}-{organisation.code if organisation else 'all'}"
    make_user(username, role, organisation)
    client = app.test_client()
    client.get("/login?lang=en")  # messages are checked in English
    assert (
        client.post("/login", data={"username": username, "password": "secret-pass"}).status_code
        == 302
    )
    return client


@pytest.fixture
def login(client, login):
    """Log the test client in as the conftest fixture does, reading messages in English."""
    client.get("/login?lang=en")
    return login


def html_of(reply):
    """Return a reply's body as text."""
    return reply.get_data(as_text=True)


def actions():
    """Return the audit actions recorded so far, in order."""
    return [
        e.action
        for e in AuditEvent.select().order_by(AuditEvent.id)
        if not e.action.startswith("user.log")
    ]


# --- Wards and organisations --------------------------------------------------------------


def test_admin_adds_renames_and_deactivates_a_ward(network, login):
    """An admin manages wards; every change is audited; nothing is deleted."""
    client = login("admin")
    assert "Phường 1" in html_of(client.get("/network/wards"))
    assert (
        client.post("/network/wards/new", data={"code": "P3", "name": "Phường 3"}).status_code
        == 302
    )
    ward = Ward.get(Ward.code == "P3")
    assert (
        client.post(f"/network/wards/{ward.id}/rename", data={"name": "Vườn Lài"}).status_code
        == 302
    )
    assert client.post(f"/network/wards/{ward.id}/active", data={"active": "0"}).status_code == 302
    ward = Ward.get_by_id(ward.id)
    assert (ward.name, ward.active) == ("Vườn Lài", False)
    assert ward not in list(Ward.ordered())
    assert client.post(f"/network/wards/{ward.id}/active", data={"active": "1"}).status_code == 302
    assert Ward.get_by_id(ward.id).active
    assert actions() == ["ward.create", "ward.rename", "ward.deactivate", "ward.reactivate"]


def test_admin_manages_organisations_and_bad_input_changes_nothing(network, login):
    """Duplicate or malformed codes, empty names and bad flags are refused with a message."""
    client = login("admin")
    taken = client.post("/network/organisations/new", data={"code": "MTTQ", "name": "Again"})
    assert taken.status_code == 422 and "already taken" in html_of(taken)
    bad = client.post("/network/organisations/new", data={"code": "a b", "name": ""})
    assert bad.status_code == 422 and "This field is required." in html_of(bad)
    org = network["organisations"][0]
    assert (
        client.post(f"/network/organisations/{org.id}/rename", data={"name": ""}).status_code == 422
    )
    assert (
        client.post(f"/network/organisations/{org.id}/active", data={"active": "x"}).status_code
        == 400
    )
    assert client.post("/network/organisations/999/rename", data={"name": "X"}).status_code == 404
    assert (
        client.post(
            "/network/organisations/new", data={"code": "CCB", "name": "Hội CCB"}
        ).status_code
        == 302
    )
    assert Organisation.select().count() == 3
    assert Organisation.get_by_id(org.id).name == "Ủy ban MTTQ"
    assert actions() == ["organisation.create"]


def test_admin_gives_an_organisation_its_contact_for_new_cards(network, login):
    """An organisation's contact is set on its edit form (audited); a control character is
    refused with a message and changes nothing; a ward has no contact to set."""
    client = login("admin")
    org, ward = network["organisations"][0], network["wards"][0]
    form = html_of(client.get(f"/network/organisations/{org.id}/rename"))
    assert 'name="contact"' in form and "Contact for a new card" in form
    assert 'name="contact"' not in html_of(client.get(f"/network/wards/{ward.id}/rename"))
    url = f"/network/organisations/{org.id}/rename"
    bad = client.post(url, data={"name": org.name, "contact": "Chị Lan\x07 0908"})
    assert bad.status_code == 422 and "control or broken characters" in html_of(bad)
    assert Organisation.get_by_id(org.id).contact == ""
    saved = client.post(url, data={"name": org.name, "contact": "  Chị Lan, 0908 111 222 "})
    assert saved.status_code == 302
    assert Organisation.get_by_id(org.id).contact == "Chị Lan, 0908 111 222"
    assert actions() == ["organisation.contact"]  # the name did not change: no rename
    event = AuditEvent.get(AuditEvent.action == "organisation.contact")
    assert event.target == "MTTQ" and "Chị Lan, 0908 111 222" in event.detail
    assert "Chị Lan, 0908 111 222" in html_of(client.get("/network/organisations"))
    assert client.get("/network/provinces").status_code == 404


def test_only_admins_manage_wards(network, app):
    """A coordinator may not touch wards or organisations."""
    client = client_as(app, "coordinator")
    assert client.get("/network/wards").status_code == 403
    assert client.post("/network/wards/new", data={"code": "P9", "name": "X"}).status_code == 403
    assert not Ward.select().where(Ward.code == "P9").exists()


# --- The roster ---------------------------------------------------------------------------


def test_list_searches_filters_and_pages(network, login):
    """Search by name or phone, filter by ward/organisation, 50 a page, bad filters refused."""
    client = login("coordinator")
    ward, org = network["wards"][0], network["organisations"][1]
    for i in range(55):
        Collaborator.create(
            name=f"Người {i:02d}", phone=f"0987{i:06d}", ward=ward, organisation=org
        )
    first = html_of(client.get("/network/collaborators?ward=P1&organisation=DOAN"))
    assert "56 collaborators found" in first
    assert (
        first.count("/network/collaborators/")
        - first.count("/network/collaborators/new")
        - first.count("/network/collaborators/import")
        - first.count("/network/collaborators/export")
        >= 50
    )
    second = html_of(client.get("/network/collaborators?ward=P1&organisation=DOAN&page=2"))
    assert second.count("Người ") == 6
    assert client.get("/network/collaborators?page=9").status_code == 404
    by_name = html_of(client.get("/network/collaborators?q=người 07"))
    assert "Người 07" in by_name and "Người 08" not in by_name
    by_phone = html_of(client.get("/network/collaborators?q=0987 000 012"))
    assert "Người 12" in by_phone and "Người 13" not in by_phone
    assert client.get("/network/collaborators?ward=NOPE").status_code == 400
    assert client.get("/network/collaborators?status=gone").status_code == 400


def test_add_and_edit_a_collaborator(network, login):
    """A coordinator adds and edits people; bad or taken phones are refused, nothing stored."""
    client = login("coordinator")
    data = {"name": "Nguyễn Văn A", "phone": "0901 234 567", "organisation": "MTTQ", "ward": "P2"}
    assert client.post("/network/collaborators/new", data=data).status_code == 302
    person = Collaborator.get(Collaborator.name == "Nguyễn Văn A")
    assert (person.phone, person.ward.code) == ("0901234567", "P2")
    again = client.post("/network/collaborators/new", data=dict(data, name="Other"))
    assert again.status_code == 422 and "already belongs" in html_of(again)
    malformed = client.post("/network/collaborators/new", data=dict(data, phone="12ab"))
    assert malformed.status_code == 422
    unknown = client.post("/network/collaborators/new", data=dict(data, ward="P9", phone=""))
    assert unknown.status_code == 422
    assert Collaborator.select().count() == 5
    page = client.get(f"/network/collaborators/{person.id}")
    assert f"http://survey.test/c/{person.token}" in html_of(page) and "<svg" in html_of(page)
    edit = dict(data, name="Nguyễn Văn B", ward="P1")
    assert client.post(f"/network/collaborators/{person.id}", data=edit).status_code == 302
    person = Collaborator.get_by_id(person.id)
    assert (person.name, person.ward.code, person.phone) == ("Nguyễn Văn B", "P1", "0901234567")
    assert actions() == ["collaborator.create", "collaborator.update"]


def test_deactivate_and_rotate_stop_the_old_link_at_once(network, login):
    """Rotating gives a new link and the old one dies; deactivating kills the link too."""
    client = login("coordinator")
    person = network["collaborators"][("P1", "MTTQ")]
    old = person.token
    asking = client.post(f"/network/collaborators/{person.id}/rotate")
    assert asking.status_code == 200 and 'name="confirm"' in html_of(asking)
    assert Collaborator.get_by_id(person.id).token == old  # nothing changed before confirming
    rotate = client.post(f"/network/collaborators/{person.id}/rotate", data={"confirm": "1"})
    assert rotate.status_code == 302
    new = Collaborator.get_by_id(person.id).token
    assert new != old and len(new) >= 22
    assert Collaborator.by_token(old) is None and Collaborator.by_token(new).id == person.id
    assert client.get(f"/c/{old}").status_code == 404
    assert new in html_of(client.get(f"/network/collaborators/{person.id}"))
    asking = client.post(f"/network/collaborators/{person.id}/active", data={"active": "0"})
    assert asking.status_code == 200 and Collaborator.by_token(new).id == person.id
    deactivate = {"active": "0", "confirm": "1"}
    assert (
        client.post(f"/network/collaborators/{person.id}/active", data=deactivate).status_code
        == 302
    )
    assert Collaborator.by_token(new) is None
    assert (
        client.post(f"/network/collaborators/{person.id}/active", data={"active": "1"}).status_code
        == 302
    )
    assert Collaborator.by_token(new).id == person.id
    assert actions() == [
        "collaborator.rotate",
        "collaborator.deactivate",
        "collaborator.reactivate",
    ]


def test_a_coordinator_sees_and_manages_only_their_organisation(network, app):
    """A DOAN coordinator cannot list, open, edit, rotate, card, QR or export MTTQ people."""
    doan = network["organisations"][1]
    client = client_as(app, "coordinator", doan)
    theirs = network["collaborators"][("P1", "MTTQ")]
    listing = html_of(client.get("/network/collaborators?status=all"))
    assert "CTV P1 DOAN" in listing and "MTTQ" not in listing
    for path in ("", "/qr.svg", "/qr.png"):
        assert client.get(f"/network/collaborators/{theirs.id}{path}").status_code == 404
    for path, data in (
        ("", {"name": "X", "organisation": "DOAN", "ward": "P1"}),
        ("/rotate", {}),
        ("/active", {"active": "0"}),
    ):
        assert (
            client.post(f"/network/collaborators/{theirs.id}{path}", data=data).status_code == 404
        )
    same = Collaborator.get_by_id(theirs.id)
    assert (same.name, same.token, same.active) == (theirs.name, theirs.token, True)
    added = client.post(
        "/network/collaborators/new", data={"name": "Sneaky", "organisation": "MTTQ", "ward": "P1"}
    )
    assert added.status_code == 422
    assert not Collaborator.select().where(Collaborator.name == "Sneaky").exists()
    cards = html_of(client.get("/network/cards"))
    assert "CTV P1 DOAN" in cards and "MTTQ" not in cards and theirs.token not in cards
    assert client.get("/network/cards?organisation=MTTQ").status_code == 403
    export = client.get("/network/collaborators/export.csv?status=all").get_data(as_text=True)
    assert "CTV P2 DOAN" in export and theirs.token not in export and "MTTQ" not in export
    assert client.get("/network/collaborators/export.csv?organisation=MTTQ").status_code == 403


def test_viewers_cannot_manage_the_roster(network, app):
    """A viewer reads rates but may not open the roster, cards or exports."""
    client = client_as(app, "viewer")
    for path in (
        "/network/collaborators",
        "/network/cards",
        "/network/collaborators/export.csv",
        "/network/collaborators/import",
    ):
        assert client.get(path).status_code == 403


def test_visitors_are_sent_to_login(network, client):
    """Every network screen needs a login."""
    for path in ("/network/collaborators", "/network/cards", "/network/wards"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/login" in reply.headers["Location"]


def test_export_is_excel_ready_csv_with_full_links(network, login):
    """UTF-8 with a BOM, the roster header in Vietnamese and each person's full personal link."""
    client = login("coordinator")
    reply = client.get("/network/collaborators/export.csv?lang=vi")
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    assert "attachment" in reply.headers["Content-Disposition"]
    assert "no-store" in reply.headers["Cache-Control"]
    body = reply.data
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "Họ và tên,Số điện thoại,Tổ chức,Phường,Đường dẫn"
    for person in network["collaborators"].values():
        assert f"http://survey.test/c/{person.token}" in body.decode()
    assert len(lines) == 5


# --- Roster import ------------------------------------------------------------------------


def upload(client, text, path="/network/collaborators/import"):
    """Post a CSV text as the roster file."""
    return client.post(
        path,
        data={"file": (BytesIO(text.encode("utf-8")), "roster.csv")},
        content_type="multipart/form-data",
    )


GOOD = (
    "name,phone,organisation,ward\n"
    "Trần Thị B,0912 345 678,MTTQ,P1\n"
    "Lê Văn C,,Đoàn Thanh niên,Phường 2\n"
)


def upload_id_of(html):
    """Return the hidden upload id of a preview page."""
    return re.search(r'name="upload"[^>]*value="([^"]+)"', html).group(1)


def test_import_preview_then_confirm_imports_every_row(network, login):
    """The preview writes nothing; the confirmation imports all rows; a replay imports nothing."""
    client = login("coordinator")
    preview = upload(client, GOOD)
    html = html_of(preview)
    assert preview.status_code == 200 and "Trần Thị B" in html and "Lê Văn C" in html
    assert Collaborator.select().count() == 4
    upload_id = upload_id_of(html)
    done = client.post("/network/collaborators/import/confirm", data={"upload": upload_id})
    assert done.status_code == 302
    assert Collaborator.select().count() == 6
    assert Collaborator.get(Collaborator.name == "Lê Văn C").organisation.code == "DOAN"
    replay = client.post("/network/collaborators/import/confirm", data={"upload": upload_id})
    assert replay.status_code == 400 and Collaborator.select().count() == 6
    assert actions() == ["collaborator.import"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        (GOOD + "Phạm D,0933333333,MTTQ,P9\n", 4, "Unknown or inactive ward"),
        (GOOD + ",0944444444,MTTQ,P1\n", 4, "The name is empty."),
        (GOOD + "Phạm D,0912345678,MTTQ,P1\n", 4, "also on line 2"),
        ("ten,dien thoai,to chuc,ghi chu\nTrần Thị B,0912345678,MTTQ,P1\n", 1, "Phường"),
    ],
)
def test_import_reports_each_bad_row_and_stores_nothing(network, login, text, line, message):
    """A file with any bad row shows the problem with its line number and imports nothing."""
    client = login("coordinator")
    reply = upload(client, text)
    html = html_of(reply)
    assert reply.status_code == 422
    assert re.search(rf'<td class="num">{line}</td><td>[^<]*{re.escape(message)}', html), html
    assert 'name="upload"' not in html  # no way to confirm a file with problems
    assert Collaborator.select().count() == 4


def test_import_rechecks_at_confirmation(network, login):
    """A line that became an update after the preview stops the import: the new plan is shown."""
    client = login("coordinator")
    html = html_of(upload(client, GOOD))
    upload_id = upload_id_of(html)
    plan = re.search(r'name="plan"[^>]*value="([^"]+)"', html).group(1)
    Collaborator.create(
        name="Came first",
        phone="0912345678",
        ward=network["wards"][0],
        organisation=network["organisations"][0],
    )
    reply = client.post(
        "/network/collaborators/import/confirm", data={"upload": upload_id, "plan": plan}
    )
    assert reply.status_code == 409 and "Came first" in html_of(reply)
    assert Collaborator.select().count() == 5
    assert Collaborator.get(Collaborator.phone == "0912345678").name == "Came first"
    again = upload_id_of(html_of(reply))
    plan = re.search(r'name="plan"[^>]*value="([^"]+)"', html_of(reply)).group(1)
    done = client.post(
        "/network/collaborators/import/confirm", data={"upload": again, "plan": plan}
    )
    assert done.status_code == 302 and Collaborator.select().count() == 6


def test_import_refuses_other_organisations_and_foreign_uploads(network, app):
    """A DOAN coordinator cannot import MTTQ rows, nor confirm another user's upload."""
    doan = network["organisations"][1]
    scoped = client_as(app, "coordinator", doan)
    reply = upload(scoped, GOOD)
    assert reply.status_code == 422 and "own organisation" in html_of(reply)
    assert Collaborator.select().count() == 4
    other = client_as(app, "coordinator", username="district")
    upload_id = upload_id_of(html_of(upload(other, GOOD)))
    stolen = scoped.post("/network/collaborators/import/confirm", data={"upload": upload_id})
    assert stolen.status_code == 400
    forged = other.post("/network/collaborators/import/confirm", data={"upload": "../../etc"})
    assert forged.status_code == 400
    assert Collaborator.select().count() == 4
    assert (
        other.post("/network/collaborators/import/confirm", data={"upload": upload_id}).status_code
        == 302
    )
    assert Collaborator.select().count() == 6


def test_import_of_nothing_or_not_a_file_is_a_clear_refusal(network, login):
    """No file, a header-only file or binary junk gets a message and stores nothing."""
    client = login("coordinator")
    assert client.post("/network/collaborators/import", data={}).status_code == 422
    empty = upload(client, "name,phone,organisation,ward\n")
    assert empty.status_code == 422 and "no collaborators" in html_of(empty)
    junk = client.post(
        "/network/collaborators/import",
        content_type="multipart/form-data",
        data={"file": (BytesIO(b"\xff\xfe\x00junk"), "roster.csv")},
    )
    assert junk.status_code == 422 and "UTF-8" in html_of(junk)
    assert Collaborator.select().count() == 4


def test_unconfirmed_uploads_expire(network, login, app):
    """A checked file left unconfirmed past its lifetime is removed by the next upload."""
    client = login("coordinator")
    stale = upload_id_of(html_of(upload(client, GOOD)))
    folder = Path(app.instance_path) / "roster-uploads"
    (path,) = folder.glob(f"*-{stale}.csv")
    os.utime(path, (time.time() - 7200, time.time() - 7200))
    fresh = upload_id_of(html_of(upload(client, GOOD)))
    assert not path.exists() and len(list(folder.iterdir())) == 1
    assert (
        client.post("/network/collaborators/import/confirm", data={"upload": stale}).status_code
        == 400
    )
    assert (
        client.post("/network/collaborators/import/confirm", data={"upload": fresh}).status_code
        == 302
    )
    assert list(folder.iterdir()) == []


@pytest.fixture
def csrf_app(app):
    """Turn CSRF protection back on for the tests that check it."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_import_confirmation_needs_its_csrf_token(network, csrf_app):
    """The confirm step is refused without the form's token and works with it."""
    make_user("coord", "coordinator")
    client = csrf_app.test_client()
    token = csrf_token_of(html_of(client.get("/login")))
    client.post(
        "/login", data={"username": "coord", "password": "secret-pass", "csrf_token": token}
    )
    page = client.get("/network/collaborators/import")
    token = csrf_token_of(html_of(page))
    preview = client.post(
        "/network/collaborators/import",
        content_type="multipart/form-data",
        data={"file": (BytesIO(GOOD.encode()), "r.csv"), "csrf_token": token},
    )
    html = html_of(preview)
    assert preview.status_code == 200
    upload_id = upload_id_of(html)
    bare = client.post("/network/collaborators/import/confirm", data={"upload": upload_id})
    assert bare.status_code == 400 and Collaborator.select().count() == 4
    done = client.post(
        "/network/collaborators/import/confirm",
        data={"upload": upload_id, "csrf_token": csrf_token_of(html)},
    )
    assert done.status_code == 302 and Collaborator.select().count() == 6


# --- Posters ------------------------------------------------------------------------------


def poster_links(html):
    """Return the signed open links printed on a poster page."""
    return re.findall(r'<p class="qr-link">([^<]+)</p>', html)


def test_posters_carry_signed_groups_for_each_target(network, sample, login, app):
    """One poster per targeted ward × organisation; links read back; tampering fails."""
    client = login("coordinator")
    set_targets(sample, ["MTTQ", "DOAN"], ["P2"])
    found = poster_links(html_of(client.get("/network/posters/sample")))
    assert len(found) == 2
    assert all(url.startswith("http://survey.test/s/sample/") for url in found)
    group = found[0].rsplit("/", 1)[1]
    tampered = group[:-2] + ("A" if group[-2] != "A" else "B") + group[-1]
    with app.app_context():
        groups = {links.read_group(url.rsplit("/", 1)[1]) for url in found}
        assert {(w.code, o.code) for w, o in groups} == {("P2", "MTTQ"), ("P2", "DOAN")}
        assert links.read_group(tampered) is None
        assert links.read_group("WyJQMSIsIk1UVFEiXQ") is None  # the same kind of data, unsigned
    assert client.get(f"/s/sample/{group}").status_code == 200
    assert client.get(f"/s/sample/{tampered}").status_code == 404


def test_posters_are_scoped_and_need_an_open_link(network, sample, app):
    """A MTTQ coordinator gets only MTTQ posters; without an open link there are none."""
    client = client_as(app, "coordinator", network["organisations"][0])
    html = html_of(client.get("/network/posters/sample"))
    with app.app_context():
        groups = [links.read_group(u.rsplit("/", 1)[1]) for u in poster_links(html)]
    assert sorted((w.code, o.code) for w, o in groups) == [("P1", "MTTQ"), ("P2", "MTTQ")]
    assert html.count('<svg class="qr"') == 2
    Questionnaire.update(open_link=False).where(Questionnaire.id == sample.id).execute()
    closed = client.get("/network/posters/sample")
    assert closed.status_code == 200 and poster_links(html_of(closed)) == []
    assert client.get("/network/posters/nope").status_code == 404
