"""The phone offline in Debian's Chromium (service worker allowed, offline emulated): pages open
with no signal after one visit, answers leave once and are never lost."""

import datetime
import re
import time
from zoneinfo import ZoneInfo

import pytest

from survey.models import Answer, Collaborator, Questionnaire, Response
from survey.questionnaires.authoring import set_status
from survey.respond.links import sign_group
from tests.helpers import responses, wait_until

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def app(csrf_app):
    """Run the phone pages with CSRF on, as in production."""
    return csrf_app


@pytest.fixture
def phone(browser):
    """Return a function opening a fresh 360×740 context with service workers allowed."""
    contexts = []

    def open_context(**options):
        context = browser.new_context(
            viewport=PHONE, locale="vi-VN", service_workers="allow", **options
        )
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def person(network):
    """Return collaborator P1/MTTQ."""
    return network["collaborators"][("P1", "MTTQ")]


@pytest.fixture
def home_url(server, sample, person):
    """Return the collaborator's own page."""
    return f"{server}/c/{person.token}"


def fill_valid(page):
    """Answer the sample questionnaire validly (agree: yes, so `why` stays hidden)."""
    page.get_by_text("Đồng ý", exact=True).click()
    page.get_by_text("Công viên").click()
    page.fill("#f-age", "42")


def visit_with_signal(context, home_url):
    """Open the collaborator's page once with signal and wait until the worker kept its forms."""
    page = context.new_page()
    page.goto(home_url)
    page.evaluate("navigator.serviceWorker.ready")
    kept = f"{home_url.split('/c/')[0]}/c/" + home_url.rsplit("/", 1)[1] + "/sample"
    assert wait_until(
        lambda: page.evaluate(
            "url => caches.open('survey-pages-v1').then(c => c.match(new URL(url).pathname))"
            ".then(Boolean)",
            kept,
        )
    ), "the worker did not keep the form"
    return page


def test_page_and_form_open_offline_after_one_visit(phone, home_url):
    """After one visit with signal, the collaborator's page and its form open with none."""
    context = phone()
    page = visit_with_signal(context, home_url)
    context.set_offline(True)
    page.reload()
    assert page.locator("h1").inner_text().startswith("Xin chào")
    assert page.locator("#fresh").is_visible()  # says when it was last brought up to date
    page.click("a.tile")
    page.wait_for_url("**/sample?n=*")
    assert page.locator("#answer-form").is_visible()
    again = context.new_page()
    again.goto(home_url + "/sample")
    assert again.locator("#q-agree").is_visible()
    assert again.locator("#fresh").is_visible()


def test_back_and_send_without_javascript_stores_once(phone, home_url, sample, db):
    """JS off, on a many-responses questionnaire: Send, Back, Send again stores one response."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    page = phone(java_script_enabled=False).new_page()
    page.goto(home_url)
    page.click("a.tile")
    fill_valid(page)
    page.click("button.send")
    page.wait_for_url("**/sample/thanks")
    assert responses() == 1
    page.go_back()
    page.wait_for_url("**/sample**")
    if page.locator("button.send").count():  # the browser kept the sent form: send it again
        page.click("button.send")
    page.wait_for_url("**/sample/thanks?*already=1*")
    assert "đã được nhận" in page.locator("main").inner_text()
    assert responses() == 1
    page.click("text=Điền thêm một phiếu trả lời")
    fill_valid(page)
    page.click("button.send")
    page.wait_for_url("**/sample/thanks")
    assert responses() == 2


def typed_address(kind, server, network, app):
    """Return a form address as a person types or scans it, with no form id in it."""
    if kind == "personal":
        return f"{server}/c/{network['collaborators'][('P1', 'MTTQ')].token}/sample"
    if kind == "open":
        return f"{server}/s/sample"
    with app.app_context():
        return f"{server}/s/sample/" + sign_group(network["wards"][0], network["organisations"][0])


def send_plain(page, kind):
    """Fill the form validly (the open link also asks for ward and organisation) and send it."""
    if kind == "open":
        page.select_option("#f-ward", "P1")
        page.select_option("#f-organisation", "MTTQ")
    fill_valid(page)
    page.click("button.send")
    page.wait_for_url("**/sample/thanks*")


@pytest.mark.parametrize("kind", ["personal", "open", "poster"])
def test_back_and_send_on_a_typed_address_stores_once(phone, server, network, sample, app, kind):
    """JS off, on an address typed or scanned (personal, open or poster link): Send, Back, Send
    again stores one response; the address as typed is not in the history to go back to."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    page = phone(java_script_enabled=False).new_page()
    address = typed_address(kind, server, network, app)
    page.goto(address)
    page.wait_for_url(address + "?n=*")  # pinned to a form id before anything is typed
    send_plain(page, kind)
    assert responses() == 1
    page.go_back()
    page.wait_for_load_state()
    if page.locator("button.send").count():  # the browser kept the sent form: send it again
        page.click("button.send")
    page.wait_for_url("**/sample/thanks?*already=1*")
    assert "đã được nhận" in page.locator("main").inner_text()
    page.go_back()
    assert "n=" in page.url or page.url == "about:blank"
    if page.locator("button.send").count():
        page.click("button.send")
        page.wait_for_url("**/sample/thanks?*already=1*")
    assert responses() == 1


@pytest.mark.parametrize("kind", ["personal", "open"])
def test_back_and_send_stores_once_when_the_phone_cannot_keep_the_answer(
    phone, server, network, sample, app, kind
):
    """Scripts on, but the phone's storage refuses the answer (full, or blocked): the form goes
    the plain way, and Back then Send still stores it once."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    context = phone()
    context.add_init_script("Storage.prototype.setItem = () => { throw new Error('full'); };")
    page = context.new_page()
    page.goto(typed_address(kind, server, network, app))
    page.locator("#progress").wait_for()  # form.js ran
    send_plain(page, kind)
    assert responses() == 1
    page.go_back()
    page.wait_for_load_state()
    if page.locator("button.send").count():  # the page kept in memory: the same form again
        page.click("button.send")
    page.wait_for_url("**/sample/thanks?*already=1*")
    assert responses() == 1


def test_open_link_without_javascript_says_when_a_question_applies(phone, server, sample, db):
    """JS off, on the open link: the conditional question says when it applies; an answer typed
    into it though it does not apply is named on the thanks page, and not stored."""
    page = phone(java_script_enabled=False).new_page()
    page.goto(f"{server}/s/sample")
    page.wait_for_url("**?n=*")
    why = page.locator("#q-why")
    assert "Chỉ trả lời nếu ở câu 1 bạn chọn “Không đồng ý”" in why.inner_text()
    assert "bắt buộc nếu áp dụng" in why.inner_text()
    page.fill("#f-why", "Không có lý do")
    send_plain(page, "open")
    assert "dropped=why" in page.url
    notice = page.locator("main .notice", has_text="không được ghi nhận")
    assert "Vì sao không?" in notice.inner_text()
    assert responses() == 1
    assert Answer.select().where(Answer.text == "Không có lý do").count() == 0


def queue_offline(context, home_url):
    """Visit with signal, then answer the form with none; return the page showing it queued."""
    page = visit_with_signal(context, home_url)
    page.goto(home_url + "/sample")
    fill_valid(page)
    context.set_offline(True)
    page.click("button.send")
    page.locator("#outbox [data-state=queued]").wait_for()
    return page


def test_sent_by_background_sync_with_every_page_closed(phone, home_url, db):
    """Offline, the notice promises sending by itself; with the tab closed and the signal back,
    the service worker sends the answer, once."""
    context = phone()
    page = queue_offline(context, home_url)
    by_itself = page.locator("#outbox .when-sync")
    by_itself.wait_for()
    assert not page.locator("#outbox .when-open").is_visible()
    assert "đóng trang" in by_itself.inner_text()
    page.close()
    assert context.pages == []
    time.sleep(1)
    assert responses() == 0
    context.set_offline(False)
    assert wait_until(lambda: responses() == 1, 20)
    home = context.new_page()
    home.goto(home_url)  # the page finds its own copy already sent: nothing doubled
    home.locator("#outbox [data-state=sent]").wait_for()
    assert home.locator(".done-tile").count() == 1
    assert home.evaluate("JSON.parse(localStorage.getItem('survey-outbox'))") == []
    assert responses() == 1


def test_without_background_sync_the_notice_says_to_reopen(phone, home_url, db):
    """A browser without Background Sync is told to reopen the page; nothing leaves until then."""
    context = phone()
    context.add_init_script("delete window.SyncManager")
    page = queue_offline(context, home_url)
    assert page.locator("#outbox .when-open").is_visible()
    assert not page.locator("#outbox .when-sync").is_visible()
    page.close()
    context.set_offline(False)
    time.sleep(2)
    assert responses() == 0
    home = context.new_page()
    home.goto(home_url)
    assert wait_until(lambda: responses() == 1)
    home.locator("#outbox [data-state=sent]").wait_for()  # shown once the page brought itself up
    assert home.locator(".done-tile").count() == 1
    assert responses() == 1


@pytest.mark.parametrize("sync", [False, True])
def test_three_tabs_flushing_together_store_one_response(phone, home_url, db, sync):
    """One answer kept, three tabs open when the signal returns (and the service worker's
    Background Sync too, where the browser has it): stored once."""
    context = phone()
    if not sync:
        context.add_init_script("delete window.SyncManager")
    queue_offline(context, home_url)
    tabs = [context.new_page() for _ in range(3)]
    for tab in tabs:
        tab.goto(home_url)  # offline: the kept copy
    context.set_offline(False)  # every tab's `online` event sends at once
    assert wait_until(lambda: responses() == 1)
    time.sleep(2)
    assert responses() == 1


@pytest.mark.parametrize("change", ["rotate", "deactivate"])
def test_answers_kept_under_a_changed_card_are_not_lost(phone, home_url, person, change, db):
    """The coordinator makes a new card (or deactivates) while an answer waits: it still arrives."""
    context = phone()
    context.add_init_script("delete window.SyncManager")
    page = queue_offline(context, home_url)
    fresh = Collaborator.get_by_id(person.id)
    if change == "rotate":
        fresh.rotate_token()
    else:
        fresh.active = False
        fresh.save()
        fresh.retire_token()
    context.set_offline(False)
    assert wait_until(lambda: responses() == 1)
    page.locator("#outbox [data-state=sent]").wait_for()
    assert Response.get().collaborator_id == person.id
    page.goto(home_url)  # the old card opens the phone's own page, which says what to do
    assert "thẻ mới" in page.locator("main").inner_text()
    assert page.locator("body.phone").count() == 1


@pytest.mark.parametrize("change", ["rotate", "deactivate"])
def test_background_sync_sends_under_a_changed_card_with_the_tab_closed(
    phone, home_url, person, change, db
):
    """Tab closed, card replaced (or its holder deactivated) while the answer waited: the service
    worker still delivers it, once, for that collaborator."""
    context = phone()
    page = queue_offline(context, home_url)
    page.locator("#outbox .when-sync").wait_for()
    page.close()
    fresh = Collaborator.get_by_id(person.id)
    if change == "rotate":
        fresh.rotate_token()
    else:
        fresh.active = False
        fresh.save()
        fresh.retire_token()
    context.set_offline(False)
    assert wait_until(lambda: responses() == 1, 20)
    assert Response.get().collaborator_id == person.id
    time.sleep(1)
    assert responses() == 1


def test_background_sync_leaves_a_refused_answer_kept_on_the_phone(phone, home_url, sample, db):
    """Tab closed, questionnaire closed meanwhile: the worker's send is refused, nothing is
    stored, and the reopened page shows the answer refused, still kept on the phone."""
    context = phone()
    page = queue_offline(context, home_url)
    page.locator("#outbox .when-sync").wait_for()
    page.close()
    set_status(None, Questionnaire.get_by_id(sample.id), "closed")
    context.set_offline(False)
    home = context.new_page()
    home.goto(home_url)
    home.locator("#outbox [data-state=rejected]").wait_for()
    assert "đã đóng" in home.locator(".outbox-items li.refused").inner_text()
    kept = home.evaluate("JSON.parse(localStorage.getItem('survey-outbox'))")
    assert len(kept) == 1 and kept[0]["refused"] == 410 and "age=42" in kept[0]["body"]
    assert responses() == 0


def test_a_questionnaire_closed_meanwhile_is_refused_and_kept(phone, home_url, sample, db):
    """Closed while the answer waited: shown as refused, kept on the phone, nothing stored."""
    context = phone()
    context.add_init_script("delete window.SyncManager")
    page = queue_offline(context, home_url)
    set_status(None, Questionnaire.get_by_id(sample.id), "closed")
    context.set_offline(False)
    page.locator("#outbox [data-state=rejected]").wait_for()
    assert "đã đóng" in page.locator(".outbox-items li.refused").inner_text()
    kept = page.evaluate("JSON.parse(localStorage.getItem('survey-outbox'))")
    assert len(kept) == 1 and kept[0]["refused"] == 410 and "age=42" in kept[0]["body"]
    page.reload()
    assert page.locator(".outbox-items li.refused").count() == 1  # still there, not retried
    assert responses() == 0


def test_send_now_offline_says_it_will_wait(phone, home_url, db):
    """ "Send now" pressed with no signal says the answer waits; the list shows title and time."""
    context = phone()
    context.add_init_script("delete window.SyncManager")
    page = queue_offline(context, home_url)
    page.click("#send-now")
    page.locator("#outbox [data-state=offline]").wait_for()
    item = page.locator(".outbox-items li").inner_text()
    assert "Ý kiến về chỉnh trang đô thị" in item and ":" in item  # its title and its time
    assert responses() == 0


def test_the_outbox_writes_a_kept_answers_time_the_vietnamese_way(phone, home_url, db):
    """“18:43 01/12”: hours and minutes, then day before month, as the server writes times."""
    context = phone(timezone_id="Asia/Ho_Chi_Minh")
    context.add_init_script("delete window.SyncManager")
    page = queue_offline(context, home_url)
    page.click("#send-now")
    page.locator("#outbox [data-state=offline]").wait_for()
    item = page.locator(".outbox-items li").inner_text()
    now = datetime.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    found = re.search(r"(\d\d):(\d\d) (\d\d)/(\d\d)$", item.strip())
    assert found and found.group(3, 4) == (f"{now:%d}", f"{now:%m}"), item
