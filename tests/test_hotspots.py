"""Hotspots: groups whose share of concern answers stands above the district's, suppression kept."""

import copy
import io

import docx
import pytest

from survey.models import Organisation, Questionnaire, Ward
from survey.questionnaires.file_format import (
    FileError,
    export_questionnaire,
    import_questionnaire,
)
from survey.tallies.hotspots import hotspots
from tests.helpers import store_answers

FILE = {
    "slug": "hot",
    "title": "Điểm nóng",
    "status": "open",
    "suppress_below": 5,
    "questions": [
        {
            "key": "agree",
            "kind": "single",
            "prompt": "Bạn có đồng ý?",
            "choices": [{"key": "yes", "label": "Đồng ý"}, {"key": "no", "label": "Không"}],
            "concern": {"choices": ["no"]},
        },
        {"key": "score", "kind": "scale", "prompt": "Hài lòng", "concern": {"at_most": 2}},
        {"key": "age", "kind": "number", "prompt": "Tuổi", "concern": {"at_least": 60}},
        {
            "key": "topics",
            "kind": "multi",
            "prompt": "Chủ đề",
            "choices": [
                {"key": "roads", "label": "Đường"},
                {"key": "crime", "label": "Trộm cắp"},
                {"key": "noise", "label": "Tiếng ồn"},
            ],
            "concern": {"choices": ["crime", "noise"]},
        },
    ],
}
# "no" answers of 20 responses in each ward × organisation: P1 × MTTQ stands out, and only it.
HOT = {
    ("P1", "MTTQ"): 15,
    ("P2", "MTTQ"): 5,
    ("P3", "MTTQ"): 5,
    ("P4", "MTTQ"): 5,
    ("P1", "DOAN"): 0,
    ("P2", "DOAN"): 7,
    ("P3", "DOAN"): 7,
    ("P4", "DOAN"): 7,
}
FLAT = {cell: 6 for cell in HOT}


@pytest.fixture
def hot(app, network):
    """Import the hotspot questionnaire in a district of four wards and two organisations."""
    Ward.create(code="P3", name="Phường 3")
    Ward.create(code="P4", name="Phường 4")
    return import_questionnaire(copy.deepcopy(FILE))


def fill(app, questionnaire, concern, size=20):
    """Store `size` responses per cell, `concern[cell]` of them answering "no" (and crime)."""
    with app.app_context():
        for (ward, org), n in concern.items():
            w, o = Ward.get(code=ward), Organisation.get(code=org)
            for i in range(size):
                worried = i < n
                answers = {
                    "agree": "no" if worried else "yes",
                    "topics": ["crime", "noise"] if worried else ["roads"],
                }
                store_answers(questionnaire, w, o, answers)


def places(found):
    """Return each hotspot as (question key, ward code, organisation code)."""
    return {(h.question.key, *h.code) for h in found}


def test_the_made_hotspot_is_found_and_only_it(app, hot, login):
    """P1 × MTTQ stands out on both concern questions; its ward and organisation do not."""
    fill(app, hot, HOT)
    found = hotspots(hot)
    assert places(found) == {("agree", "P1", "MTTQ"), ("topics", "P1", "MTTQ")}
    body = login("viewer").get("/api/v1/questionnaires/hot/hotspots").get_json()
    assert body[0] == {
        "question": "agree",
        "ward": "P1",
        "organisation": "MTTQ",
        "share": 0.75,
        "district_share": round(51 / 160, 4),
        "responses": 20,
    }
    assert [h["question"] for h in body] == ["agree", "topics"]


def test_no_hotspot_in_flat_data(app, hot):
    """Every group alike: nothing stands out."""
    fill(app, hot, FLAT)
    assert hotspots(hot) == []


def test_scope_and_filters(app, hot, login):
    """A viewer of another organisation, or a filter on another ward, names none."""
    fill(app, hot, HOT)
    client = login("viewer", Organisation.get(code="DOAN"))
    assert client.get("/api/v1/questionnaires/hot/hotspots").get_json() == []
    assert client.get("/api/v1/questionnaires/hot/hotspots?organisation=MTTQ").status_code == 400


def test_group_under_k_is_never_named(app, hot):
    """Four responses all worried in one cell: under k, never named, with or without suppression."""
    fill(app, hot, FLAT)
    fill(app, hot, {("P1", "MTTQ"): 4}, size=4)
    for k in (5, 0):
        Questionnaire.update(suppress_below=k).where(Questionnaire.id == hot.id).execute()
        found = hotspots(Questionnaire.get_by_id(hot.id))
        assert ("agree", "P1", "MTTQ") not in places(found)
        assert all(h.responses >= 5 for h in found)


def test_group_the_tally_withholds_is_not_named(app, hot, login):
    """With k = 25 the cells of 20 are withheld by the tally: only a ward or organisation is."""
    Questionnaire.update(suppress_below=25).where(Questionnaire.id == hot.id).execute()
    fill(app, hot, HOT)
    found = hotspots(Questionnaire.get_by_id(hot.id))
    assert all(None in h.code for h in found)
    assert all(h.responses >= 25 for h in found)


def test_report_lists_hotspots(app, hot, login):
    """The Word report's hotspot section names the group."""
    fill(app, hot, HOT)
    response = login("viewer").get("/questionnaires/hot/report.docx")
    assert response.status_code == 200
    document = docx.Document(io.BytesIO(response.data))
    text = "\n".join(
        p.text for t in document.tables for r in t.rows for c in r.cells for p in c.paragraphs
    )
    assert "Phường 1 · Ủy ban MTTQ" in text


def test_tally_page_marks_hotspots(app, hot, login):
    """The tally page lists the hotspots."""
    fill(app, hot, HOT)
    page = login("viewer").get("/questionnaires/hot/tallies").get_data(as_text=True)
    assert 'class="card hotspots"' in page and "Phường 1 · Ủy ban MTTQ" in page


def test_concern_round_trips(app, hot):
    """Export then import gives the same concern on every question."""
    data = export_questionnaire(hot)
    assert [q.get("concern") for q in data["questions"]] == [
        q["concern"] for q in FILE["questions"]
    ]
    again = import_questionnaire({**data, "slug": "hot-2"})
    assert export_questionnaire(again)["questions"] == data["questions"]


@pytest.mark.parametrize(
    "index, concern, place",
    [
        (0, {"choices": ["maybe"]}, "questions[0].concern.choices[0]"),
        (0, {"choices": ["no", "no"]}, "questions[0].concern.choices[1]"),
        (0, {"choices": ["yes", "no"]}, "questions[0].concern.choices"),
        (0, {"choices": []}, "questions[0].concern.choices"),
        (0, {"at_most": 1}, "questions[0].concern.at_most"),
        (1, {"choices": ["a"]}, "questions[1].concern.choices"),
        (1, {"at_most": 2.5}, "questions[1].concern.at_most"),
        (1, {"at_most": "2"}, "questions[1].concern.at_most"),
        (1, {"at_most": 2, "at_least": 4}, "questions[1].concern"),
        (1, {}, "questions[1].concern"),
        (1, {"below": 2}, "questions[1].concern.below"),
        (2, {"at_least": True}, "questions[2].concern.at_least"),
        (2, ["at_least", 60], "questions[2].concern"),
    ],
)
def test_bad_concern_refused_with_its_place(network, index, concern, place):
    """A concern that does not fit its question is refused, its place named."""
    data = copy.deepcopy(FILE)
    data["questions"][index]["concern"] = concern
    with pytest.raises(FileError) as refused:
        import_questionnaire(data)
    assert any(p.startswith(f"{place}: ") for p in refused.value.problems), refused.value.problems


def test_text_question_takes_no_concern(network):
    """A written answer cannot signal concern."""
    data = copy.deepcopy(FILE)
    data["questions"].append({"key": "note", "kind": "text", "prompt": "Ý kiến", "concern": {}})
    with pytest.raises(FileError) as refused:
        import_questionnaire(data)
    assert any(p.startswith("questions[4].concern") for p in refused.value.problems)
