"""The tally API: its exact shape, filters and errors, suppression, scope, and API tokens."""

import re

from survey.models import ApiToken, AuditEvent, Organisation, Questionnaire, User
from survey.security import hash_api_token
from tests.helpers import make_user

URL = "/api/v1/questionnaires/sample/tallies"


def test_shape_and_counts(app, tally_sample, login):
    """The document has exactly the contract's keys; no sections; means for scale and number."""
    data = login("viewer").get(URL).get_json()
    assert set(data) == {"questionnaire", "responses", "questions"}
    assert data["questionnaire"] == {"slug": "sample", "title": "Ý kiến về chỉnh trang đô thị"}
    assert data["responses"] == 6
    assert [q["key"] for q in data["questions"]] == [
        "agree",
        "why",
        "topics",
        "score",
        "age",
        "note",
        "day",
    ]
    by_key = {q["key"]: q for q in data["questions"]}
    assert by_key["agree"] == {
        "key": "agree",
        "kind": "single",
        "answered": 6,
        "skipped": 0,
        "not_asked": 0,
        "choices": [
            {"key": "yes", "label": "Đồng ý", "count": 4},
            {"key": "no", "label": "Không đồng ý", "count": 2},
        ],
    }
    assert [c["count"] for c in by_key["score"]["choices"]] == [1, 0, 1, 1, 2]
    assert [c["key"] for c in by_key["score"]["choices"]] == ["1", "2", "3", "4", "5"]
    assert by_key["score"]["mean"] == 3.6 and by_key["age"]["mean"] == 35.2
    assert by_key["age"]["choices"] == [] and by_key["why"] == {
        "key": "why",
        "kind": "text",
        "answered": 2,
        "skipped": 0,
        "not_asked": 4,  # shown only after agree = no: the other four were never asked
        "choices": [],
    }
    assert (by_key["note"]["skipped"], by_key["note"]["not_asked"]) == (4, 0)
    assert all("mean" not in q for q in data["questions"] if q["kind"] not in ("scale", "number"))
    assert all("by" not in q for q in data["questions"])


def test_breakdowns_list_every_group_and_choice(app, tally_sample, login):
    """Under `by`, every group lists every choice key, zeros included."""
    client = login("viewer")
    data = client.get(URL + "?by=organisation").get_json()
    topics = next(q for q in data["questions"] if q["key"] == "topics")
    assert topics["by"] == {
        "DOAN": {"roads": 1, "parks": 2, "safety": 2},
        "MTTQ": {"roads": 2, "parks": 1, "safety": 0},
    }
    for q in data["questions"]:
        keys = {c["key"] for c in q["choices"]}
        assert set(q["by"]) == {"DOAN", "MTTQ"}
        assert all(set(cells) == keys for cells in q["by"].values())
    data = client.get(URL + "?by=ward&ward=P1&organisation=MTTQ").get_json()
    assert data["responses"] == 2
    agree = data["questions"][0]
    assert agree["by"] == {"P1": {"yes": 1, "no": 1}}


def test_bad_parameters_are_400_json(app, tally_sample, login):
    """Unknown codes or breakdowns answer 400 with a JSON error; an unknown slug 404."""
    client = login("viewer")
    for query in ("ward=ZZ", "organisation=ZZ", "by=question", "from=yesterday"):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 400 and response.is_json
        assert response.get_json()["error"]
    missing = client.get("/api/v1/questionnaires/nope/tallies")
    assert missing.status_code == 404 and missing.is_json


def test_anonymous_is_refused(client, tally_sample):
    """Without a session or a token the API answers 401 JSON."""
    response = client.get(URL)
    assert response.status_code == 401 and response.is_json
    assert client.get(URL, headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_suppressed_counts_are_null_zero_stays(app, tally_sample, login):
    """With k = 3, counts 1–2 and their complements are null, zero is 0."""
    Questionnaire.update(suppress_below=3).where(Questionnaire.id == tally_sample.id).execute()
    data = login("viewer").get(URL + "?by=ward").get_json()
    q = {x["key"]: x for x in data["questions"]}
    assert [c["count"] for c in q["agree"]["choices"]] == [None, None]
    assert [c["count"] for c in q["score"]["choices"]] == [None, 0, None, None, None]
    assert q["score"]["mean"] is None and q["age"]["answered"] is None
    assert q["topics"]["by"]["P2"] == {"roads": None, "parks": None, "safety": None}


def test_scoped_coordinator_never_sees_other_organisations(app, tally_sample, login):
    """A coordinator of MTTQ gets MTTQ's counts only; asking for DOAN is refused."""
    client = login("coordinator", Organisation.get(code="MTTQ"))
    data = client.get(URL + "?by=organisation").get_json()
    assert data["responses"] == 3
    assert all(set(q["by"]) == {"MTTQ"} for q in data["questions"])
    assert client.get(URL + "?organisation=DOAN").status_code == 400


def _create_token(client, user, name="export tool"):
    """Create a token through the admin screen and return the secret shown once."""
    page = client.post("/admin/api-tokens", data={"user": user.id, "name": name})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    match = re.search(r'<code class="secret">([^<]+)</code>', html)
    assert match, html
    return match.group(1)


def test_api_tokens_create_use_revoke(app, tally_sample, login):
    """A token is made (secret shown once, hash stored), reads in its user's scope, is revoked."""
    admin = login("admin")
    coordinator = make_user("mttq-reader", "coordinator", Organisation.get(code="MTTQ"))
    secret = _create_token(admin, coordinator)
    token = ApiToken.get(ApiToken.user == coordinator)
    assert token.token_hash == hash_api_token(secret) and secret not in token.token_hash
    assert len(secret) >= 40
    listing = admin.get("/admin/api-tokens").get_data(as_text=True)
    assert "export tool" in listing and secret not in listing
    assert AuditEvent.select().where(AuditEvent.action == "api_token.create").count() == 1

    robot = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    data = robot.get(URL, headers=bearer).get_json()
    assert data["responses"] == 3  # MTTQ's share only
    assert robot.get("/questionnaires/sample/tallies", headers=bearer).status_code == 302

    assert admin.post(f"/admin/api-tokens/{token.id}/revoke").status_code == 302
    assert robot.get(URL, headers=bearer).status_code == 401


def test_token_screen_is_for_admins_and_checks_input(app, tally_sample, login):
    """Only admins reach the token screen; a missing name or an unknown account is refused."""
    make_user("reader", "viewer")
    viewer = app.test_client()
    viewer.post("/login", data={"username": "reader", "password": "secret-pass"})
    assert viewer.get("/admin/api-tokens").status_code == 403
    admin = login("admin", username="boss")
    user = User.get(User.username == "boss")
    assert admin.post("/admin/api-tokens", data={"user": user.id, "name": " "}).status_code == 422
    assert admin.post("/admin/api-tokens", data={"user": 999, "name": "x"}).status_code == 422
    assert admin.post("/admin/api-tokens", data={"user": "abc", "name": "x"}).status_code == 422
    assert ApiToken.select().count() == 0
    assert admin.post("/admin/api-tokens/999/revoke").status_code == 404
