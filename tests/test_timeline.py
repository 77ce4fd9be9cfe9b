"""Responses over time: per local day, per week when anonymous, suppression kept."""

from survey.models import Organisation, Questionnaire, Ward
from tests.helpers import store_answers


def test_timeline_per_local_day(login, tally_sample):
    """The six sample responses fall on three local days (00:30 on the 3rd is the 3rd)."""
    body = login("viewer").get("/api/v1/questionnaires/sample/timeline").get_json()
    assert body == [
        {"period": "2025-07-01", "responses": 2},
        {"period": "2025-07-02", "responses": 3},
        {"period": "2025-07-03", "responses": 1},
    ]


def test_timeline_filters_and_page(login, tally_sample):
    """Filters narrow the timeline; the tally page draws it."""
    client = login("viewer")
    body = client.get("/api/v1/questionnaires/sample/timeline?ward=P2").get_json()
    assert body == [
        {"period": "2025-07-02", "responses": 2},
        {"period": "2025-07-03", "responses": 1},
    ]
    page = client.get("/questionnaires/sample/tallies").get_data(as_text=True)
    assert "01/07/2025" in page
    assert client.get("/api/v1/questionnaires/sample/timeline?ward=NO").status_code == 400


def test_timeline_withholds_small_periods_and_their_complement(app, login, sample):
    """With k = 3 a day of 2 is withheld, and so is another, so the total cannot give it."""
    Questionnaire.update(suppress_below=3).where(Questionnaire.id == sample.id).execute()
    ward, org = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    with app.app_context():
        for day, n in (("2025-07-01", 5), ("2025-07-02", 2), ("2025-07-03", 4)):
            for _i in range(n):
                store_answers(sample, ward, org, {"agree": "yes"}, f"{day} 10:00")
    body = login("admin").get("/api/v1/questionnaires/sample/timeline").get_json()
    counts = {p["period"]: p["responses"] for p in body}
    assert counts["2025-07-02"] is None
    assert sum(v is None for v in counts.values()) >= 2
    assert all(v is None or v == 0 or v >= 3 for v in counts.values())


def test_anonymous_timeline_is_weekly(app, login, sample):
    """An anonymous questionnaire counts per ISO week, keyed by its Monday."""
    Questionnaire.update(anonymous=True, status="closed").where(
        Questionnaire.id == sample.id
    ).execute()
    ward, org = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    with app.app_context():
        for day in ("2025-06-30", "2025-07-02", "2025-07-03", "2025-07-05", "2025-07-06"):
            store_answers(sample, ward, org, {"agree": "yes"}, f"{day} 10:00")
    body = login("admin").get("/api/v1/questionnaires/sample/timeline").get_json()
    assert body == [{"period": "2025-06-30", "responses": 5}]
