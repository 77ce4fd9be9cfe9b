"""Honest counts: "not asked" apart from "skipped", and number ranges that end at the maximum."""

import copy
import re

from survey.models import Collaborator, Organisation, Ward
from survey.questionnaires.file_format import import_questionnaire
from survey.tallies.counting import tally
from tests.helpers import SAMPLE, store_answers


def question(t, key):
    """Return a question's tally."""
    return next(q for q in t.questions if q.key == key)


def money(network, maximum=None, answers=()):
    """Import a questionnaire with one number question (0..maximum) and store its answers."""
    data = copy.deepcopy(SAMPLE)
    data["slug"] = "money"
    data["questions"] = [
        {"key": "spend", "kind": "number", "prompt": "Chi tiêu", "min": 0, "max": maximum}
    ]
    q = import_questionnaire(data)
    ward, org = network["wards"][0], network["organisations"][0]
    for value in answers:
        store_answers(q, ward, org, {"spend": value})
    return q


def test_ranges_half_open_and_the_last_closed_at_the_maximum(app, network):
    """0..800 gives [0; 100) … [700; 800]; 100 counts in [100; 200); 800 in the last range."""
    with app.test_request_context():
        t = tally(money(network, 800, ["0", "99", "100", "799", "800"]))
    columns = [(c.label, c.count) for c in question(t, "spend").columns]
    assert columns[0] == ("[0; 100)", 2)
    assert columns[1] == ("[100; 200)", 1)
    assert columns[-1] == ("[700; 800]", 2)  # never "[800; 900)" past the maximum
    assert len(columns) == 8


def test_ranges_without_a_maximum_end_at_the_largest_answer(app, network):
    """No bounds: the ranges cover the answers, the last closed; a boundary answer lies in one."""
    with app.test_request_context():
        t = tally(money(network, None, ["0", "40", "80"]))
    columns = [(c.label, c.count) for c in question(t, "spend").columns]
    assert columns[-1] == ("[70; 80]", 1)
    assert sum(n for _label, n in columns) == 3
    assert all(label.endswith(")") for label, _n in columns[:-1])


def test_ranges_written_the_vietnamese_and_the_english_way(app, network):
    """Thousands grouped by the page's language: "[1.000; 2.000)" and "[1,000; 2,000)"."""
    q = money(network, 8000, ["1500"])
    with app.test_request_context(headers={"Accept-Language": "vi"}):
        assert question(tally(q), "spend").columns[1].label == "[1.000; 2.000)"
    with app.test_request_context("/?lang=en"):
        assert question(tally(q), "spend").columns[1].label == "[1,000; 2,000)"


def test_not_asked_in_page_api_and_workbook(app, tally_sample, login):
    """A question hidden by skip logic counts as not asked on the page, in the API and XLSX."""
    client = login("viewer")
    page = client.get("/questionnaires/sample/tallies").get_data(as_text=True)
    assert 'data-k="na|why">4<' in page and "Không được hỏi" in page
    assert 'data-k="na|note"' not in page  # no skip logic, nothing to say
    data = client.get("/api/v1/questionnaires/sample/tallies?by=ward").get_json()
    why = next(q for q in data["questions"] if q["key"] == "why")
    assert (why["answered"], why["skipped"], why["not_asked"]) == (2, 0, 4)


def test_skipped_when_asked_and_left_blank(app, sample, network):
    """Someone shown the question who leaves it blank skipped it; the others were not asked."""
    data = copy.deepcopy(SAMPLE)
    data["slug"] = "optional"
    data["questions"][2]["required"] = False  # "why", shown after agree = no
    q = import_questionnaire(data)
    ward, org = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    store_answers(q, ward, org, {"agree": "no"})  # asked, left blank
    store_answers(q, ward, org, {"agree": "no", "why": "Ồn"})
    store_answers(q, ward, org, {"agree": "yes"})  # never asked
    with app.test_request_context():
        why = question(tally(q), "why")
    assert (why.answered, why.skipped, why.not_asked) == (1, 1, 1)


def test_rates_page_explains_answers_from_posters_and_the_open_link(app, tally_sample, login):
    """Tallies' 7 responses and the rates' 1 / 4 agree visibly: 1 personal, 6 open-link."""
    from tests.test_respond import send

    alice = Collaborator.get(Collaborator.name == "CTV P1 MTTQ")
    client = login("coordinator")
    assert send(client, f"/c/{alice.token}/sample", {"agree": "yes"}).status_code == 303
    page = client.get("/network/rates/sample?by=ward").get_data(as_text=True)
    assert "1 / 4" in page
    note = re.search(r'<p class="muted" id="channels">(.*?)</p>', page, re.DOTALL).group(1)
    assert "tính 7 phiếu trả lời: 1 phiếu qua liên kết cá nhân và 6 phiếu qua áp phích" in note
    assert client.get("/api/v1/questionnaires/sample/tallies").get_json()["responses"] == 7


def test_rates_page_of_an_anonymous_questionnaire_gives_no_channel_counts(app, sample, login):
    """Anonymous responses name nobody: the note explains without counting them live."""
    from survey.models import Questionnaire

    Questionnaire.update(anonymous=True).where(Questionnaire.id == sample.id).execute()
    page = login("coordinator").get("/network/rates/sample?by=ward").get_data(as_text=True)
    note = re.search(r'<p class="muted" id="channels">(.*?)</p>', page, re.DOTALL).group(1)
    assert "áp phích và liên kết mở" in note and "theo từng đợt" in note
    assert not re.search(r"\d", note)
