"""Questionnaire authoring on the screens: create, edit, lifecycle, edit rules, import/export."""

import datetime
import io
import json
import re

import pytest

from survey.models import (
    Answer,
    AuditEvent,
    Choice,
    Question,
    Questionnaire,
    response_count,
)
from survey.respond.rules import Schema
from tests.helpers import SAMPLE, store_answers

SETTINGS = {
    "title": "Khảo sát mới",
    "description": "Mô tả",
    "slug": "khao-sat-moi",
    "per_collaborator": "one",
    "opens_at": "",
    "closes_at": "",
    "suppress_below": "",
}


def message_of(response):
    """Return the error texts shown on a page."""
    return " ".join(
        re.findall(r'class="(?:error|flash error)"[^>]*>([^<]*)<', response.get_data(as_text=True))
    )


def answer(questionnaire, network, answers):
    """Store one response of collaborator P1/MTTQ (as the phone form would)."""
    person = network["collaborators"][("P1", "MTTQ")]
    store_answers(questionnaire, person.ward, person.organisation, answers, collaborator=person)


@pytest.fixture
def answered(sample, network):
    """Return the sample questionnaire with one stored response."""
    answer(sample, network, {"agree": "no", "why": "xa", "topics": ["roads"], "score": "4"})
    return sample


@pytest.fixture
def coordinator(login, network):
    """Return a client logged in as a coordinator of all organisations."""
    return login("coordinator")


def fresh(slug):
    """Reload a questionnaire from the database."""
    return Questionnaire.get(Questionnaire.slug == slug)


def question(slug, key):
    """Reload a question from the database."""
    return Question.get((Question.questionnaire == fresh(slug)) & (Question.key == key))


# --- Create and edit settings ---


def test_create_stores_settings_targets_and_local_times_as_utc(coordinator, db):
    form = dict(
        SETTINGS,
        opens_at="2025-07-01T08:00",
        closes_at="2025-07-31 17:30",
        anonymous="y",
        per_collaborator="many",
        open_link="y",
        organisations=["MTTQ"],
        wards=["P1", "P2"],
    )
    response = coordinator.post("/questionnaires/new", data=form)
    assert response.status_code == 302
    assert response.location.endswith("/questionnaires/khao-sat-moi/edit")
    q = fresh("khao-sat-moi")
    assert (q.title, q.description, q.status) == ("Khảo sát mới", "Mô tả", "draft")
    # Asia/Ho_Chi_Minh is UTC+7, so 08:00 local is 01:00 UTC.
    assert q.opens_at == datetime.datetime(2025, 7, 1, 1, 0)
    assert q.closes_at == datetime.datetime(2025, 7, 31, 10, 30)
    assert (q.anonymous, q.per_collaborator, q.open_link) == (True, "many", True)
    assert q.suppress_below == 5  # the default of an anonymous questionnaire
    assert [o.code for o in q.target_organisations()] == ["MTTQ"]
    assert [w.code for w in q.target_wards()] == ["P1", "P2"]
    page = coordinator.get("/questionnaires/khao-sat-moi/edit").get_data(as_text=True)
    assert 'value="2025-07-01T08:00"' in page  # shown again in local time


def test_suppress_below_defaults_to_zero_when_not_anonymous(coordinator, db):
    assert coordinator.post("/questionnaires/new", data=SETTINGS).status_code == 302
    assert fresh("khao-sat-moi").suppress_below == 0
    form = dict(SETTINGS, slug="k2", anonymous="y", suppress_below="3")
    assert coordinator.post("/questionnaires/new", data=form).status_code == 302
    assert fresh("k2").suppress_below == 3


@pytest.mark.parametrize(
    "change, text",
    [
        ({"title": "  "}, "required"),
        ({"slug": "Khao Sat"}, "lower-case"),
        ({"slug": "sample"}, "already has this address"),
        ({"opens_at": "2025-13-01 08:00"}, "year-month-day"),
        ({"closes_at": "tomorrow"}, "year-month-day"),
        ({"opens_at": "2025-07-02T08:00", "closes_at": "2025-07-01T08:00"}, "after the opening"),
        ({"suppress_below": "abc"}, "whole number"),
        ({"per_collaborator": "all"}, "options offered"),
        ({"organisations": ["NOPE"]}, "options offered"),
    ],
)
def test_create_refuses_bad_input_with_a_message(coordinator, sample, app, change, text):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    before = Questionnaire.select().count()
    response = coordinator.post("/questionnaires/new", data=dict(SETTINGS, **change))
    assert response.status_code == 422
    assert text in message_of(response)
    assert Questionnaire.select().count() == before


def settings_of(q, **change):
    """Return the settings form of a stored questionnaire, with changes."""
    form = {
        "title": q.title,
        "description": q.description,
        "slug": q.slug,
        "status": q.status,
        "per_collaborator": q.per_collaborator,
        "suppress_below": str(q.suppress_below),
    }
    form.update(change)
    return {k: v for k, v in form.items() if v is not None}


def test_edit_settings_and_targets(coordinator, sample):
    form = settings_of(
        sample,
        title="Tiêu đề mới",
        closes_at="2030-01-01T00:00",
        suppress_below="4",
        organisations=["DOAN"],
        open_link=None,
    )
    response = coordinator.post("/questionnaires/sample/edit", data=form)
    assert response.status_code == 302, message_of(response)
    q = fresh("sample")
    assert (q.title, q.suppress_below, q.open_link) == ("Tiêu đề mới", 4, False)
    assert q.closes_at == datetime.datetime(2029, 12, 31, 17, 0)
    assert [o.code for o in q.target_organisations()] == ["DOAN"]
    event = AuditEvent.select().where(AuditEvent.action == "questionnaire.update").get()
    assert event.user.username == "coordinator-all" and event.target == "sample"
    assert "Tiêu đề mới" in event.detail and "DOAN" in event.detail


def test_edit_bad_input_changes_nothing(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    form = settings_of(sample, title="", opens_at="2025-02-30 10:00")
    response = coordinator.post("/questionnaires/sample/edit", data=form)
    assert response.status_code == 422
    assert "required" in message_of(response) and "year-month-day" in message_of(response)
    assert fresh("sample").title == SAMPLE["title"]
    assert not AuditEvent.select().where(AuditEvent.action == "questionnaire.update").exists()


def test_slug_changes_only_while_draft(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    response = coordinator.post(
        "/questionnaires/sample/edit", data=settings_of(sample, slug="renamed")
    )
    assert response.status_code == 422
    assert "links and QR codes" in message_of(response)
    assert fresh("sample").slug == "sample"
    coordinator.post("/questionnaires/new", data=SETTINGS)
    draft = fresh("khao-sat-moi")
    response = coordinator.post(
        "/questionnaires/khao-sat-moi/edit", data=settings_of(draft, slug="doi-ten")
    )
    assert response.status_code == 302
    assert Questionnaire.get_or_none(Questionnaire.slug == "doi-ten") is not None


def test_locked_fields_say_why_on_the_page(coordinator, answered, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    page = coordinator.get("/questionnaires/sample/edit").get_data(as_text=True)
    assert "links and QR codes" in page and "told whether the questionnaire" in page
    assert re.search(
        r'<input[^>]*disabled[^>]*name="slug"|<input[^>]*name="slug"[^>]*disabled', page
    )
    page = coordinator.get("/questionnaires/sample/questions/agree").get_data(as_text=True)
    assert "kind cannot change" in page and "keys name the stored answers" in page
    assert re.search(
        r'<select[^>]*disabled[^>]*name="kind"|<select[^>]*name="kind"[^>]*disabled', page
    )


# --- Questions and choices ---


def add(client, slug, **fields):
    """Post the add-question form."""
    return client.post(f"/questionnaires/{slug}/questions", data=fields)


def test_add_every_kind_of_question(coordinator, db):
    coordinator.post("/questionnaires/new", data=SETTINGS)
    slug = "khao-sat-moi"
    assert add(coordinator, slug, key="s", kind="section", prompt="Phần A").status_code == 302
    assert (
        add(
            coordinator,
            slug,
            key="one",
            kind="single",
            prompt="Một?",
            required="y",
            choices="Đồng ý\nno = Không đồng ý",
        ).status_code
        == 302
    )
    assert (
        add(
            coordinator, slug, key="many", kind="multi", prompt="Nhiều?", choices="A\nB"
        ).status_code
        == 302
    )
    assert (
        add(
            coordinator, slug, key="sc", kind="scale", prompt="Thang", minimum="0", maximum="10"
        ).status_code
        == 302
    )
    assert (
        add(
            coordinator, slug, key="n", kind="number", prompt="Số", minimum="1,5", help="Giúp"
        ).status_code
        == 302
    )
    for kind in ("text", "longtext", "date"):
        assert (
            add(coordinator, slug, key=kind, kind=kind, prompt=kind, show_if="one:no").status_code
            == 302
        )
    questions = list(fresh(slug).ordered_questions())
    assert [q.kind for q in questions] == [
        "section",
        "single",
        "multi",
        "scale",
        "number",
        "text",
        "longtext",
        "date",
    ]
    one = question(slug, "one")
    assert [(c.key, c.label) for c in one.ordered_choices()] == [
        ("dong_y", "Đồng ý"),
        ("no", "Không đồng ý"),
    ]
    assert one.required and question(slug, "sc").maximum == 10
    assert question(slug, "n").minimum == 1.5 and question(slug, "n").help == "Giúp"
    assert (question(slug, "date").show_if_question, question(slug, "date").show_if_choice) == (
        "one",
        "no",
    )


@pytest.mark.parametrize(
    "fields, text",
    [
        ({"key": "x", "kind": "number", "prompt": "P", "minimum": "ten"}, "Enter a number"),
        ({"key": "x", "kind": "scale", "prompt": "P", "minimum": "5", "maximum": "1"}, "scale"),
        ({"key": "x", "kind": "scale", "prompt": "P", "minimum": "1.5"}, "whole numbers"),
        ({"key": "x", "kind": "number", "prompt": "P", "minimum": "9", "maximum": "1"}, "maximum"),
        ({"key": "agree", "kind": "text", "prompt": "P"}, "already has the key"),
        ({"key": "ward", "kind": "text", "prompt": "P"}, "letters, digits"),
        ({"key": "1x", "kind": "text", "prompt": "P"}, "letters, digits"),
        ({"key": "x", "kind": "text", "prompt": ""}, "required"),
        ({"key": "x", "kind": "essay", "prompt": "P"}, "options offered"),
        ({"key": "x", "kind": "single", "prompt": "P", "choices": ""}, "needs choices"),
        ({"key": "x", "kind": "text", "prompt": "P", "show_if": "score:1"}, "options offered"),
        ({"key": "x", "kind": "text", "prompt": "P", "show_if": "agree:maybe"}, "options offered"),
    ],
)
def test_bad_question_is_refused_and_nothing_changes(coordinator, sample, app, fields, text):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    before = Question.select().count()
    response = add(coordinator, "sample", **fields)
    assert response.status_code == 422
    assert text in message_of(response)
    assert Question.select().count() == before


def edit_question(client, slug, qkey, /, **fields):
    """Post the edit form of a question (sending only the given fields)."""
    return client.post(f"/questionnaires/{slug}/questions/{qkey}", data=fields)


def test_show_if_must_name_an_earlier_choice_question(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    # topics comes after agree, so agree may not depend on it; a text question is no trigger.
    assert edit_question(coordinator, "sample", "agree", show_if="topics:roads").status_code == 422
    assert edit_question(coordinator, "sample", "note", show_if="why:x").status_code == 422
    assert question("sample", "agree").show_if_question is None
    response = edit_question(coordinator, "sample", "note", show_if="topics:parks")
    assert response.status_code == 302
    assert question("sample", "note").show_if_choice == "parks"
    # Moving the dependent question above its trigger is refused too.
    response = coordinator.post(
        "/questionnaires/sample/questions/why/move", data={"direction": "up"}
    )
    assert response.status_code == 422
    assert "must come after" in message_of(response)
    assert question("sample", "why").position > question("sample", "agree").position


def test_move_questions_and_choices(coordinator, sample):
    def order():
        """Return the visible question keys in order."""
        return [q.key for q in fresh("sample").ordered_questions()]

    assert (
        coordinator.post(
            "/questionnaires/sample/questions/age/move", data={"direction": "up"}
        ).status_code
        == 302
    )
    assert order() == ["s1", "agree", "why", "topics", "age", "score", "note", "day"]
    assert (
        coordinator.post(
            "/questionnaires/sample/questions/age/move", data={"direction": "sideways"}
        ).status_code
        == 400
    )
    response = coordinator.post(
        "/questionnaires/sample/questions/topics/choices/safety/move", data={"direction": "up"}
    )
    assert response.status_code == 302
    assert [c.key for c in question("sample", "topics").ordered_choices()] == [
        "roads",
        "safety",
        "parks",
    ]


def test_edit_choices_before_answers(coordinator, sample):
    base = "/questionnaires/sample/questions/agree/choices"
    assert coordinator.post(base, data={"label": "Chưa rõ"}).status_code == 302
    assert coordinator.post(base, data={"label": "Khác", "key": "other"}).status_code == 302
    assert (
        coordinator.post(
            f"{base}/chua_ro", data={"key": "unsure", "label": "Chưa biết"}
        ).status_code
        == 302
    )
    # Renaming a key that a show_if names keeps the show_if pointing at it.
    assert coordinator.post(f"{base}/no", data={"key": "nope", "label": "Không"}).status_code == 302
    assert [(c.key, c.label) for c in question("sample", "agree").ordered_choices()] == [
        ("yes", "Đồng ý"),
        ("nope", "Không"),
        ("unsure", "Chưa biết"),
        ("other", "Khác"),
    ]
    assert question("sample", "why").show_if_choice == "nope"
    assert coordinator.post(f"{base}/other/delete").status_code == 302
    assert not Choice.select().where(Choice.key == "other").exists()


def test_delete_before_answers(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    assert coordinator.post("/questionnaires/sample/questions/note/delete").status_code == 302
    assert not Question.select().where(Question.key == "note").exists()
    # A question others depend on stays until they no longer do.
    response = coordinator.post("/questionnaires/sample/questions/agree/delete")
    assert response.status_code == 422  # "why" is question 2:
    assert "this answer: 2." in message_of(response)
    assert Question.select().where(Question.key == "agree").exists()
    assert coordinator.post("/questionnaires/sample/questions/why/delete").status_code == 302
    assert coordinator.post("/questionnaires/sample/questions/agree/delete").status_code == 302
    assert not Choice.select().join(Question).where(Question.key == "agree").exists()
    actions = {e.action for e in AuditEvent.select()}
    assert "question.delete" in actions


def test_change_kind_and_key_before_answers(coordinator, sample):
    response = edit_question(
        coordinator, "sample", "topics", key="themes", kind="single", prompt="Chủ đề chính"
    )
    assert response.status_code == 302
    themes = question("sample", "themes")
    assert (themes.kind, themes.prompt, len(list(themes.ordered_choices()))) == (
        "single",
        "Chủ đề chính",
        3,
    )
    # A trigger's key change follows into the dependent show_if.
    assert (
        edit_question(
            coordinator, "sample", "agree", key="agree2", kind="single", prompt="P"
        ).status_code
        == 302
    )
    assert question("sample", "why").show_if_question == "agree2"


# --- Edits after answers exist ---


def test_kind_and_keys_are_frozen_after_answers(coordinator, answered, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    response = edit_question(coordinator, "sample", "topics", kind="single", prompt="P")
    assert response.status_code == 422 and "kind cannot change" in message_of(response)
    response = edit_question(coordinator, "sample", "topics", key="themes", prompt="P")
    assert response.status_code == 422 and "keys name the stored answers" in message_of(response)
    topics = question("sample", "topics")
    assert (topics.kind, topics.prompt) == ("multi", "Chủ đề quan tâm")
    response = coordinator.post(
        "/questionnaires/sample/questions/topics/choices/roads",
        data={"key": "streets", "label": "Đường"},
    )
    assert response.status_code == 422
    assert [c.key for c in topics.ordered_choices()] == ["roads", "parks", "safety"]
    assert Choice.get(Choice.key == "roads").label == "Đường sá"
    assert (
        not AuditEvent.select()
        .where(
            AuditEvent.action.startswith("question.update")
            | AuditEvent.action.startswith("choice.")
        )
        .exists()
    )


def test_nothing_answered_can_be_deleted(coordinator, answered, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    answers = Answer.select().count()
    for url in (
        "/questionnaires/sample/questions/note/delete",
        "/questionnaires/sample/questions/topics/choices/parks/delete",
        "/questionnaires/sample/delete",
    ):
        response = coordinator.post(url)
        assert response.status_code == 422, url
        assert "Hide it instead" in message_of(response) or "Close it instead" in message_of(
            response
        )
    assert Question.select().where(Question.key == "note").exists()
    assert Choice.select().where(Choice.key == "parks").exists()
    assert Answer.select().count() == answers and response_count(answered) == 1


def test_wording_may_be_corrected_after_answers(coordinator, answered):
    # The page sends no kind or key (they are disabled), only the wording.
    response = edit_question(
        coordinator, "sample", "agree", prompt="Bạn có đồng ý không?", help="Chọn một", required="y"
    )
    assert response.status_code == 302
    agree = question("sample", "agree")
    assert (agree.kind, agree.prompt, agree.help) == ("single", "Bạn có đồng ý không?", "Chọn một")
    response = coordinator.post(
        "/questionnaires/sample/questions/agree/choices/yes", data={"label": "Có, đồng ý"}
    )
    assert response.status_code == 302
    assert Choice.get(Choice.key == "yes").label == "Có, đồng ý"
    response = coordinator.post(
        "/questionnaires/sample/edit",
        data=settings_of(fresh("sample"), title="Tên đã sửa", description="Đã sửa"),
    )
    assert response.status_code == 302 and fresh("sample").title == "Tên đã sửa"


def test_locked_anonymous_box_is_kept_when_not_sent(coordinator, sample, network):
    sample.anonymous = True
    sample.save()
    answer(sample, network, {"agree": "yes"})
    # The page shows the box disabled, so the browser sends no `anonymous` field at all.
    response = coordinator.post(
        "/questionnaires/sample/edit", data=settings_of(fresh("sample"), title="Ẩn danh")
    )
    assert response.status_code == 302
    assert fresh("sample").anonymous and fresh("sample").title == "Ẩn danh"


def test_anonymous_cannot_change_after_answers(coordinator, answered, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    response = coordinator.post(
        "/questionnaires/sample/edit", data=settings_of(fresh("sample"), anonymous="y")
    )
    assert response.status_code == 422 and "told whether" in message_of(response)
    assert not fresh("sample").anonymous


def test_hide_instead_of_delete_after_answers(coordinator, answered, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    answers = Answer.select().count()
    assert (
        coordinator.post(
            "/questionnaires/sample/questions/topics/hide", data={"hidden": "1"}
        ).status_code
        == 302
    )
    assert question("sample", "topics").hidden
    assert "topics" not in [q.key for q in Schema.load(fresh("sample")).questions]
    assert "Chủ đề quan tâm" not in coordinator.get("/questionnaires/sample/preview").get_data(
        as_text=True
    )
    assert Answer.select().count() == answers  # its answers stay for tallies and exports
    assert (
        coordinator.post(
            "/questionnaires/sample/questions/topics/choices/parks/hide", data={"hidden": "1"}
        ).status_code
        == 302
    )
    assert Choice.get(Choice.key == "parks").hidden
    # A trigger of a visible show_if cannot be hidden: the dependent would never show.
    response = coordinator.post(
        "/questionnaires/sample/questions/agree/choices/no/hide", data={"hidden": "1"}
    )
    assert response.status_code == 422  # "why" is question 2:
    assert "this answer: 2." in message_of(response)
    assert not Choice.get(Choice.key == "no").hidden
    assert (
        coordinator.post(
            "/questionnaires/sample/questions/topics/hide", data={"hidden": "0"}
        ).status_code
        == 302
    )
    assert not question("sample", "topics").hidden
    assert {"question.hide", "question.show", "choice.hide"} <= {
        e.action for e in AuditEvent.select()
    }


def test_new_questions_and_choices_after_answers(coordinator, answered):
    assert (
        add(
            coordinator,
            "sample",
            key="extra",
            kind="single",
            prompt="Thêm?",
            choices="Có\nKhông",
            show_if="topics:roads",
        ).status_code
        == 302
    )
    assert question("sample", "extra").position > question("sample", "day").position
    response = coordinator.post(
        "/questionnaires/sample/questions/topics/choices",
        data={"label": "Môi trường", "key": "env"},
    )
    assert response.status_code == 302
    assert [c.key for c in question("sample", "topics").ordered_choices()][-1] == "env"


# --- Lifecycle ---


def status(client, slug, value):
    """Post a status change."""
    return client.post(f"/questionnaires/{slug}/status", data={"status": value})


def test_lifecycle_draft_open_closed_reopen(coordinator, app, db):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    coordinator.post("/questionnaires/new", data=SETTINGS)
    slug = "khao-sat-moi"
    response = status(coordinator, slug, "open")
    assert response.status_code == 422 and "at least one question" in message_of(response)
    assert status(coordinator, slug, "closed").status_code == 422
    add(coordinator, slug, key="q", kind="text", prompt="?")
    for value in ("open", "closed", "open", "closed", "draft", "open"):
        assert status(coordinator, slug, value).status_code == 302, value
        assert fresh(slug).status == value
    assert fresh(slug).is_accepting()
    assert status(coordinator, slug, "archived").status_code == 422
    assert AuditEvent.select().where(AuditEvent.action == "questionnaire.status").count() == 6


def test_never_back_to_draft_once_answered(coordinator, answered, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    response = status(coordinator, "sample", "draft")
    assert response.status_code == 422 and "cannot go back to draft" in message_of(response)
    assert status(coordinator, "sample", "closed").status_code == 302
    assert status(coordinator, "sample", "draft").status_code == 422
    assert fresh("sample").status == "closed"
    page = coordinator.get("/questionnaires/sample/edit").get_data(as_text=True)
    assert 'value="draft"' not in page.split('id="status-h"')[1].split("</section>")[0]


def test_edit_page_shows_times_and_whether_it_takes_answers(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    coordinator.post(
        "/questionnaires/sample/edit",
        data=settings_of(sample, opens_at="2099-01-01T08:00", closes_at="2099-02-01T08:00"),
    )
    page = coordinator.get("/questionnaires/sample/edit").get_data(as_text=True)
    assert "Not taking answers now." in page
    assert "1/1/99" in page or "2099" in page
    assert "Asia/Ho_Chi_Minh" in page


# --- Duplicate ---


def test_duplicate_copies_everything_into_a_new_draft(coordinator, answered, network):
    coordinator.post(
        "/questionnaires/sample/edit",
        data=settings_of(fresh("sample"), organisations=["MTTQ"], wards=["P2"], suppress_below="3"),
    )
    response = coordinator.post(
        "/questionnaires/sample/duplicate", data={"slug": "sample-2", "title": "Bản sao"}
    )
    assert response.status_code == 302
    assert response.location.endswith("/questionnaires/sample-2/edit")
    copy, source = fresh("sample-2"), fresh("sample")
    assert (copy.status, copy.title, response_count(copy)) == ("draft", "Bản sao", 0)
    exported = coordinator.get("/questionnaires/sample/export.json").get_json()
    copied = coordinator.get("/questionnaires/sample-2/export.json").get_json()
    exported.update(slug="sample-2", title="Bản sao", status="draft")
    assert copied == exported
    assert copied["targets"] == {"organisations": ["MTTQ"], "wards": ["P2"]}
    assert source.ordered_questions().count() == copy.ordered_questions().count() == 8
    assert AuditEvent.get(AuditEvent.action == "questionnaire.duplicate").target == "sample-2"


def test_duplicate_needs_a_new_slug(coordinator, sample, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    before = Questionnaire.select().count()
    response = coordinator.post(
        "/questionnaires/sample/duplicate", data={"slug": "sample", "title": "X"}
    )
    assert response.status_code == 422 and "already has this address" in message_of(response)
    assert Questionnaire.select().count() == before


# --- JSON import and export through the screens ---


def upload(client, data, name="q.json"):
    """Upload a questionnaire file through the import screen."""
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return client.post(
        "/questionnaires/import",
        data={"file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
    )


def test_every_field_round_trips_through_the_screens(coordinator, db):
    form = dict(
        SETTINGS,
        description="Dòng 1\nDòng 2",
        opens_at="2025-07-01T08:00",
        closes_at="2025-08-01T20:15",
        anonymous="y",
        per_collaborator="many",
        open_link="y",
        suppress_below="7",
        organisations=["MTTQ", "DOAN"],
        wards=["P2"],
    )
    assert coordinator.post("/questionnaires/new", data=form).status_code == 302
    slug = "khao-sat-moi"
    for fields in (
        {"key": "s1", "kind": "section", "prompt": "Phần 1", "help": "Giới thiệu"},
        {
            "key": "pick",
            "kind": "single",
            "prompt": "Chọn",
            "required": "y",
            "choices": "a = Một\nb = Hai",
        },
        {
            "key": "multi",
            "kind": "multi",
            "prompt": "Nhiều",
            "choices": "x = X\ny = Y",
            "show_if": "pick:b",
        },
        {"key": "sc", "kind": "scale", "prompt": "Thang", "minimum": "0", "maximum": "10"},
        {"key": "num", "kind": "number", "prompt": "Số", "minimum": "-2.5", "maximum": "99"},
        {"key": "t", "kind": "text", "prompt": "Chữ", "help": "Ngắn", "show_if": "multi:y"},
        {"key": "lt", "kind": "longtext", "prompt": "Dài"},
        {"key": "d", "kind": "date", "prompt": "Ngày", "required": "y"},
    ):
        assert add(coordinator, slug, **fields).status_code == 302, fields
    response = coordinator.get(f"/questionnaires/{slug}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    exported = response.get_json()
    assert exported["opens_at"] == "2025-07-01T08:00:00+07:00"
    assert exported["questions"][3]["min"] == 0 and exported["questions"][4]["min"] == -2.5
    assert exported["questions"][2]["show_if"] == {"question": "pick", "choice": "b"}
    # Import the file under a new slug through the upload screen, then export it again.
    exported["slug"] = "ban-nhap"
    response = upload(coordinator, exported)
    assert response.status_code == 302
    assert response.location.endswith("/questionnaires/ban-nhap/edit")
    again = coordinator.get("/questionnaires/ban-nhap/export.json").get_json()
    assert again == exported
    assert AuditEvent.get(AuditEvent.action == "questionnaire.import").target == "ban-nhap"


def test_exported_sample_imports_back_identically(coordinator, sample):
    exported = coordinator.get("/questionnaires/sample/export.json").get_json()
    assert coordinator.post("/questionnaires/sample/delete").status_code == 302
    assert upload(coordinator, exported).status_code == 302
    assert coordinator.get("/questionnaires/sample/export.json").get_json() == exported


@pytest.mark.parametrize(
    "raw, text",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (
            json.dumps(
                {
                    "slug": "Bad Slug",
                    "title": "",
                    "questions": [{"key": "a", "kind": "single", "prompt": "?"}],
                }
            ).encode(),
            "needs choices",
        ),
        (json.dumps(SAMPLE).encode(), "already exists"),
    ],
)
def test_import_lists_the_problems_and_stores_nothing(coordinator, sample, app, raw, text):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    before = Questionnaire.select().count()
    response = upload(coordinator, raw)
    assert response.status_code == 422
    assert text in response.get_data(as_text=True)
    assert Questionnaire.select().count() == before


def test_import_without_a_file_is_refused(coordinator, app, db):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    response = coordinator.post("/questionnaires/import", data={})
    assert response.status_code == 422 and "Choose a file" in message_of(response)


# --- Preview, dashboard, access, audit ---


def test_preview_shows_the_phone_form_sending_only_test_answers(coordinator, sample):
    page = coordinator.get("/questionnaires/sample/preview").get_data(as_text=True)
    for item in SAMPLE["questions"]:
        assert item["prompt"] in page
    assert 'name="agree"' in page and 'data-show-if-question="agree"' in page
    # Its editors send test answers (tests/test_responses.py), back to the preview itself.
    form = page.split('id="preview"')[1]
    assert 'action="/questionnaires/sample/preview"' in form and form.count('method="post"') == 1


def test_dashboard_links_to_create_import_edit_and_tallies(coordinator, sample):
    page = coordinator.get("/").get_data(as_text=True)
    for href in (
        "/questionnaires/new",
        "/questionnaires/import",
        "/questionnaires/sample/edit",
        "/questionnaires/sample/tallies",
        "/questionnaires/sample/preview",
    ):
        assert f'href="{href}"' in page, href


def test_viewer_reads_but_cannot_change(login, sample):
    client = login("viewer")
    assert client.get("/questionnaires/sample/preview").status_code == 200
    assert client.get("/questionnaires/sample/export.json").status_code == 200
    assert 'href="/questionnaires/new"' not in client.get("/").get_data(as_text=True)
    for url in (
        "/questionnaires/new",
        "/questionnaires/sample/edit",
        "/questionnaires/sample/duplicate",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post("/questionnaires/sample/questions/note/delete").status_code == 403
    assert Question.select().where(Question.key == "note").exists()


def test_anonymous_visitor_is_sent_to_login(client, sample):
    for url in (
        "/questionnaires/new",
        "/questionnaires/sample/edit",
        "/questionnaires/sample/export.json",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location


def test_organisation_coordinator_may_author(login, network):
    client = login("coordinator", network["organisations"][1])
    assert client.post("/questionnaires/new", data=SETTINGS).status_code == 302
    assert add(client, "khao-sat-moi", key="q", kind="text", prompt="?").status_code == 302


def test_unknown_or_malformed_names_are_404(coordinator, sample):
    for url in (
        "/questionnaires/nope/edit",
        "/questionnaires/sample/questions/nope",
        "/questionnaires/sample%00/edit",
        "/questionnaires/sample/questions/a%00b",
        "/questionnaires/sample/questions/agree/choices/nope/delete",
    ):
        method = coordinator.post if url.endswith("delete") else coordinator.get
        assert method(url).status_code == 404, url


def test_every_change_is_audited_with_its_author(coordinator, db):
    coordinator.post("/questionnaires/new", data=SETTINGS)
    add(coordinator, "khao-sat-moi", key="q", kind="single", prompt="?", choices="A\nB")
    coordinator.post("/questionnaires/khao-sat-moi/questions/q/choices", data={"label": "C"})
    coordinator.post("/questionnaires/khao-sat-moi/questions/q/choices/c/delete")
    coordinator.post("/questionnaires/khao-sat-moi/questions/q/move", data={"direction": "up"})
    status(coordinator, "khao-sat-moi", "open")
    events = list(
        AuditEvent.select().where(AuditEvent.action != "user.login").order_by(AuditEvent.id)
    )
    assert [e.action for e in events] == [
        "questionnaire.create",
        "question.create",
        "choice.create",
        "choice.delete",
        "question.move",
        "questionnaire.status",
    ]
    assert {e.user.username for e in events} == {"coordinator-all"}
    assert events[2].target == "khao-sat-moi/q/c"
    assert all(e.at is not None for e in events)
