"""Dates and times as people read them: dd/mm/yyyy and 24-hour in Vietnamese, English in English."""

import datetime

from survey.i18n import format_day, format_local

STORED = datetime.datetime(2025, 7, 1, 7, 5)  # UTC; 14:05 in Ho Chi Minh City


def test_formats_in_both_languages(app):
    """Four-digit years everywhere; Vietnamese day first and 24-hour; text that is no date stays."""
    with app.test_request_context("/?lang=vi"):
        assert format_local(STORED) == "01/07/2025 14:05"
        assert format_day(datetime.date(2025, 7, 1)) == "01/07/2025"
        assert format_day("2025-12-31") == "31/12/2025"
        assert format_day("hôm qua") == "hôm qua" and format_local(None) == ""
    with app.test_request_context("/?lang=en"):
        assert format_local(STORED).startswith("Jul 1, 2025 2:05")
        assert format_day(datetime.date(2025, 7, 1)) == "Jul 1, 2025"


def test_filter_summary_and_date_answers_are_written_the_vietnamese_way(tally_sample, login):
    """The tally page's filter summary, the answers page and its times: dd/mm/yyyy."""
    client = login("viewer")
    page = client.get("/questionnaires/sample/tallies?from=2025-07-01&to=2025-07-02")
    text = page.get_data(as_text=True)
    assert "01/07/2025" in text and "02/07/2025" in text and "2025-07-01;" not in text
    text = client.get("/questionnaires/sample/answers/day").get_data(as_text=True)
    assert "01/07/2025" in text and "2025-07-01" not in text.split("<ol")[1]
    assert "Phường 1" in text  # the ward by name, not by code
    text = client.get("/questionnaires/sample/answers/day?lang=en").get_data(as_text=True)
    assert "Jul 1, 2025" in text


def test_bad_filter_date_range_is_said_in_local_format(tally_sample, login):
    """A date beyond the calendar's ends is refused with the ends written dd/mm/yyyy."""
    response = login("viewer").get("/questionnaires/sample/tallies?from=0001-01-01")
    assert response.status_code == 400
    assert "01/01/1900" in response.get_data(as_text=True)
