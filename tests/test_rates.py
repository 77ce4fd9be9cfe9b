"""Response rates: exact counts on hand-counted data, scoping, the JSON contract, anonymity."""

import copy
import uuid

import pytest

from survey.db import database
from survey.models import Collaborator, Organisation, Receipt, Response, Ward
from survey.network import rates
from survey.questionnaires.file_format import import_questionnaire
from survey.respond import submit
from tests.helpers import SAMPLE


def count_receipt(questionnaire, collaborator):
    """Record one more response of a collaborator, as a submission's receipt does."""
    Receipt.insert(questionnaire=questionnaire, collaborator=collaborator, count=1).on_conflict(
        conflict_target=[Receipt.questionnaire, Receipt.collaborator],
        update={Receipt.count: Receipt.count + 1},
    ).execute()


def questionnaire(slug, **changes):
    """Import a copy of the sample questionnaire under another slug, with some fields changed."""
    data = copy.deepcopy(SAMPLE)
    data.update(slug=slug, **changes)
    return import_questionnaire(data)


@pytest.fixture
def counted(network, sample):
    """Add people and receipts whose rates were counted by hand (see the tests)."""
    wards = {w.code: w for w in network["wards"]}
    orgs = {o.code: o for o in network["organisations"]}
    people = dict(network["collaborators"])
    people["A"] = Collaborator.create(
        name="Extra A", phone="0911111111", ward=wards["P1"], organisation=orgs["MTTQ"]
    )
    people["B"] = Collaborator.create(
        name="Inactive B",
        phone="0922222222",
        active=False,
        ward=wards["P1"],
        organisation=orgs["DOAN"],
    )
    for key in (("P1", "MTTQ"), "A", ("P2", "DOAN"), "B"):
        count_receipt(sample, people[key])
    return {"people": people, "wards": wards, "orgs": orgs}


def test_rates_by_ward_and_organisation_match_hand_counts(counted, sample):
    """Expected counts active targeted people, answered those with a receipt (B is inactive)."""
    assert rates.response_rates(sample, "ward") == [
        {"code": "P1", "name": "Phường 1", "expected": 3, "answered": 2},
        {"code": "P2", "name": "Phường 2", "expected": 2, "answered": 1},
    ]
    assert rates.response_rates(sample, "organisation") == [
        {"code": "DOAN", "name": "Đoàn Thanh niên", "expected": 2, "answered": 1},
        {"code": "MTTQ", "name": "Ủy ban MTTQ", "expected": 3, "answered": 2},
    ]


def test_rates_follow_targets(counted):
    """A questionnaire sent to P1 × MTTQ lists only that ward and organisation."""
    targeted = questionnaire("targeted", targets={"organisations": ["MTTQ"], "wards": ["P1"]})
    count_receipt(targeted, counted["people"]["A"])
    count_receipt(targeted, counted["people"][("P2", "DOAN")])  # not targeted: ignored
    assert rates.response_rates(targeted, "ward") == [
        {"code": "P1", "name": "Phường 1", "expected": 2, "answered": 1}
    ]
    assert rates.response_rates(targeted, "organisation") == [
        {"code": "MTTQ", "name": "Ủy ban MTTQ", "expected": 2, "answered": 1}
    ]


def test_rates_list_empty_targets_and_stray_groups(counted, sample):
    """A targeted ward without anyone shows 0/0; an inactive ward still holding people shows up."""
    ward = Ward.create(code="P3", name="Phường 3")
    closed = Ward.create(code="P9", name="Phường 9", active=False)
    Collaborator.create(name="Late", ward=closed, organisation=counted["orgs"]["MTTQ"])
    codes = {
        g["code"]: (g["expected"], g["answered"]) for g in rates.response_rates(sample, "ward")
    }
    assert codes == {"P1": (3, 2), "P2": (2, 1), "P3": (0, 0), "P9": (1, 0)}
    assert ward.code in codes


def test_many_responses_count_a_person_once(counted):
    """Answered counts people, not responses, for a many-responses questionnaire."""
    many = questionnaire("many", per_collaborator="many")
    for _ in range(3):
        count_receipt(many, counted["people"]["A"])
    assert (
        Receipt.get(
            (Receipt.questionnaire == many.id) & (Receipt.collaborator == counted["people"]["A"].id)
        ).count
        == 3
    )
    by_org = {g["code"]: g["answered"] for g in rates.response_rates(many, "organisation")}
    assert by_org == {"DOAN": 0, "MTTQ": 1}


def test_scope_limits_counts_and_groups(counted, sample):
    """A DOAN-scoped reader sees DOAN people only, and only the DOAN group by organisation."""
    doan = counted["orgs"]["DOAN"].id
    assert rates.response_rates(sample, "ward", doan) == [
        {"code": "P1", "name": "Phường 1", "expected": 1, "answered": 0},
        {"code": "P2", "name": "Phường 2", "expected": 1, "answered": 1},
    ]
    assert rates.response_rates(sample, "organisation", doan) == [
        {"code": "DOAN", "name": "Đoàn Thanh niên", "expected": 2 - 0, "answered": 1}
    ]
    names = [c.name for c in rates.not_answered(sample, doan)]
    assert names == ["CTV P1 DOAN"]


def test_not_answered_lists_the_rest_in_order(counted, sample):
    """The reminder list holds active targeted people with no receipt, by ward then organisation."""
    names = [c.name for c in rates.not_answered(sample)]
    assert names == ["CTV P1 DOAN", "CTV P2 MTTQ"]
    assert [c.name for c in rates.not_answered(sample, ward=counted["wards"]["P2"].id)] == [
        "CTV P2 MTTQ"
    ]


def test_bad_grouping_is_refused(sample):
    """Only ward and organisation are groupings."""
    with pytest.raises(ValueError):
        rates.response_rates(sample, "phone")


def test_rates_api_contract(counted, sample, login):
    """The JSON endpoint returns exactly {"groups": [{code, name, expected, answered}]}."""
    client = login("viewer")
    reply = client.get("/api/v1/questionnaires/sample/response-rates?by=organisation")
    assert reply.status_code == 200
    assert reply.get_json() == {
        "groups": [
            {"code": "DOAN", "name": "Đoàn Thanh niên", "expected": 2, "answered": 1},
            {"code": "MTTQ", "name": "Ủy ban MTTQ", "expected": 3, "answered": 2},
        ]
    }
    assert (
        client.get("/api/v1/questionnaires/sample/response-rates").get_json()["groups"][0]["code"]
        == "P1"
    )  # by=ward is the default


def test_rates_api_refuses_bad_input(counted, sample, login, client):
    """A bad `by` is a 400 JSON error, an unknown slug a 404, a visitor 401."""
    assert client.get("/api/v1/questionnaires/sample/response-rates").status_code == 401
    login("viewer")
    bad = client.get("/api/v1/questionnaires/sample/response-rates?by=phone")
    assert bad.status_code == 400 and "error" in bad.get_json()
    missing = client.get("/api/v1/questionnaires/nope/response-rates")
    assert missing.status_code == 404 and "error" in missing.get_json()


def test_rates_api_is_scoped(counted, sample, login):
    """A viewer of DOAN gets DOAN's counts only."""
    client = login("viewer", counted["orgs"]["DOAN"])
    groups = client.get("/api/v1/questionnaires/sample/response-rates?by=organisation").get_json()
    assert groups == {
        "groups": [{"code": "DOAN", "name": "Đoàn Thanh niên", "expected": 2, "answered": 1}]
    }


def test_rates_page_shows_percentages_and_reminders(counted, sample, login):
    """The page shows each group's share with a bar, and who to call, with phone numbers."""
    client = login("viewer")
    page = client.get("/network/rates/sample?by=ward")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "66,7 %" in html and "50,0 %" in html and "60,0 %" in html  # 2/3, 1/2, total 3/5
    assert html.count('class="bar"') == 3
    assert "CTV P1 DOAN" in html and counted["people"][("P1", "DOAN")].phone in html
    assert "Extra A" not in html  # answered: not on the reminder list
    assert "Inactive B" not in html
    assert 'style="' not in html


def test_rates_page_is_scoped_and_checks_input(counted, sample, login):
    """A MTTQ viewer sees no DOAN people; a bad `by` or slug is refused, not a 500."""
    client = login("viewer", counted["orgs"]["MTTQ"])
    html = client.get("/network/rates/sample?by=organisation").get_data(as_text=True)
    assert "CTV P2 MTTQ" in html
    assert "DOAN" not in html and "Đoàn" not in html
    assert client.get("/network/rates/sample?by=phone").status_code == 400
    assert client.get("/network/rates/nope").status_code == 404


def test_receipts_cannot_be_tied_to_anonymous_responses(network):
    """A receipt has no id or time; an anonymous response keeps no collaborator."""
    anonymous = questionnaire("anon", anonymous=True)
    person = network["collaborators"][("P1", "MTTQ")]
    assert (
        submit.store(
            anonymous, person.ward_id, person.organisation_id, person, str(uuid.uuid4()), []
        )
        == submit.STORED
    )
    columns = {c.name for c in database.get_columns("receipt")}
    assert columns == {"questionnaire_id", "collaborator_id", "count"}
    stored = Response.get(Response.questionnaire == anonymous)
    assert stored.collaborator_id is None
    assert Receipt.has_answered(anonymous, person)
    assert rates.response_rates(anonymous, "ward")[0] == {
        "code": "P1",
        "name": "Phường 1",
        "expected": 2,
        "answered": 1,
    }
    assert Organisation.select().count() == 2


def test_rates_page_lists_who_has_not_answered_a_page_at_a_time(counted, sample, login):
    """120 waiting: the heading counts all of them, each page lists 50 in order, a bad page 400."""
    client = login("viewer")
    ward, org = counted["wards"]["P2"], counted["orgs"]["MTTQ"]
    for i in range(118):  # with CTV P1 DOAN and CTV P2 MTTQ: 120 not answered
        Collaborator.create(name=f"Chờ {i:03d}", phone=f"0933{i:06d}", ward=ward, organisation=org)
    pages = [
        client.get(f"/network/rates/sample?page={n}").get_data(as_text=True) for n in (1, 2, 3)
    ]
    assert all("Chưa trả lời (120)" in html for html in pages)
    assert [html.count('href="tel:') for html in pages] == [50, 50, 20]
    assert "Chờ 000" in pages[0] and "Chờ 117" in pages[2] and "Chờ 117" not in pages[0]
    assert 'href="/network/rates/sample?page=2&amp;by=ward#waiting"' in pages[0]
    assert client.get("/network/rates/sample?page=x").status_code == 400
