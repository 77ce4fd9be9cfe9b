"""Breakdown by the answers to a question: counts, row percentages, suppression as for wards."""

import pytest

from survey.models import Organisation, Questionnaire, Ward
from tests.helpers import store_answers


def test_crosstab_counts_in_the_api(login, tally_sample):
    """by=<single-choice key> groups every question's counts by that question's answers."""
    client = login("viewer")
    body = client.get("/api/v1/questionnaires/sample/tallies?by=agree").get_json()
    questions = {q["key"]: q for q in body["questions"]}
    assert questions["topics"]["by"] == {
        "yes": {"roads": 1, "parks": 2, "safety": 1},
        "no": {"roads": 2, "parks": 1, "safety": 1},
    }
    assert questions["agree"]["by"] == {"yes": {"yes": 4, "no": 0}, "no": {"yes": 0, "no": 2}}
    assert questions["score"]["by"]["yes"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 2}
    by_score = client.get("/api/v1/questionnaires/sample/tallies?by=score").get_json()
    agree = next(q for q in by_score["questions"] if q["key"] == "agree")
    assert agree["by"]["5"] == {"yes": 2, "no": 0}
    assert agree["choices"][0]["count"] == 4  # the overall counts stay as they are


def test_crosstab_on_the_page(login, tally_sample):
    """The tally page offers the question and shows its rows with row percentages."""
    client = login("viewer")
    page = client.get("/questionnaires/sample/tallies").get_data(as_text=True)
    assert '<option value="agree">' in page and '<option value="topics">' not in page
    page = client.get("/questionnaires/sample/tallies?by=agree").get_data(as_text=True)
    assert 'data-k="g|topics|no|roads"' in page
    assert "Đồng ý" in page


@pytest.mark.parametrize("by", ["topics", "note", "nope", "age"])
def test_crosstab_refuses_other_questions(login, tally_sample, by):
    """Only single-choice and scale questions split the responses: others are a 400."""
    client = login("viewer")
    assert client.get(f"/api/v1/questionnaires/sample/tallies?by={by}").status_code == 400
    assert client.get(f"/questionnaires/sample/tallies?by={by}").status_code == 400


def test_crosstab_suppression(app, login, sample):
    """A group of fewer than k is withheld whole; no shown figure reveals a count below k."""
    Questionnaire.update(suppress_below=3).where(Questionnaire.id == sample.id).execute()
    ward, org = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    for i in range(8):
        store_answers(sample, ward, org, {"agree": "yes", "score": str(1 + i % 5)})
    for _i in range(2):
        store_answers(sample, ward, org, {"agree": "no", "why": "x", "score": "5"})
    client = login("admin")
    body = client.get("/api/v1/questionnaires/sample/tallies?by=agree").get_json()
    questions = {q["key"]: q for q in body["questions"]}
    assert questions["score"]["by"]["no"] == {str(v): None for v in range(1, 6)}
    total = {c["key"]: c["count"] for c in questions["score"]["choices"]}
    shown = questions["score"]["by"]["yes"]
    for value, count in shown.items():
        assert count is None or count == 0 or count >= 3
        if count is not None and total[value] is not None:
            assert total[value] - count in (0,) or total[value] - count >= 3


def test_tallies_workbook_ignores_a_question_breakdown(login, tally_sample):
    """The tallies workbook keeps its own ward and organisation sheets whatever by= says."""
    client = login("admin")
    assert client.get("/questionnaires/sample/tallies.xlsx?by=agree").status_code == 200
    assert client.get("/questionnaires/sample/report.docx?by=agree").status_code == 200
