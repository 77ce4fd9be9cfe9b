"""The builder proposes addresses and keys from the Vietnamese text, numbers questions and says
skip logic in words."""

import html
import re

import pytest

from survey.models import Question, Questionnaire
from survey.questionnaires import authoring

SETTINGS = {
    "title": "Ý kiến về Đường sá",
    "description": "",
    "slug": "",
    "per_collaborator": "one",
    "opens_at": "",
    "closes_at": "",
    "suppress_below": "",
}


@pytest.fixture
def coordinator(login, network):
    """Return a client logged in as a coordinator of all organisations."""
    return login("coordinator")


def fresh(slug):
    """Reload a questionnaire from the database."""
    return Questionnaire.get(Questionnaire.slug == slug)


def keys(slug):
    """Return the question keys of a questionnaire, in order."""
    return [q.key for q in fresh(slug).ordered_questions(include_hidden=True)]


def add(client, slug, **fields):
    """Post the add-question form."""
    return client.post(f"/questionnaires/{slug}/questions", data=fields)


def page(client, slug):
    """Return the builder page's text, entities decoded."""
    return html.unescape(client.get(f"/questionnaires/{slug}/edit").get_data(as_text=True))


def errors(response):
    """Return the error texts shown on a page."""
    text = response.get_data(as_text=True)
    return html.unescape(" ".join(re.findall(r'class="(?:error|flash error)"[^>]*>([^<]*)<', text)))


def test_make_slug_and_key_fold_vietnamese():
    assert authoring.make_slug("Ý kiến về Đường sá 2025!") == "y-kien-ve-duong-sa-2025"
    assert authoring.make_slug("Ý kiến", {"y-kien", "y-kien-2"}) == "y-kien-3"
    assert authoring.make_slug("——") == "khao-sat"
    long = authoring.make_slug("Khảo sát " * 20)
    assert len(long) <= 60 and set(long.split("-")) == {"khao", "sat"}
    assert authoring.make_key("Đồng ý với phường?") == "dong_y_voi_phuong"
    assert authoring.make_key("Ưu tiên", {"uu_tien"}) == "uu_tien_2"
    assert authoring.make_key("2 năm") == "c_2_nam"
    key = authoring.make_key("Anh chị có hài lòng với dịch vụ thu gom rác không")
    assert len(key) <= 30 and not key.endswith("_") and key.startswith("anh_chi_co_hai_long")


def test_empty_slug_takes_the_proposal_unique_among_slugs(coordinator, db):
    assert coordinator.post("/questionnaires/new", data=SETTINGS).status_code == 302
    assert coordinator.post("/questionnaires/new", data=SETTINGS).status_code == 302
    assert fresh("y-kien-ve-duong-sa").title == "Ý kiến về Đường sá"
    assert fresh("y-kien-ve-duong-sa-2").title == "Ý kiến về Đường sá"
    typed = dict(SETTINGS, slug="tu-dat")
    assert coordinator.post("/questionnaires/new", data=typed).status_code == 302
    assert fresh("tu-dat")


def test_empty_slug_on_edit_takes_the_new_title(coordinator, db):
    coordinator.post("/questionnaires/new", data=SETTINGS)
    form = dict(SETTINGS, title="Rác thải sinh hoạt", status="draft")
    response = coordinator.post("/questionnaires/y-kien-ve-duong-sa/edit", data=form)
    assert response.status_code == 302
    assert fresh("rac-thai-sinh-hoat").title == "Rác thải sinh hoạt"


def test_empty_slug_keeps_a_locked_address(coordinator, sample):
    authoring.set_status(None, sample, "open")
    form = dict(SETTINGS, title="Tên khác", status="open")
    response = coordinator.post("/questionnaires/sample/edit", data=form)
    assert response.status_code == 302
    assert fresh("sample").title == "Tên khác"


def test_bad_typed_slug_is_still_refused_in_vietnamese(coordinator, sample):
    before = Questionnaire.select().count()
    response = coordinator.post("/questionnaires/new", data=dict(SETTINGS, slug="Khảo Sát"))
    assert response.status_code == 422 and "chữ thường" in errors(response)
    response = coordinator.post("/questionnaires/new", data=dict(SETTINGS, slug="sample"))
    assert response.status_code == 422 and errors(response)
    assert Questionnaire.select().count() == before


def test_duplicate_with_an_empty_slug_takes_the_proposal(coordinator, sample):
    response = coordinator.post(
        "/questionnaires/sample/duplicate", data={"slug": "", "title": "Bản sao mùa thu"}
    )
    assert response.status_code == 302
    assert fresh("ban-sao-mua-thu").ordered_questions().count() == 8


def test_empty_keys_take_the_proposal_sections_included(coordinator, sample):
    assert add(coordinator, "sample", kind="section", prompt="Phần 2: Đời sống").status_code == 302
    assert add(coordinator, "sample", kind="section", prompt="").status_code == 302
    assert add(coordinator, "sample", kind="text", prompt="Đồng ý?").status_code == 302
    assert add(coordinator, "sample", kind="text", prompt="Đồng ý?").status_code == 302
    assert add(coordinator, "sample", kind="text", prompt="Phường").status_code == 302
    assert add(coordinator, "sample", kind="text", prompt="Ward").status_code == 302
    added = keys("sample")[8:]
    assert added == ["phan_2_doi_song", "phan", "dong_y", "dong_y_2", "phuong", "ward_2"]
    assert add(coordinator, "sample", key="tu_dat", kind="text", prompt="X").status_code == 302
    assert keys("sample")[-1] == "tu_dat"


def test_bad_question_without_key_changes_nothing(coordinator, sample):
    before = Question.select().count()
    response = add(coordinator, "sample", kind="text", prompt="")
    assert response.status_code == 422 and errors(response)
    response = add(coordinator, "sample", key="1x", kind="text", prompt="P")
    assert response.status_code == 422 and "chữ" in errors(response)
    assert Question.select().count() == before


def test_empty_key_on_edit_is_proposed_from_the_wording(coordinator, sample):
    data = {"key": "", "kind": "longtext", "prompt": "Góp ý về vỉa hè", "help": ""}
    response = coordinator.post("/questionnaires/sample/questions/note", data=data)
    assert response.status_code == 302
    assert "gop_y_ve_via_he" in keys("sample") and "note" not in keys("sample")


def test_outline_numbers_questions_as_the_phone_form(coordinator, sample):
    text = page(coordinator, "sample")
    numbers = re.findall(r'class="qnum">Câu (\d+)<', text)
    assert numbers == [str(n) for n in range(1, 8)]  # 8 rows, the section not counted
    authoring.set_question_hidden(None, Question.get(Question.key == "topics"), True)
    text = page(coordinator, "sample")
    assert re.findall(r'class="qnum">Câu (\d+)<', text) == [str(n) for n in range(1, 7)]
    phone = coordinator.get("/questionnaires/sample/preview").get_data(as_text=True)
    assert "6/6" in phone


def test_skip_logic_in_words(coordinator, sample):
    text = page(coordinator, "sample")
    assert "Chỉ hiện khi câu 1 là “Không đồng ý”" in text
    assert "agree = no" not in text and "chỉ khi agree" not in text
    assert "Câu 1 là “Đồng ý”" in text  # the add-question form's show-if choices
    edit = coordinator.get("/questionnaires/sample/questions/why").get_data(as_text=True)
    assert "Câu 1 là “Không đồng ý”" in html.unescape(edit)


def test_skip_logic_in_english(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    assert "Only shown if question 1 is “Không đồng ý”" in page(coordinator, "sample")


def test_skip_logic_refusals_name_question_numbers(coordinator, sample):
    response = coordinator.post(
        "/questionnaires/sample/questions/why/move", data={"direction": "up"}
    )
    assert response.status_code == 422
    assert "Câu 2 chỉ hiện sau khi trả lời câu 1" in errors(response)
    response = coordinator.post("/questionnaires/sample/questions/agree/hide", data={"hidden": "1"})
    assert response.status_code == 422 and "câu trả lời này: 2." in errors(response)
    assert not Question.get(Question.key == "agree").hidden
