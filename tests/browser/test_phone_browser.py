"""The phone form in Debian's Chromium at 360×740: sending, JS off, drafts, outbox, layout, axe."""

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from survey.models import Answer, Questionnaire
from survey.questionnaires.authoring import set_status
from tests.helpers import responses, wait_until

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def app(csrf_app):
    """Run the phone pages with CSRF on, as in production."""
    return csrf_app


@pytest.fixture
def phone(browser):
    """Return a function opening a fresh 360×740 browser context (JS on unless told)."""
    contexts = []

    def open_context(**options):
        context = browser.new_context(viewport=PHONE, locale="vi-VN", **options)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def form_url(server, sample, network):
    """Return the personal form address of collaborator P1/MTTQ."""
    return f"{server}/c/{network['collaborators'][('P1', 'MTTQ')].token}/sample"


def fill_valid(page):
    """Answer the sample questionnaire validly (agree: yes, so `why` stays hidden)."""
    page.get_by_text("Đồng ý", exact=True).click()
    page.get_by_text("Công viên").click()
    page.get_by_text("An ninh").click()
    page.locator("label.opt", has_text="4").click()
    page.fill("#f-age", "42")
    page.fill("#f-note", "Cần thêm cây xanh.")
    page.fill("#f-day", "2025-07-01")


def test_fill_and_send(phone, form_url, db, shot):
    """A filled form is sent, stored once with its answers, and thanked."""
    page = phone().new_page()
    page.goto(form_url)
    shot(page, "phone-form")
    assert page.locator("#progress").is_visible()
    fill_valid(page)
    assert "6" in page.locator(".progress-text").inner_text()
    page.click("button.send")
    page.wait_for_url("**/sample/thanks")
    shot(page, "phone-thanks")
    assert responses() == 1
    assert Answer.select().count() == 7  # agree, 2 topics, score, age, note, day
    assert page.locator("a.btn[href$='" + form_url.rsplit("/", 2)[1] + "']").count() == 1


def test_answer_sent_after_the_questionnaire_closed_is_refused(phone, form_url, sample, db, shot):
    """A form opened (and remembered by the server) before the coordinator closed the
    questionnaire: sending it shows the closed page, and nothing is stored."""
    page = phone().new_page()
    page.goto(form_url)
    fill_valid(page)
    set_status(None, Questionnaire.get_by_id(sample.id), "closed")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.click("button.send")
    assert sent.value.status == 410
    expect(page.locator("main")).to_contain_text("đã đóng")  # waits for the page to show it
    shot(page, "phone-closed-after-opening")
    assert responses() == 0


def test_works_with_javascript_off(phone, form_url, db):
    """With JS off every question shows and the plain form post stores the answer."""
    page = phone(java_script_enabled=False).new_page()
    page.goto(form_url)
    page.wait_for_url(form_url + "?n=*")  # the typed address pinned to a form id (Back + Send)
    assert page.locator("#q-why").is_visible()  # show_if needs JS; the server discards it
    fill_valid(page)
    page.fill("#f-why", "discarded, since agree is yes")
    page.click("button.send")
    page.wait_for_url("**/sample/thanks?dropped=why")
    assert "Vì sao không?" in page.locator(".notice").first.inner_text()  # said, not silent
    assert responses() == 1
    assert Answer.select().where(Answer.text.contains("discarded")).count() == 0


def test_invalid_answers_show_messages(phone, form_url, db, shot):
    """A wrong answer brings back the form with a focused summary and a message at each field."""
    page = phone().new_page()
    page.goto(form_url)
    assert not page.locator("#q-why").is_visible()
    page.get_by_text("Không đồng ý").click()
    assert page.locator("#q-why").is_visible()  # shown live by show_if
    page.fill("#f-age", "two hundred")
    page.click("button.send")
    summary = page.locator("#error-summary")
    summary.wait_for()
    shot(page, "phone-form-errors")
    assert summary.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator("#e-why").is_visible() and page.locator("#e-age").is_visible()
    assert page.get_attribute("#f-age", "aria-invalid") == "true"
    assert "e-age" in page.get_attribute("#f-age", "aria-describedby")
    assert responses() == 0
    page.fill("#f-why", "Ồn ào")  # the page put back by the script still works
    page.fill("#f-age", "70")
    page.click("button.send")
    page.wait_for_url("**/sample/thanks")
    assert responses() == 1


def test_draft_restored_after_reload(phone, form_url, db):
    """What was typed comes back after a reload, until the draft is discarded."""
    page = phone().new_page()
    page.goto(form_url)
    page.get_by_text("Không đồng ý").click()
    page.fill("#f-why", "Đường hẹp")
    page.fill("#f-note", "Ghi chú nháp")
    page.reload()
    assert page.locator("#draft-note").is_visible()
    assert page.input_value("#f-why") == "Đường hẹp"
    assert page.input_value("#f-note") == "Ghi chú nháp"
    assert page.is_checked("#f-agree-no")
    page.click("#discard-draft")
    assert page.input_value("#f-note") == ""
    page.reload()
    assert not page.locator("#draft-note").is_visible()
    assert page.input_value("#f-note") == ""


def test_offline_answer_is_kept_and_sent_once(phone, form_url, db, shot):
    """Offline, the answer waits on the phone with a notice; back online it is stored once."""
    context = phone()
    page = context.new_page()
    page.goto(form_url)
    fill_valid(page)
    context.set_offline(True)
    page.click("button.send")
    page.locator("#outbox [data-state=queued]").wait_for()
    shot(page, "phone-outbox")
    assert page.locator(".outbox-count").inner_text() == "1"
    assert responses() == 0
    context.set_offline(False)  # the `online` event sends it
    assert wait_until(lambda: responses() == 1)
    page.locator("#outbox [data-state=sent]").wait_for()
    page.reload()
    page.goto(form_url.rsplit("/", 1)[0])  # the home page finds nothing left to send
    page.wait_for_timeout(500)
    assert responses() == 1
    assert page.evaluate("JSON.parse(localStorage.getItem('survey-outbox'))") == []


def test_home_page_sends_what_the_phone_kept(phone, form_url, db):
    """An answer kept offline is sent when the collaborator next opens their own page."""
    context = phone()
    page = context.new_page()
    page.goto(form_url)
    fill_valid(page)
    context.set_offline(True)
    page.click("button.send")
    page.locator("#outbox [data-state=queued]").wait_for()
    page.close()
    context.set_offline(False)
    home = context.new_page()
    home.goto(form_url.rsplit("/", 1)[0])
    assert wait_until(lambda: responses() == 1)
    home.locator("#outbox [data-state=sent]").wait_for()
    assert responses() == 1


@pytest.mark.parametrize("csrf_time_limit", [1])
def test_replay_after_form_token_expired(phone, form_url, db, csrf_time_limit):
    """Answers sent after the page's form token expired still arrive, once each."""
    context = phone()
    page = context.new_page()
    page.goto(form_url)
    fill_valid(page)
    context.set_offline(True)
    page.click("button.send")
    page.locator("#outbox [data-state=queued]").wait_for()
    time.sleep(2)
    context.set_offline(False)
    assert wait_until(lambda: responses() == 1)
    page.locator("#outbox [data-state=sent]").wait_for()
    assert page.evaluate("JSON.parse(localStorage.getItem('survey-outbox'))") == []
    assert responses() == 1


@pytest.mark.parametrize("csrf_time_limit", [1])
def test_direct_send_after_form_token_expired(phone, server, sample, network, db, csrf_time_limit):
    """A form left open past its token's life is still sent on the first tap."""
    token = network["collaborators"][("P2", "DOAN")].token
    page = phone().new_page()
    page.goto(f"{server}/c/{token}/sample")
    fill_valid(page)
    time.sleep(2)
    page.click("button.send")
    page.wait_for_url("**/sample/thanks")
    assert responses() == 1


def test_no_sideways_scroll_and_big_tap_targets(phone, form_url, server, sample, db):
    """At 360 px nothing scrolls sideways and every choice is at least 44 px each way."""
    page = phone().new_page()
    for url in (form_url, form_url.rsplit("/", 1)[0], f"{server}/s/sample"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, url
    page.goto(form_url)
    page.get_by_text("Không đồng ý").click()
    page.click("button.send")
    page.locator("#error-summary").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    targets = page.locator(
        "label.opt, button.send, #answer-form input[type=text], "
        "#answer-form input[type=date], #answer-form textarea"
    )
    assert targets.count() > 10
    for box in (targets.nth(i).bounding_box() for i in range(targets.count())):
        assert box["height"] >= 44 and box["width"] >= 44, box
    font = page.evaluate(
        "[getComputedStyle(document.querySelector('textarea')).fontFamily,"
        " getComputedStyle(document.body).fontFamily]"
    )
    assert font[0] == font[1]


def axe_problems(page):
    """Run axe-core on the page; return its serious and critical violations."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` at the repository root")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run().then(r => r.violations.map(v => [v.id, v.impact, v.help]))")
    return [v for v in found if v[1] in ("serious", "critical")]


def test_axe_finds_no_serious_problem(phone, form_url, server, db):
    """axe-core finds no serious or critical accessibility problem on the phone pages."""
    # Only this context lifts the CSP, to let the test inject axe; the app keeps its policy.
    page = phone(bypass_csp=True).new_page()
    page.goto(form_url)
    assert axe_problems(page) == []
    page.get_by_text("Không đồng ý").click()
    page.click("button.send")
    page.locator("#error-summary").wait_for()
    assert axe_problems(page) == []
    page.goto(form_url.rsplit("/", 1)[0])
    assert axe_problems(page) == []
    page.goto(f"{server}/s/sample")
    assert axe_problems(page) == []


MANY = {
    "slug": "many",
    "title": "Thang 11 điểm",
    "status": "open",
    "questions": [
        {
            "key": "worry",
            "kind": "multi",
            "prompt": "Vấn đề nào bạn lo ngại nhất?",
            "min_picks": 2,
            "max_picks": 3,
            "choices": [{"key": k, "label": k.title()} for k in ("a", "b", "c", "d")],
        },
        {"key": "nps", "kind": "scale", "prompt": "Bạn giới thiệu?", "min": 0, "max": 10},
        {"key": "five", "kind": "scale", "prompt": "Hài lòng?"},
    ],
}


@pytest.mark.parametrize("javascript", [True, False])
def test_eleven_points_in_two_even_rows_and_a_picks_error_said_once(
    phone, server, network, db, javascript
):
    """0–10 lies in rows of 6 and 5 tiles, each ≥ 44 px; a 5-point scale stays one row; one
    pick of "2 to 3" is said once, as the error, not again as the hint."""
    from survey.questionnaires.file_format import import_questionnaire

    import_questionnaire(MANY)
    page = phone(java_script_enabled=javascript).new_page()
    page.goto(f"{server}/c/{network['collaborators'][('P1', 'MTTQ')].token}/many")
    page.wait_for_load_state("networkidle")  # without scripts the page reloads itself once
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    boxes = [page.locator("#q-nps label.opt").nth(i).bounding_box() for i in range(11)]
    rows = sorted({round(box["y"]) for box in boxes})
    assert [sum(round(b["y"]) == y for b in boxes) for y in rows] == [6, 5]
    assert len({round(box["width"]) for box in boxes}) == 1  # "10" is a tile like the others
    assert min(min(box["width"], box["height"]) for box in boxes) >= 44
    five = [page.locator("#q-five label.opt").nth(i).bounding_box() for i in range(5)]
    assert len({round(box["y"]) for box in five}) == 1
    page.get_by_text("A", exact=True).click()
    page.click("button.send")
    page.locator("#q-worry .error").wait_for()
    assert page.locator("#q-worry").inner_text().count("Chọn từ 2 đến 3 mục.") == 1
