"""Coordinator pages at 360 px in Debian's Chromium, with long data: no page scrolls sideways
(a table may scroll inside its own box) and every tap target is at least 44 px tall."""

import copy

import pytest

from survey.models import Collaborator, Organisation, Response, Ward
from survey.questionnaires.file_format import import_questionnaire
from tests.helpers import log_in_page, make_user, store_answers

pytestmark = pytest.mark.browser

LONG_KEY = "muc_do_hai_long_voi_cong_tac_bao_dam_an_ninh_trat_tu_nam_2025"
LONG_WARD = "Phường Hòa Hưng (khu dân cư mới mở rộng phía bắc đường Cách Mạng Tháng Tám)"
LONG_ORG = "Ủy ban Mặt trận Tổ quốc Việt Nam phường Hòa Hưng và các đoàn thể chính trị - xã hội"
CHOICES = [
    {"key": "an_toan", "label": "An toàn"},
    {"key": "binh_thuong", "label": "Bình thường"},
    {"key": "khong_an_toan", "label": "Không an toàn"},
    {"key": "khac", "label": "Khác (ghi rõ)", "other": True},
]
WAVE = {
    "slug": "an-ninh-dot-1",
    "title": "Ý kiến thanh niên về an ninh trật tự và chỉnh trang đô thị năm 2025 – đợt 1",
    "status": "open",
    "questions": [
        {"key": "phan_a", "kind": "section", "prompt": "Phần A. An toàn khu phố"},
        {"key": "safe", "kind": "single", "prompt": "Khu phố có an toàn?", "choices": CHOICES},
        {"key": LONG_KEY, "kind": "scale", "prompt": "Mức hài lòng (0–10)", "min": 0, "max": 10},
        {"key": "note", "kind": "text", "prompt": "Góp ý"},
    ],
}
# The pages a coordinator works in, {slug} the repeat; each is walked at 360 px.
PAGES = [
    "/",
    "/questionnaires/{slug}/edit",
    "/questionnaires/{slug}/questions/" + LONG_KEY,
    "/questionnaires/{slug}/questions/safe",
    "/questionnaires/{slug}/preview",
    "/questionnaires/{slug}/tallies",
    "/questionnaires/{slug}/tallies?by=ward",
    "/questionnaires/{slug}/answers/note",
    "/questionnaires/{slug}/report",
    "/questionnaires/{slug}/report/word",
    "/questionnaires/{slug}/responses",
    "/questionnaires/{slug}/responses/{response}",
    "/network/rates/{slug}",
    "/network/rates/{slug}?by=organisation&page=2",
    "/network/reminders/{slug}",
    "/network/collaborators",
    "/network/cards",
    "/admin/users",
    "/admin/audit",
]
# Every tap target: a link inside a sentence is exempt (WCAG 2.5.8), as is a field's own box.
SMALL_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a[href], button, summary, select,
      input[type=submit], input[type=checkbox], input[type=radio]')) {
    const box = el.closest('label') || el;
    const r = box.getBoundingClientRect();
    const style = getComputedStyle(box);
    if (!r.width || !r.height || style.visibility === 'hidden') continue;
    if (el.closest('.visually-hidden, .sr-only, svg')) continue;
    const around = el.parentElement.closest('p, li, td, dd, small, span');
    const sentence = around && el.tagName === 'A' && around.textContent.trim().length
      > el.textContent.trim().length + 2 && !around.matches('.actions, .pager, nav');
    if (sentence && getComputedStyle(el).display === 'inline') continue;
    if (r.height < 44) small.push(`${el.tagName} “${(el.textContent || el.value || '')
      .trim().slice(0, 30)}” ${Math.round(r.width)}×${Math.round(r.height)}`);
  }
  return small;
}""".replace("\n      ", " ")
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 361 && !e.parentElement.closest('.table-scroll'))
  .slice(0, 5)
  .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
"""


@pytest.fixture
def long_data(app, network):
    """Two waves with long names and keys, 23 + 12 responses, 134 collaborators not answered."""
    ward = Ward.create(code="HH", name=LONG_WARD)
    org = Organisation.create(code="MTTQHH", name=LONG_ORG)
    people = [(f"Nguyễn Thị Phương Thảo Hoàng Minh Khuê {i}", f"0912{i:06d}") for i in range(130)]
    Collaborator.insert_many(
        [
            {"name": name, "phone": phone, "ward": ward, "organisation": org}
            for name, phone in people
        ]
    ).execute()
    first = import_questionnaire(copy.deepcopy(WAVE))
    second = copy.deepcopy(WAVE)
    second.update({"slug": "an-ninh-dot-2", "title": WAVE["title"][:-1] + "2"})
    second["repeat_of"] = "an-ninh-dot-1"
    repeat = import_questionnaire(second)
    with app.test_request_context():
        for questionnaire, rows in ((first, 23), (repeat, 12)):
            for i in range(rows):
                answers = {"safe": CHOICES[i % 3]["key"], LONG_KEY: str(i % 11)}
                answers["note"] = "Cần lắp thêm đèn chiếu sáng ở hẻm " + "rất dài " * 10
                store_answers(questionnaire, ward if i % 2 else Ward.get(code="P1"), org, answers)
    make_user("coordinator", "admin")
    return repeat


@pytest.fixture
def phone(browser, server, long_data):
    """Return a page logged in as an admin in a 360 px wide touch context."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    log_in_page(page, server, "coordinator")
    yield page
    context.close()


# What the tester measured under 44 px, each checked by name (a sentence's link or not).
NAMED = {
    "/questionnaires/{slug}/edit": ["button:has-text('Đăng xuất')", "button:has-text('↑')"],
    "/questionnaires/{slug}/responses": [
        ".response-meta a",
        ".response-tabs a",
        "a:has-text('Bỏ lọc')",
    ],
    "/network/cards": [".copy-link"],
    "/network/rates/{slug}": [".pager a", "td a[href^='tel:']"],
}


def walk(phone, server, long_data):
    """Yield each coordinator page opened at 360 px, with its address."""
    response = Response.select().where(Response.questionnaire == long_data.id).first()
    for path in PAGES:
        url = server + path.format(slug=long_data.slug, response=response.id)
        answer = phone.goto(url)
        assert answer.status == 200, (path, answer.status)
        yield path


def test_no_coordinator_page_scrolls_sideways_at_360_px(phone, server, long_data, shot):
    """Every page fits 360 px; wide tables scroll inside their own box, never the page."""
    wide = {}
    for path in walk(phone, server, long_data):
        if phone.evaluate("document.documentElement.scrollWidth") > 360:
            wide[path] = phone.evaluate(WIDEST)
            shot(phone, "wide-" + path.strip("/").replace("/", "-").replace("?", "-"))
    assert not wide, "\n".join(f"{path}: {found}" for path, found in wide.items())
    phone.goto(server + f"/network/rates/{long_data.slug}")
    assert "Chưa trả lời (134)" in phone.inner_text("h2#waiting")  # all counted, 50 a page
    assert phone.locator("#waiting ~ .table-scroll tbody tr").count() == 50


def test_every_tap_target_is_44_px_tall_at_360_px(phone, server, long_data):
    """Buttons, menu, pager and list links, the builder's arrows, copy buttons: ≥ 44 px tall."""
    small = {}
    for path in walk(phone, server, long_data):
        found = phone.evaluate(SMALL_TARGETS)
        if found:
            small[path] = found
    assert not small, "\n".join(f"{path}: {found}" for path, found in small.items())


def test_what_the_tester_found_small_is_44_px_tall(phone, server, long_data):
    """The logout button, the builder's arrows, the response list's links, the copy button."""
    for path, selectors in NAMED.items():
        phone.goto(server + path.format(slug=long_data.slug))
        for selector in selectors:
            boxes = [box for box in (e.bounding_box() for e in phone.query_selector_all(selector))]
            assert boxes, (path, selector)
            assert min(box["height"] for box in boxes) >= 44, (path, selector, boxes[0])
