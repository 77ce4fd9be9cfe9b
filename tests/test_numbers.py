"""Numbers typed the Vietnamese way are read as meant, or refused with how they were read."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.models import Answer, Question, Questionnaire
from survey.numbers import NumberError, format_number, parse_number
from survey.questionnaires.file_format import import_questionnaire

CASES_VI = [
    ("1.000", None, None, 1000),
    ("1.000.000", None, None, 1_000_000),
    ("7,25", None, None, 7.25),
    ("1.234,5", None, None, 1234.5),
    ("1,234.5", None, None, 1234.5),
    ("1000", None, None, 1000),
    ("7.25", None, None, 7.25),
    ("1 000", None, None, 1000),
    ("-3,5", None, None, -3.5),
    ("1.000", 0, 5000, 1000),
]


@pytest.fixture
def vietnamese(app):
    """Run inside a request in the Vietnamese interface."""
    with app.test_request_context("/"):
        yield


@pytest.mark.parametrize("typed,low,high,meant", CASES_VI)
def test_vietnamese_and_plain_forms_are_read_as_meant(vietnamese, typed, low, high, meant):
    """Dots group thousands, a comma marks decimals; plain forms read the same."""
    assert parse_number(typed, low, high) == meant


@pytest.mark.parametrize("typed", ["1.2.3", "12.34.567", "abc", "1e5", "1,", ",5", "NaN", "--1"])
def test_unreadable_numbers_are_refused(vietnamese, typed):
    """Anything that is not a number in either form is refused, never half-read."""
    with pytest.raises(NumberError):
        parse_number(typed)


@pytest.mark.parametrize("typed,low,high", [("1.000", 0, 500), ("7.250", 0, 10)])
def test_a_reading_outside_the_bounds_is_refused_with_both_readings(vietnamese, typed, low, high):
    """ "1.000" for 0–500 is one thousand, out of range: refused, naming the other reading."""
    with pytest.raises(NumberError) as refused:
        parse_number(typed, low, high)
    message = str(refused.value)
    assert typed in message and ("1000" in message or "7250" in message)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_every_written_number_reads_back_the_same(app, value):
    """What the app writes (Vietnamese or English) it reads back to the same value."""
    for lang in ("vi", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            from survey.i18n import select_locale

            select_locale()
            assert parse_number(format_number(float(value))) == pytest.approx(float(value))


def test_phone_form_stores_one_thousand_and_refuses_a_misread(client, network):
    """The phone form stores "1.000" as 1000 within 0–5000, and refuses it for 0–500."""
    import_questionnaire(
        {
            "slug": "so",
            "title": "Số",
            "status": "open",
            "open_link": True,
            "questions": [
                {"key": "ho", "kind": "number", "prompt": "Số hộ", "min": 0, "max": 5000},
                {"key": "tien", "kind": "number", "prompt": "Nghìn đồng", "min": 0, "max": 500},
            ],
        }
    )
    page = client.get("/s/so").get_data(as_text=True)
    assert "Một số từ 0 đến 5.000." in page  # the range is shown before any mistake
    form = {"client_uuid": str(uuid.uuid4()), "ward": "P1", "organisation": "MTTQ"}
    refused = client.post("/s/so", data={**form, "ho": "1.000", "tien": "1.000"})
    assert refused.status_code == 422
    assert "“1.000” được hiểu là 1000" in refused.get_data(as_text=True)
    assert Answer.select().count() == 0
    stored = client.post("/s/so", data={**form, "ho": "1.000", "tien": "7,5"})
    assert stored.status_code == 303
    numbers = {
        a.question.key: a.number
        for a in Answer.select(Answer, Question).join(Question)
        if a.question.questionnaire == Questionnaire.get(slug="so")
    }
    assert numbers == {"ho": 1000, "tien": 7.5}
