"""The questionnaire builder in Debian's Chromium: desktop builder, phone preview, skip logic."""

import pytest

from survey.models import Answer, Question, Questionnaire, Response
from tests.helpers import log_in_page, make_user

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def app(csrf_app):
    """Run the builder with CSRF on, as in production."""
    return csrf_app


@pytest.fixture
def open_page(browser):
    """Return a function opening a page in a fresh context; console errors are collected."""
    contexts = []

    def new_page(viewport, **options):
        context = browser.new_context(viewport=viewport, locale="vi-VN", **options)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        # CSP violations and script errors; failed loads are checked by status, favicon aside.
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and not m.text.startswith("Failed to load resource")
                and page.errors.append(m.text)
            ),
        )
        page.on(
            "response",
            lambda r: (
                r.status >= 400
                and not r.url.endswith("/favicon.ico")
                and page.errors.append(f"{r.status} {r.url}")
            ),
        )
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    yield new_page
    for context in contexts:
        context.close()


def log_in(page, server):
    """Log in as the coordinator through the login page."""
    log_in_page(page, server, "coord", query="?lang=en")


@pytest.fixture
def coordinator(db, network):
    """Create the coordinator account used by the browser."""
    return make_user("coord", "coordinator")


def add_question(page, key, kind, prompt, choices=None, show_if=None):
    """Fill and send the add-question form of the builder."""
    form = page.locator("form.question-form")
    form.locator("input[name=key]").fill(key)
    form.locator("select[name=kind]").select_option(kind)
    form.locator("textarea[name=prompt]").fill(prompt)
    if choices:
        form.locator("textarea[name=choices]").fill(choices)
    if show_if:
        form.locator("select[name=show_if]").select_option(show_if)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"#q-{key}")


def build(page, server, slug="skip"):
    """Create, fill and open a questionnaire with a show_if through the builder screens."""
    log_in(page, server)
    page.click("a[href='/questionnaires/new']")
    page.fill("input[name=title]", "Skip logic")
    page.fill("input[name=slug]", slug)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"**/questionnaires/{slug}/edit")
    add_question(page, "agree", "single", "Do you agree?", choices="yes = Yes\nno = No")
    add_question(page, "why", "text", "Why not?", show_if="agree:no")
    add_question(page, "age", "number", "Age")
    page.click("button[name=status][value=open]")
    page.wait_for_selector(".badge.status-open")


def test_builder_at_desktop_width(open_page, server, coordinator, sample, shot):
    """The builder works and lays out in two columns at 1280×900, with the JS enhancements."""
    page = open_page(DESKTOP)
    build(page, server)
    assert Questionnaire.get(Questionnaire.slug == "skip").status == "open"
    assert [q.key for q in Questionnaire.get(Questionnaire.slug == "skip").ordered_questions()] == [
        "agree",
        "why",
        "age",
    ]
    page.goto(f"{server}/questionnaires/sample/edit")
    main, side = (
        page.locator(".builder-main").bounding_box(),
        page.locator(".builder-side").bounding_box(),
    )
    assert side["x"] > main["x"] + main["width"] - 1  # side by side at desktop width
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    # builder.js: bounds only for scale/number, the choice list only for choice questions.
    form = page.locator("form.question-form")
    form.locator("select[name=kind]").select_option("text")
    assert not form.locator(".bounds").is_visible()
    assert not form.locator("textarea[name=choices]").is_visible()
    form.locator("select[name=kind]").select_option("scale")
    assert form.locator(".bounds").is_visible()
    shot(page, "authoring-builder-desktop")
    page.goto(f"{server}/questionnaires/sample/questions/topics")
    shot(page, "authoring-question-desktop")
    assert page.locator(".crow").count() == 3
    assert page.errors == []


def test_builder_works_without_javascript(open_page, server, coordinator, db, tmp_path):
    """Every builder form is a plain form: with JS off a questionnaire is still built."""
    page = open_page(DESKTOP, java_script_enabled=False)
    build(page, server, slug="no-js")
    page.goto(f"{server}/questionnaires/no-js/questions/agree")
    page.fill("#c-no input[name=label]", "No, not at all")
    with page.expect_navigation():
        page.click("#c-no button[type=submit]")
    assert page.locator("#c-no input[name=label]").input_value() == "No, not at all"
    assert Question.get(Question.key == "agree").ordered_choices()[1].label == "No, not at all"


def test_preview_at_phone_width(open_page, server, coordinator, sample, shot):
    """The preview shows the phone form at 360 px, follows show_if live, and sends test answers."""
    page = open_page(PHONE)
    log_in(page, server)
    page.goto(f"{server}/questionnaires/sample/preview")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#q-agree").is_visible()
    assert not page.locator("#q-why").is_visible()
    assert page.locator("#q-topics .qn").inner_text() == "2/6"  # numbered as the phone does
    shot(page, "authoring-preview-phone")
    page.locator("#q-agree label.opt", has_text="Không đồng ý").click()
    assert page.locator("#q-why").is_visible()
    assert page.locator("#q-topics .qn").inner_text() == "3/7"
    # Its editor sends only test answers, to the preview itself, never to a phone's address.
    assert page.locator("#preview button.send").is_enabled()
    assert page.locator("#preview form").get_attribute("action").endswith("/sample/preview")
    assert page.errors == []


def answers_to(key):
    """Count the stored Answer rows of a question."""
    return Answer.select().join(Question).where(Question.key == key).count()


def test_skip_logic_with_javascript_on_and_off(open_page, server, coordinator, network, shot):
    """With JS the dependent question waits for its trigger; without, the server discards it."""
    builder = open_page(DESKTOP)
    build(builder, server)
    token = network["collaborators"][("P1", "MTTQ")].token
    page = open_page(PHONE)
    page.goto(f"{server}/c/{token}/skip")
    assert not page.locator("#q-why").is_visible()
    page.locator("#q-agree label.opt", has_text="No").click()
    assert page.locator("#q-why").is_visible()
    page.locator("#q-agree label.opt", has_text="Yes").click()
    assert not page.locator("#q-why").is_visible()
    page.fill("#f-age", "40")
    shot(page, "authoring-phone-js-on")
    page.click("button.send")
    page.wait_for_url("**/skip/thanks")
    assert Response.select().count() == 1
    assert (answers_to("agree"), answers_to("why"), answers_to("age")) == (1, 0, 1)

    token = network["collaborators"][("P2", "DOAN")].token
    plain = open_page(PHONE, java_script_enabled=False)
    plain.goto(f"{server}/c/{token}/skip")
    plain.wait_for_url(f"{server}/c/{token}/skip?n=*")  # pinned to a form id (Back + Send once)
    assert plain.locator("#q-why").is_visible()  # shown: without JS nothing hides it
    plain.locator("#q-agree label.opt", has_text="Yes").click()
    plain.fill("#f-why", "answered although agree is yes")
    shot(plain, "authoring-phone-js-off")
    plain.click("button.send")
    plain.wait_for_url("**/skip/thanks?dropped=why")  # the thanks page says it was dropped
    assert Response.select().count() == 2
    assert (answers_to("agree"), answers_to("why")) == (2, 0)  # the why answer was discarded
