"""“Khác (ghi rõ)” and picks on the phone at 360×740 in Chromium, with and without JavaScript."""

import pytest
from playwright.sync_api import expect

from survey.models import Answer
from survey.questionnaires.file_format import import_questionnaire
from tests.browser.test_phone_browser import PHONE, app  # noqa: F401  (CSRF on, as in production)
from tests.helpers import responses
from tests.test_builder_options import OPTIONS

pytestmark = pytest.mark.browser


@pytest.fixture
def options_url(server, network):
    """Import the options questionnaire; return collaborator P1/MTTQ's form address."""
    import_questionnaire(dict(OPTIONS))
    return f"{server}/c/{network['collaborators'][('P1', 'MTTQ')].token}/options"


def answer(page):
    """Pick “Khác (ghi rõ)”, write beside it, and pick two topics."""
    page.get_by_text("Khác (ghi rõ)", exact=True).click()
    page.fill("[name='source.khac']", "Loa phường")
    page.get_by_text("Đường sá").click()
    page.get_by_text("Công viên").click()


@pytest.mark.parametrize("javascript", [True, False])
def test_other_text_box_and_picks_on_the_phone(browser, options_url, db, javascript):
    """The box shows once “Khác” is picked (always without JS); the text is stored with it."""
    context = browser.new_context(viewport=PHONE, locale="vi-VN", java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto(options_url)
        box = page.locator("[name='source.khac']")
        if javascript:
            expect(box).to_be_hidden()
        else:
            expect(box).to_be_visible()
        expect(page.get_by_text("Chọn từ 2 đến 3 mục.")).to_be_visible()
        answer(page)
        expect(box).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width  # nothing makes the phone scroll sideways
        page.click("button.send")
        page.wait_for_url("**/options/thanks*")
        assert responses() == 1
        texts = {a.choice.key: a.text for a in Answer.select() if a.choice_id}
        assert texts == {"khac": "Loa phường", "a": None, "b": None}
    finally:
        context.close()
