"""Concern in the builder and hotspots on the dashboard: marked per question, listed per scope."""

import copy
import json

import pytest

from survey.models import AuditEvent, Organisation, Question, Questionnaire, Ward
from survey.questionnaires.file_format import export_questionnaire, import_questionnaire
from tests.test_hotspots import FILE, HOT, fill


@pytest.fixture
def unmarked(app, network):
    """The hotspot questionnaire without any concern, in four wards."""
    Ward.create(code="P3", name="Phường 3")
    Ward.create(code="P4", name="Phường 4")
    data = copy.deepcopy(FILE)
    for item in data["questions"]:
        item.pop("concern")
    return import_questionnaire(data)


def concern(key):
    """Return a question's stored concern, read back as JSON."""
    stored = Question.get(Question.key == key).concern
    return json.loads(stored) if stored else None


def test_builder_marks_choices_and_the_file_writes_them(unmarked, login):
    """Ticking "no" stores {"choices": ["no"]}, as the file writes it; audited."""
    client = login("coordinator")
    page = client.get("/questionnaires/hot/questions/agree").get_data(as_text=True)
    assert 'name="concern_choice" value="no"' in page
    response = client.post(
        "/questionnaires/hot/questions/agree/concern", data={"concern_choice": "no"}
    )
    assert response.status_code == 302
    assert concern("agree") == {"choices": ["no"]}
    assert export_questionnaire(Questionnaire.get(slug="hot"))["questions"][0]["concern"] == {
        "choices": ["no"]
    }
    event = AuditEvent.get(AuditEvent.action == "question.update")
    assert event.target == "hot/agree" and '"choices": ["no"]' in event.detail
    page = client.get("/questionnaires/hot/questions/agree").get_data(as_text=True)
    assert 'value="no" checked' in page
    outline = client.get("/questionnaires/hot/edit").get_data(as_text=True)
    assert "“Không”" in outline


def test_builder_sets_a_scale_threshold_and_clears_it(unmarked, login):
    """A scale at most 2, a number at least 60 (typed the Vietnamese way), then none."""
    client = login("coordinator")
    form = {"concern_mode": "at_most", "concern_bound": "2"}
    assert client.post("/questionnaires/hot/questions/score/concern", data=form).status_code == 302
    assert concern("score") == {"at_most": 2}
    form = {"concern_mode": "at_least", "concern_bound": "60"}
    assert client.post("/questionnaires/hot/questions/age/concern", data=form).status_code == 302
    assert concern("age") == {"at_least": 60}
    page = client.get("/questionnaires/hot/questions/age").get_data(as_text=True)
    assert '<option value="at_least" selected>' in page and 'value="60"' in page
    clear = {"concern_mode": "", "concern_bound": ""}
    assert client.post("/questionnaires/hot/questions/score/concern", data=clear).status_code == 302
    assert concern("score") is None


@pytest.mark.parametrize(
    "key, form, text",
    [
        ("agree", {"concern_choice": ["yes", "no"]}, "Leave at least one answer unmarked"),
        ("agree", {"concern_choice": "maybe"}, "own choices"),
        ("score", {"concern_mode": "at_most", "concern_bound": "9"}, "from 1 to 5"),
        ("score", {"concern_mode": "at_most", "concern_bound": "2,5"}, "whole number"),
        ("score", {"concern_mode": "below", "concern_bound": "2"}, "at most"),
        ("age", {"concern_mode": "at_least", "concern_bound": "abc"}, "Enter a number"),
        ("age", {"concern_mode": "at_least", "concern_bound": ""}, "Enter the number"),
    ],
)
def test_builder_refuses_a_bad_concern_and_changes_nothing(unmarked, login, app, key, form, text):
    """Each bad concern is refused with a message (422), nothing stored, nothing audited."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    client = login("coordinator")
    response = client.post(f"/questionnaires/hot/questions/{key}/concern", data=form)
    assert response.status_code == 422
    assert text in response.get_data(as_text=True)
    assert concern(key) is None
    assert not AuditEvent.select().where(AuditEvent.action == "question.update").exists()


def test_another_organisation_may_not_mark_concern(unmarked, login):
    """A coordinator of another organisation than the owner's gets 403; nothing changes."""
    Questionnaire.update(organisation=Organisation.get(code="MTTQ")).execute()
    client = login("coordinator", Organisation.get(code="DOAN"))
    response = client.post(
        "/questionnaires/hot/questions/agree/concern", data={"concern_choice": "no"}
    )
    assert response.status_code == 403 and concern("agree") is None


def test_renaming_a_choice_keeps_the_concern(unmarked, login):
    """Before answers, a choice's new key is followed by the concern naming it."""
    client = login("coordinator")
    client.post("/questionnaires/hot/questions/agree/concern", data={"concern_choice": "no"})
    client.post(
        "/questionnaires/hot/questions/agree/choices/no", data={"key": "khong", "label": "Không"}
    )
    assert concern("agree") == {"choices": ["khong"]}


def test_dashboard_lists_hotspots_of_open_questionnaires_in_scope(app, network, login):
    """The made hotspot shows on the dashboard, linked to its tally; not to another organisation."""
    Ward.create(code="P3", name="Phường 3")
    Ward.create(code="P4", name="Phường 4")
    hot = import_questionnaire(copy.deepcopy(FILE))
    fill(app, hot, HOT)
    client = login("viewer")
    page = client.get("/").get_data(as_text=True)
    assert 'id="hotspots-h"' in page and "Phường 1 · Ủy ban MTTQ" in page
    assert "/questionnaires/hot/tallies?ward=P1&amp;organisation=MTTQ#q-agree" in page
    client.post("/logout")
    other = login("viewer", Organisation.get(code="DOAN")).get("/").get_data(as_text=True)
    assert "Phường 1 · Ủy ban MTTQ" not in other and 'id="hotspots-h"' not in other
    Questionnaire.update(status="closed").where(Questionnaire.id == hot.id).execute()
    client.post("/logout")
    page = login("viewer", username="v-closed").get("/").get_data(as_text=True)
    assert 'id="hotspots-h"' not in page
