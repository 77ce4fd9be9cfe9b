"""The response list, Void, and test answers from the preview at 360 px in Chromium."""

import pytest

from survey.models import Collaborator, Organisation, Response, Ward
from tests.helpers import log_in_page, make_user, store_answers

pytestmark = pytest.mark.browser

LONG = "Đường-Nguyễn-Chí-Thanh-ngập-nước-mỗi-khi-mưa-lớn-" * 6


def wide(page):
    """Return how wide the page's content is (more than the viewport: it scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth")


def test_list_void_and_test_answers_fit_a_phone(browser, server, sample, network, shot):
    """At 360 px the list, a response's page and the preview's test answers never scroll sideways;
    a response is voided through its form, a test answer sent and cleared after the prompt."""
    person = Collaborator.get(Collaborator.name == "CTV P1 MTTQ")
    Collaborator.update(name="Nguyễn Thị " + "Phương-" * 20).where(
        Collaborator.id == person.id
    ).execute()
    ward, org = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    store_answers(sample, ward, org, {"agree": "no", "why": LONG, "note": LONG}, None, person)
    store_answers(sample, ward, org, {"agree": "yes", "topics": ["roads", "parks", "safety"]})
    make_user("chief", "admin")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in_page(page, server, "chief")
    errors.clear()

    page.goto(server + "/questionnaires/sample/responses")
    assert page.locator(".response-item").count() == 2
    assert shot(page, "responses-360").stat().st_size > 5000
    assert wide(page) <= 360

    page.click(f"text=Phiếu số {Response.get(Response.collaborator == person.id).id}")
    page.fill("textarea[name=reason]", "Cộng tác viên gửi nhầm")
    page.click("button:has-text('Hủy phiếu')")
    page.wait_for_load_state()
    assert "Cộng tác viên gửi nhầm" in page.inner_text("main")
    assert wide(page) <= 360
    assert Response.get(Response.collaborator == person.id).state == Response.VOIDED

    page.goto(server + "/questionnaires/sample/preview")
    assert wide(page) <= 360
    page.check("input[name=agree][value=yes]")
    page.click("button:has-text('Gửi câu trả lời thử')")
    page.wait_for_load_state()
    assert page.url.endswith("/questionnaires/sample/test-answers")
    assert page.locator(".response-item").count() == 1 and wide(page) <= 360
    page.click("button:has-text('Xóa câu trả lời thử')")
    page.wait_for_load_state()
    assert page.locator(".response-item").count() == 0
    assert not Response.select().where(Response.state == Response.TEST).exists()
    assert not errors, errors
    context.close()
