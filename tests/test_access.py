"""The access matrix: every route declares who may use it, and the rule holds for every user.

A new route fails `test_every_route_is_declared_and_listed` until its rule is written here too,
so no screen can be added without saying, and testing, who may use it.
"""

import csv
import io
import json

import pytest
from werkzeug.datastructures import MultiDict

from survey.models import (
    AuditEvent,
    Choice,
    Collaborator,
    Organisation,
    Question,
    Questionnaire,
    Response,
    User,
    Ward,
)
from survey.respond import submit
from survey.respond.links import sign_group
from survey.respond.rules import Schema, check_answers
from survey.security import ADMIN, COORDINATOR, PHONE, PUBLIC, VIEWER, rule_of
from tests.helpers import make_user

EXPECTED = {
    "static": PUBLIC,
    "api.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "respond.home": PHONE,
    "respond.form": PHONE,
    "respond.thanks": PHONE,
    "respond.csrf_token": PHONE,
    "respond.service_worker": PHONE,
    "respond.open_form": PHONE,
    "respond.group_form": PHONE,
    "questionnaires.index": VIEWER,
    "auth.change_password": VIEWER,
    "questionnaires.preview": VIEWER,
    "questionnaires.export_json": VIEWER,
    "tallies.show": VIEWER,
    "tallies.live": VIEWER,
    "tallies.answers": VIEWER,
    "tallies.report": VIEWER,
    "tallies.report_form": VIEWER,
    "tallies.report_docx": VIEWER,
    "tallies.chart_svg": VIEWER,
    "tallies.chart_png": VIEWER,
    "tallies.export_csv": VIEWER,
    "tallies.export_xlsx": VIEWER,
    "tallies.tallies_xlsx": VIEWER,
    "tallies.export_job": VIEWER,  # a job is its owner's alone: 404 to anyone else
    "tallies.export_file": VIEWER,
    "tallies.codebook_csv": VIEWER,
    "api.tallies": VIEWER,
    "api.timeline": VIEWER,
    "api.hotspots": VIEWER,
    "network.rates_page": VIEWER,
    "responses.index": VIEWER,
    "responses.show": VIEWER,
    "responses.tests": VIEWER,
    "responses.void": COORDINATOR,
    "responses.restore": COORDINATOR,
    "responses.clear_tests": COORDINATOR,
    "api.response_rates_json": VIEWER,
    "questionnaires.create": COORDINATOR,
    "questionnaires.import_file": COORDINATOR,
    "questionnaires.edit": COORDINATOR,
    "questionnaires.duplicate": COORDINATOR,
    "questionnaires.delete": COORDINATOR,
    "questionnaires.set_status": COORDINATOR,
    "questionnaires.add_question": COORDINATOR,
    "questionnaires.edit_question": COORDINATOR,
    "questionnaires.delete_question": COORDINATOR,
    "questionnaires.hide_question": COORDINATOR,
    "questionnaires.move_question": COORDINATOR,
    "questionnaires.add_choice": COORDINATOR,
    "questionnaires.edit_choice": COORDINATOR,
    "questionnaires.delete_choice": COORDINATOR,
    "questionnaires.hide_choice": COORDINATOR,
    "questionnaires.move_choice": COORDINATOR,
    "questionnaires.set_concern": COORDINATOR,
    "network.collaborators": COORDINATOR,
    "network.collaborator_create": COORDINATOR,
    "network.collaborator_edit": COORDINATOR,
    "network.collaborator_set_active": COORDINATOR,
    "network.collaborator_rotate": COORDINATOR,
    "network.collaborator_qr_svg": COORDINATOR,
    "network.collaborator_qr_png": COORDINATOR,
    "network.collaborators_export": COORDINATOR,
    "network.collaborators_export_xlsx": COORDINATOR,
    "network.roster_template": COORDINATOR,
    "network.roster_upload": COORDINATOR,
    "network.roster_confirm": COORDINATOR,
    "network.cards": COORDINATOR,
    "network.posters": COORDINATOR,
    "network.reminders_page": COORDINATOR,
    "network.reminders_csv": COORDINATOR,
    "network.reminders_sent": COORDINATOR,
    "auth.users": ADMIN,
    "auth.create_user": ADMIN,
    "auth.edit_user": ADMIN,
    "auth.reset_password": ADMIN,
    "auth.audit": ADMIN,
    "network.groups": ADMIN,
    "network.group_create": ADMIN,
    "network.group_rename": ADMIN,
    "network.group_set_active": ADMIN,
    "api.tokens": ADMIN,
    "api.revoke": ADMIN,
}

PERSONAS = ("anonymous", "viewer", "coordinator_a", "coordinator_b", "admin")
ALLOWED = {
    PUBLIC: set(PERSONAS),
    PHONE: set(PERSONAS),
    VIEWER: {"viewer", "coordinator_a", "coordinator_b", "admin"},
    COORDINATOR: {"coordinator_a", "coordinator_b", "admin"},
    ADMIN: {"admin"},
}
# Marker words that only organisation A's collaborators carry.
SECRET_A = "Alphaname"


@pytest.fixture
def world(app, sample, network):
    """Give organisation A a distinctive collaborator, one response per organisation, and users."""
    org_a, org_b = network["organisations"]
    ward = network["wards"][0]
    alpha = Collaborator.create(
        name=f"{SECRET_A} Nguyễn", phone="0911222333", ward=ward, organisation=org_a
    )
    beta = network["collaborators"][(ward.code, org_b.code)]
    # The sample belongs to organisation A: its coordinators edit it, B's may only read it.
    Questionnaire.update(organisation=org_a).where(Questionnaire.id == sample.id).execute()
    schema = Schema.load(sample)
    for person, uuid in (
        (alpha, "00000000-0000-4000-8000-00000000000a"),
        (beta, "00000000-0000-4000-8000-00000000000b"),
    ):
        outcome = check_answers(schema, MultiDict({"agree": "yes", "note": f"by {person.name}"}))
        assert outcome.ok
        submit.store(sample, person.ward_id, person.organisation_id, person, uuid, outcome.values)
    users = {
        "viewer": make_user("viewer", "viewer", org_a),
        "coordinator_a": make_user("coord_a", "coordinator", org_a),
        "coordinator_b": make_user("coord_b", "coordinator", org_b),
        "admin": make_user("admin", "admin"),
    }
    return {
        "alpha": alpha,
        "beta": beta,
        "ward": ward,
        "org_a": org_a,
        "org_b": org_b,
        "users": users,
        "sample": sample,
    }


def client_for(app, persona, world):
    """Return a test client logged in as the persona (or anonymous)."""
    client = app.test_client()
    if persona != "anonymous":
        user = world["users"][persona]
        response = client.post(
            "/login", data={"username": user.username, "password": "secret-pass"}
        )
        assert response.status_code == 302
    return client


def url_values(rule, world):
    """Return values for a rule's arguments, pointing at organisation A's objects."""
    values = {
        "slug": "sample",
        "token": world["alpha"].token,
        "key": "agree",
        "choice_key": "yes",
        "collaborator_id": world["alpha"].id,
        "user_id": world["users"]["viewer"].id,
        "kind": "wards",
        "group_id": world["ward"].id,
        "group": sign_group(world["ward"], world["org_a"]),
        "filename": "style.css",
        "token_id": 1,
        "ending": "xlsx",
        "response_id": Response.get(Response.collaborator == world["alpha"].id).id,
    }
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule}: give the access test a value for {missing}"
    return {name: values[name] for name in rule.arguments}


def refused(response, persona):
    """Tell whether a response refuses the request (login redirect, 401, 403)."""
    if response.status_code in (401, 403):
        return True
    return (
        persona == "anonymous"
        and response.status_code == 302
        and "/login" in response.headers.get("Location", "")
    )


def test_every_route_is_declared_and_listed(app):
    """Every route declares an access rule, and it is the one this test expects."""
    with app.app_context():
        declared = {rule.endpoint: rule_of(rule.endpoint) for rule in app.url_map.iter_rules()}
    undeclared = sorted(e for e, r in declared.items() if r is None)
    assert not undeclared, f"routes without @access: {undeclared}"
    unlisted = sorted(set(declared) - set(EXPECTED))
    assert not unlisted, f"routes missing from the access matrix: {unlisted}"
    wrong = {e: (declared[e], EXPECTED[e]) for e in declared if declared[e] != EXPECTED[e]}
    assert not wrong, f"declared vs expected: {wrong}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_access_matrix(app, world, persona):
    """Each persona is refused exactly where its role does not reach, on every route and method."""
    client = client_for(app, persona, world)
    with app.test_request_context():
        rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    problems = []
    for rule in rules:
        expected = EXPECTED[rule.endpoint]
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **url_values(rule, world))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if persona in ALLOWED[expected] and method != "GET":
                continue  # allowed writes are exercised by each feature's own tests
            if rule.endpoint in ("auth.logout",):
                continue  # logging out would end this persona's session mid-test
            response = client.open(url, method=method)
            assert response.status_code != 500, (rule.rule, method)
            is_refused = refused(response, persona)
            if persona in ALLOWED[expected]:
                scoped_away = persona == "coordinator_b" and response.status_code in (403, 404)
                if is_refused and not scoped_away:
                    problems.append(f"{persona} refused {method} {url} ({response.status_code})")
            elif not is_refused:
                problems.append(f"{persona} let in {method} {url} ({response.status_code})")
    assert not problems, "\n".join(problems)


def test_other_organisation_never_appears(app, world):
    """A coordinator of B never sees A's collaborators or responses: pages, API, exports, cards."""
    client = client_for(app, "coordinator_b", world)
    for path in (
        "/network/collaborators",
        "/network/cards",
        "/network/collaborators/export.csv",
        "/network/rates/sample",
        "/api/v1/questionnaires/sample/response-rates?by=ward",
        "/questionnaires/sample/tallies",
        "/questionnaires/sample/answers/note",
        "/questionnaires/sample/export.csv",
        "/questionnaires/sample/report",
        "/questionnaires/sample/responses",
        "/questionnaires/sample/responses?show=voided",
        "/questionnaires/sample/test-answers",
        "/network/collaborators?q=Alpha",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert SECRET_A not in body, path
        assert world["alpha"].phone not in body, path
    api = client.get("/api/v1/questionnaires/sample/tallies").get_json()
    assert api["responses"] == 1
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/questionnaires/sample/export.csv?codes=1")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert len(rows) == 1 and rows[0]["organisation"] == world["org_b"].code
    for path in (
        f"/network/collaborators/{world['alpha'].id}",
        f"/network/collaborators/{world['alpha'].id}/qr.svg",
    ):
        assert client.get(path).status_code == 404, path
    before = Collaborator.get_by_id(world["alpha"].id).token
    rotated = client.post(f"/network/collaborators/{world['alpha'].id}/rotate")
    assert rotated.status_code == 404
    assert Collaborator.get_by_id(world["alpha"].id).token == before


def test_scoped_coordinator_sees_own_organisation(app, world):
    """The same pages show a coordinator of A their own collaborators and responses."""
    client = client_for(app, "coordinator_a", world)
    assert SECRET_A in client.get("/network/collaborators").get_data(as_text=True)
    assert client.get("/api/v1/questionnaires/sample/tallies").get_json()["responses"] == 1


def test_admin_sees_everything(app, world):
    """An admin (no organisation) sees both organisations' responses."""
    client = client_for(app, "admin", world)
    assert client.get("/api/v1/questionnaires/sample/tallies").get_json()["responses"] == 2
    assert Organisation.select().count() == 2 and Ward.select().count() == 2
    assert User.select().count() == 4


# What each changing route of the questionnaires blueprint is sent: a request its owner could make.
CHANGES = {
    "questionnaires.edit": {
        "title": "Đổi tên",
        "slug": "sample",
        "status": "closed",
        "per_collaborator": "one",
        "suppress_below": "0",
        "organisations": "DOAN",
    },
    "questionnaires.set_status": {"status": "closed"},
    "questionnaires.delete": {},
    "questionnaires.add_question": {"key": "extra", "kind": "text", "prompt": "Thêm?"},
    "questionnaires.edit_question": {"key": "agree", "kind": "single", "prompt": "Đổi?"},
    "questionnaires.delete_question": {},
    "questionnaires.hide_question": {"hidden": "1"},
    "questionnaires.move_question": {"direction": "down"},
    "questionnaires.add_choice": {"label": "Mới"},
    "questionnaires.edit_choice": {"label": "Đổi"},
    "questionnaires.delete_choice": {},
    "questionnaires.hide_choice": {"hidden": "1"},
    "questionnaires.move_choice": {"direction": "down"},
    "questionnaires.set_concern": {"concern_choice": "no"},
    "questionnaires.preview": {  # a test answer
        "agree": "yes",
        "ward": "P1",
        "organisation": "MTTQ",
        "client_uuid": "00000000-0000-4000-8000-0000000000c0",
    },
}


def authored_state():
    """Return everything authoring can change: settings, targets, questions, choices, audit."""
    questionnaires = [
        (q.slug, q.title, q.status, q.suppress_below, q.organisation_id, q.updated_at)
        for q in Questionnaire.select().order_by(Questionnaire.id)
    ]
    questions = [
        (q.key, q.prompt, q.hidden, q.position) for q in Question.select().order_by(Question.id)
    ]
    choices = [(c.key, c.label, c.hidden, c.position) for c in Choice.select().order_by(Choice.id)]
    targets = [o.code for o in Questionnaire.get(slug="sample").target_organisations()]
    return questionnaires, questions, choices, targets, AuditEvent.select().count()


def test_other_organisation_cannot_change_a_questionnaire(app, world):
    """Every changing questionnaire route refuses B's coordinator on A's questionnaire (403),
    changing nothing; the same request from A's coordinator is not refused."""
    with app.test_request_context():
        rules = [
            r
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith("questionnaires.")
            and "POST" in r.methods
            and "slug" in r.arguments
            and r.endpoint != "questionnaires.duplicate"
        ]
    assert {r.endpoint for r in rules} == set(CHANGES), "give each changing route its request"
    other, owner = client_for(app, "coordinator_b", world), client_for(app, "coordinator_a", world)
    for rule in sorted(rules, key=lambda r: r.endpoint):
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **url_values(rule, world))
        before = authored_state()
        response = other.post(url, data=CHANGES[rule.endpoint])
        assert response.status_code == 403, (url, response.status_code)
        assert authored_state() == before, url
        assert owner.post(url, data=CHANGES[rule.endpoint]).status_code not in (401, 403), url


def test_a_copy_or_import_belongs_to_the_coordinators_own_organisation(app, world):
    """B may copy A's questionnaire or import a file naming A, but what B creates is B's."""
    client = client_for(app, "coordinator_b", world)
    before = authored_state()
    response = client.post(
        "/questionnaires/sample/duplicate", data={"slug": "copy-b", "title": "Bản sao"}
    )
    assert response.status_code == 302
    assert Questionnaire.get(slug="copy-b").organisation_id == world["org_b"].id
    assert authored_state()[0][0] == before[0][0]  # A's questionnaire itself is untouched
    exported = client.get("/questionnaires/sample/export.json").get_json()
    assert exported["organisation"] == world["org_a"].code
    exported["slug"] = "import-b"
    upload = {"file": (io.BytesIO(json.dumps(exported).encode()), "q.json")}
    response = client.post("/questionnaires/import", data=upload)
    assert response.status_code == 302
    assert Questionnaire.get(slug="import-b").organisation_id == world["org_b"].id
    dashboard = client.get("/").get_data(as_text=True)
    assert "/questionnaires/import-b/edit" in dashboard
    assert "/questionnaires/sample/edit" not in dashboard
