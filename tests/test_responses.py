"""Test answers from the preview, voided responses and the response list (issue #20, item 9).

Every figure family is read before a response arrives, after it (it must change: the test
could fail), after it is voided and after a test answer (both: as before), and after it is
restored (as with it again).
"""

import copy
import io
import json
import re
import uuid

import docx
import openpyxl
import pytest
from werkzeug.datastructures import MultiDict

from survey.models import (
    Answer,
    AuditEvent,
    Organisation,
    Questionnaire,
    Receipt,
    Response,
    SetAsideAnswer,
    Ward,
    response_count,
)
from survey.questionnaires.file_format import import_questionnaire
from survey.responses import records
from tests.helpers import SAMPLE, store_answers
from tests.test_network import client_as

SLUG = "sample"
FORM = {"agree": "no", "why": "Ồn ào", "topics": ["roads", "parks"], "score": "2", "age": "41"}


def form_data(answers, **extra):
    """Return a form's fields as (name, value) pairs, a multi-choice key repeated."""
    pairs = [(k, v) for k, vs in answers.items() for v in (vs if isinstance(vs, list) else [vs])]
    return MultiDict(pairs + list(extra.items()))


def send(client, collaborator, answers=FORM):
    """Send a collaborator's phone form; return the HTTP response."""
    return client.post(
        f"/c/{collaborator.token}/{SLUG}",
        data=form_data(answers, client_uuid=str(uuid.uuid4())),
    )


def send_test(client, answers=FORM, ward="P1", organisation="MTTQ", client_uuid=None):
    """Send a test answer from the preview; return the HTTP response."""
    fields = {"client_uuid": client_uuid or str(uuid.uuid4()), "ward": ward}
    fields["organisation"] = organisation
    return client.post(f"/questionnaires/{SLUG}/preview", data=form_data(answers, **fields))


def latest():
    """Return the newest response."""
    return Response.select().order_by(Response.id.desc()).first()


def void(client, response, reason="Gửi nhầm"):
    """Void a response through its page; return the HTTP response."""
    return client.post(
        f"/questionnaires/{SLUG}/responses/{response.id}/void", data={"reason": reason}
    )


def restore(client, response):
    """Restore a response through its page; return the HTTP response."""
    return client.post(f"/questionnaires/{SLUG}/responses/{response.id}/restore")


def answer_rows(model, response_id):
    """Return a response's answer rows in one table as comparable tuples."""
    if model is Answer:
        fields = [Answer.question, Answer.choice, Answer.text, Answer.number, Answer.first_row]
        where = Answer.response == response_id
    else:
        fields = [
            SetAsideAnswer.question_id,
            SetAsideAnswer.choice_id,
            SetAsideAnswer.text,
            SetAsideAnswer.number,
            SetAsideAnswer.first_row,
        ]
        where = SetAsideAnswer.response == response_id
    return sorted(model.select(*fields).where(where).tuples(), key=repr)


@pytest.fixture
def admin(login, sample):
    """Return a client logged in as an admin, the sample questionnaire imported."""
    return login("admin")


def receipt_count(collaborator):
    """Return the collaborator's receipt count for the sample (0 without a receipt)."""
    receipt = Receipt.get_or_none(
        (Receipt.collaborator == collaborator.id)
        & (Receipt.questionnaire == Questionnaire.get(slug=SLUG).id)
    )
    return receipt.count if receipt else 0


# ---------------------------------------------------------------- void and restore


def test_void_moves_answers_and_receipt_and_restore_puts_them_back(admin, network):
    person = network["collaborators"][("P1", "MTTQ")]
    assert send(admin, person).status_code == 303
    response = latest()
    before = answer_rows(Answer, response.id)
    assert len(before) == 6 and receipt_count(person) == 1

    assert void(admin, response).status_code == 302
    voided = Response.get_by_id(response.id)
    assert (voided.state, voided.void_reason) == (Response.VOIDED, "Gửi nhầm")
    assert answer_rows(Answer, response.id) == []
    assert answer_rows(SetAsideAnswer, response.id) == before
    assert receipt_count(person) == 0
    event = AuditEvent.get(AuditEvent.action == "response.void")
    assert event.target == f"{SLUG}/{response.id}"
    assert json.loads(event.detail) == {"reason": "Gửi nhầm"}

    assert restore(admin, response).status_code == 302
    restored = Response.get_by_id(response.id)
    assert (restored.state, restored.void_reason) == (Response.COUNTED, None)
    assert answer_rows(Answer, response.id) == before
    assert answer_rows(SetAsideAnswer, response.id) == []
    assert receipt_count(person) == 1
    event = AuditEvent.get(AuditEvent.action == "response.restore")
    assert json.loads(event.detail) == {"reason": "Gửi nhầm"}


def test_a_voided_collaborator_may_answer_again_and_then_restore_is_refused(admin, network, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    person = network["collaborators"][("P1", "MTTQ")]
    send(admin, person)
    first = latest()
    assert send(admin, person).status_code == 409  # one response each
    void(admin, first)
    assert admin.get(f"/c/{person.token}/{SLUG}").status_code == 200  # the form again
    assert send(admin, person).status_code == 303
    refused = restore(admin, first)
    assert refused.status_code == 409
    assert "has answered again" in refused.get_data(as_text=True)
    assert Response.get_by_id(first.id).state == Response.VOIDED
    assert answer_rows(Answer, first.id) == [] and receipt_count(person) == 1
    assert not AuditEvent.select().where(AuditEvent.action == "response.restore").exists()


def test_many_responses_each_take_one_off_the_receipt(admin, network):
    Questionnaire.update(per_collaborator="many").where(Questionnaire.slug == SLUG).execute()
    person = network["collaborators"][("P2", "DOAN")]
    send(admin, person)
    first = latest()
    send(admin, person)
    second = latest()
    assert receipt_count(person) == 2
    void(admin, first)
    assert receipt_count(person) == 1
    void(admin, second)
    assert receipt_count(person) == 0
    restore(admin, first)
    assert receipt_count(person) == 1
    restore(admin, second)
    assert receipt_count(person) == 2


def test_an_open_link_response_is_voided_and_restored_without_a_receipt(admin, network):
    person = network["collaborators"][("P1", "MTTQ")]
    send(admin, person)
    store_answers(
        Questionnaire.get(slug=SLUG),
        Ward.get(code="P2"),
        Organisation.get(code="DOAN"),
        {"agree": "yes"},
    )
    anonymous_link = latest()
    assert anonymous_link.collaborator_id is None
    assert void(admin, anonymous_link).status_code == 302
    assert answer_rows(Answer, anonymous_link.id) == [] and receipt_count(person) == 1
    assert restore(admin, anonymous_link).status_code == 302
    assert len(answer_rows(Answer, anonymous_link.id)) == 1 and receipt_count(person) == 1


def test_void_needs_a_reason_and_a_counted_response(admin, network, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    send(admin, network["collaborators"][("P1", "MTTQ")])
    response = latest()
    for reason, message in (
        ("", "Say why"),
        ("   ", "Say why"),
        ("x" * 501, "under 500"),
        ("bad\x07", "not allowed"),
    ):
        refused = void(admin, response, reason)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert Response.get_by_id(response.id).state == Response.COUNTED
    void(admin, response)
    again = void(admin, response, "lần hai")
    assert again.status_code == 422 and "voided already" in again.get_data(as_text=True)
    assert Response.get_by_id(response.id).void_reason == "Gửi nhầm"
    assert restore(admin, response).status_code == 302
    assert restore(admin, response).status_code == 409  # nothing left to restore
    assert AuditEvent.select().where(AuditEvent.action == "response.void").count() == 1


def test_anonymous_questionnaires_have_no_list_and_nothing_voided(login, network, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    data = dict(copy.deepcopy(SAMPLE), anonymous=True, suppress_below=5)
    questionnaire = import_questionnaire(data)
    store_answers(questionnaire, network["wards"][0], network["organisations"][0], {"agree": "yes"})
    response = latest()
    admin = login("admin")
    page = admin.get(f"/questionnaires/{SLUG}/responses")
    assert page.status_code == 404 and "anonymous" in page.get_data(as_text=True)
    assert admin.get(f"/questionnaires/{SLUG}/responses/{response.id}").status_code == 404
    assert void(admin, response).status_code == 404
    response.questionnaire = questionnaire
    with pytest.raises(records.Refused, match="anonymous"):
        records.void(None, response, "reason")
    assert Response.get_by_id(response.id).state == Response.COUNTED


def test_viewers_read_and_scoped_coordinators_see_their_own(login, sample, network, app):
    people = network["collaborators"]
    sent = (("P1", "MTTQ"), ("P2", "DOAN"))
    for key in sent:
        send(app.test_client(), people[key])
    mttq, doan = (Response.get(Response.collaborator == people[k].id) for k in sent)
    viewer = login("viewer")
    assert viewer.get(f"/questionnaires/{SLUG}/responses").status_code == 200
    assert viewer.get(f"/questionnaires/{SLUG}/responses/{mttq.id}").status_code == 200
    assert void(viewer, mttq).status_code == 403
    assert restore(viewer, mttq).status_code == 403
    assert Response.get_by_id(mttq.id).state == Response.COUNTED

    scoped = client_as(app, "coordinator", Organisation.get(code="DOAN"))
    page = scoped.get(f"/questionnaires/{SLUG}/responses").get_data(as_text=True)
    assert people[("P2", "DOAN")].name in page and people[("P1", "MTTQ")].name not in page
    assert scoped.get(f"/questionnaires/{SLUG}/responses/{mttq.id}").status_code == 404
    assert void(scoped, mttq).status_code == 404
    assert Response.get_by_id(mttq.id).state == Response.COUNTED
    assert void(scoped, doan).status_code == 302
    assert Response.get_by_id(doan.id).state == Response.VOIDED


def test_suppressed_questionnaires_list_rows_for_admins_only(app, sample, network):
    Questionnaire.update(suppress_below=3).where(Questionnaire.slug == SLUG).execute()
    assert client_as(app, "coordinator").get(f"/questionnaires/{SLUG}/responses").status_code == 403
    assert client_as(app, "admin").get(f"/questionnaires/{SLUG}/responses").status_code == 200


def test_the_list_reads_as_words_newest_first_with_voided_apart(admin, network, app):
    people = network["collaborators"]
    send(admin, people[("P1", "MTTQ")])
    store_answers(
        Questionnaire.get(slug=SLUG),
        Ward.get(code="P2"),
        Organisation.get(code="DOAN"),
        {"agree": "yes", "topics": ["safety"]},
    )
    send(admin, people[("P2", "MTTQ")], {"agree": "yes", "score": "5"})
    newest = latest()
    void(admin, newest, "Trùng phiếu")
    page = admin.get(f"/questionnaires/{SLUG}/responses").get_data(as_text=True)
    assert "Liên kết chung hoặc áp phích" in page and people[("P1", "MTTQ")].name in page
    assert "Đồng ý" in page and "Đường sá; Công viên" in page and "An ninh" in page
    assert page.index("An ninh") < page.index("Đường sá")  # newest first
    assert people[("P2", "MTTQ")].name not in page and "Trùng phiếu" not in page
    assert "Đã hủy (1)" in page and "Được tính (2)" in page
    voided = admin.get(f"/questionnaires/{SLUG}/responses?show=voided").get_data(as_text=True)
    assert people[("P2", "MTTQ")].name in voided and "Trùng phiếu" in voided
    assert "Đường sá" not in voided
    filtered = admin.get(f"/questionnaires/{SLUG}/responses?ward=P2").get_data(as_text=True)
    assert "An ninh" in filtered and "Đường sá" not in filtered
    for bad in ("show=all", "page=0", "ward=XX", "from=2025-13-01"):
        assert admin.get(f"/questionnaires/{SLUG}/responses?{bad}").status_code == 400, bad
    detail = admin.get(f"/questionnaires/{SLUG}/responses/{newest.id}").get_data(as_text=True)
    assert "Trùng phiếu" in detail and "/restore" in detail and "/void" not in detail
    assert admin.get(f"/questionnaires/{SLUG}/responses/99999").status_code == 404


# ---------------------------------------------------------------- test answers


def test_preview_sends_test_answers_kept_apart_and_cleared_in_one_click(admin, network, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    sent = send_test(admin)
    assert sent.status_code == 303 and sent.location.endswith(
        f"/questionnaires/{SLUG}/test-answers"
    )
    test = latest()
    assert test.state == Response.TEST and test.collaborator_id is None
    assert Answer.select().count() == 0 and len(answer_rows(SetAsideAnswer, test.id)) == 6
    assert Receipt.select().count() == 0 and response_count(test.questionnaire) == 0
    assert AuditEvent.get(AuditEvent.action == "response.test").target == f"{SLUG}/{test.id}"
    uuid_again = test.client_uuid
    assert send_test(admin, client_uuid=uuid_again).status_code == 303  # sent twice: once
    assert Response.select().count() == 1

    refused = send_test(admin, {"agree": "no"}, ward="XX")
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "Please answer this question" in text and "Choose your ward" in text
    assert Response.select().count() == 1

    edit = admin.get(f"/questionnaires/{SLUG}/edit").get_data(as_text=True)
    assert "1 test answer" in edit and f"/questionnaires/{SLUG}/test-answers/clear" in edit
    listing = admin.get(f"/questionnaires/{SLUG}/test-answers").get_data(as_text=True)
    assert "Ồn ào" in listing and "Phường 1" in listing
    cleared = admin.post(f"/questionnaires/{SLUG}/test-answers/clear", data={"next": "edit"})
    assert cleared.status_code == 302 and cleared.location.endswith("/edit")
    assert Response.select().count() == 0 and SetAsideAnswer.select().count() == 0
    event = AuditEvent.get(AuditEvent.action == "response.test_clear")
    assert json.loads(event.detail) == {"count": 1}
    edit = admin.get(f"/questionnaires/{SLUG}/edit").get_data(as_text=True)
    assert "1 test answer deleted" in edit and "test-answers/clear" not in edit


def test_test_answers_leave_a_draft_editable_and_deletable(admin, network):
    Questionnaire.update(status="draft").where(Questionnaire.slug == SLUG).execute()
    assert send_test(admin).status_code == 303
    assert not Questionnaire.get(slug=SLUG).has_responses()
    assert admin.post(f"/questionnaires/{SLUG}/questions/note/delete").status_code == 302
    listing = admin.get(f"/questionnaires/{SLUG}/test-answers")
    assert listing.status_code == 200 and "Ồn ào" in listing.get_data(as_text=True)
    assert admin.post(f"/questionnaires/{SLUG}/delete").status_code == 302
    assert Response.select().count() == 0 and Questionnaire.select().count() == 0


def test_only_editors_send_or_clear_test_answers(app, sample, network):
    viewer = client_as(app, "viewer")
    page = viewer.get(f"/questionnaires/{SLUG}/preview").get_data(as_text=True)
    assert 'method="post"' not in page.split('id="preview"')[1]
    assert send_test(viewer).status_code == 403
    other = client_as(app, "coordinator", Organisation.get(code="DOAN"))  # the district's sample
    assert send_test(other).status_code == 403
    assert Response.select().count() == 0
    send_test(client_as(app, "admin"))
    assert other.post(f"/questionnaires/{SLUG}/test-answers/clear").status_code == 403
    assert viewer.post(f"/questionnaires/{SLUG}/test-answers/clear").status_code == 403
    assert Response.select().count() == 1


# ---------------------------------------------------------------- every figure family

CONCERNED = dict(copy.deepcopy(SAMPLE))
CONCERNED["questions"][1]["concern"] = {"choices": ["no"]}


def _json(client, url):
    """Return a GET's JSON body, checking it answered 200."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.data[:300])
    return response.get_json()


def _body(client, url):
    """Return a GET's body, checking it answered 200; form tokens (timed) and notes left out."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.data[:300])
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b"", response.data)
    return re.sub(rb'<p class="flash [^"]*" role="status">[^<]*</p>', b"", body)


def _xlsx(client, url):
    """Return every sheet's cell values of a downloaded workbook."""
    book = openpyxl.load_workbook(io.BytesIO(_body(client, url)), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def _docx(client, url):
    """Return the paragraphs and table cells of a downloaded Word file."""
    document = docx.Document(io.BytesIO(_body(client, url)))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return [p.text for p in document.paragraphs] + cells


def _dashboard(client):
    """Return the dashboard's response count of the questionnaire and response_count."""
    page = _body(client, "/").decode()
    row = page[page.index(f"/questionnaires/{SLUG}/") :]
    return re.search(r'class="num">(\d+)<', row).group(1), response_count(
        Questionnaire.get(slug=SLUG)
    )


API = f"/api/v1/questionnaires/{SLUG}"
PAGES = f"/questionnaires/{SLUG}"
FAMILIES = {
    "tallies (API)": lambda c: _json(c, f"{API}/tallies"),
    "tallies (page)": lambda c: _body(c, f"{PAGES}/tallies/live"),
    "breakdowns": lambda c: [_json(c, f"{API}/tallies?by={by}") for by in ("ward", "organisation")],
    "cross-tab": lambda c: (
        _json(c, f"{API}/tallies?by=score"),
        _body(c, f"{PAGES}/tallies?by=score"),
    ),
    "timeline": lambda c: _json(c, f"{API}/timeline"),
    "hotspots": lambda c: _json(c, f"{API}/hotspots"),
    "rates": lambda c: [
        _json(c, f"{API}/response-rates?by={by}") for by in ("ward", "organisation")
    ],
    "reminders": lambda c: (
        _body(c, f"/network/reminders/{SLUG}.csv"),
        _body(c, f"/network/reminders/{SLUG}"),
    ),
    "export CSV": lambda c: (
        _body(c, f"{PAGES}/export.csv"),
        _body(c, f"{PAGES}/export.csv?codes=1"),
    ),
    "export XLSX": lambda c: _xlsx(c, f"{PAGES}/export.xlsx"),
    "tallies XLSX": lambda c: _xlsx(c, f"{PAGES}/tallies.xlsx"),
    "report.docx": lambda c: _docx(c, f"{PAGES}/report.docx"),
    "dashboard": _dashboard,
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_voided_and_test_responses_count_in_no_figure(family, login, network, app):
    """A response changes the family's figures; voided, or sent as a test, it changes none."""
    questionnaire = import_questionnaire(CONCERNED)
    wards = {w.code: w for w in network["wards"]}
    orgs = {o.code: o for o in network["organisations"]}
    # P1 × MTTQ answers "no" (the concern) where everyone else answers "yes": a hotspot.
    for ward, org, agree, n in (
        ("P1", "MTTQ", "no", 5),
        ("P1", "DOAN", "yes", 5),
        ("P2", "MTTQ", "yes", 5),
        ("P2", "DOAN", "yes", 6),
    ):
        for i in range(n):
            answers = {
                "agree": agree,
                "why": f"lý do {i}",
                "score": str(1 + i % 5),
                "note": f"ghi chú {ward}{org}{i}",
            }
            if agree == "yes":
                del answers["why"]
            store_answers(questionnaire, wards[ward], orgs[org], answers)
    client = login("admin")
    figures = FAMILIES[family]
    before = figures(client)
    if family == "hotspots":
        assert before, "the data was made to have a hotspot"

    person = network["collaborators"][("P1", "MTTQ")]
    assert send(client, person, dict(FORM, note="một phiếu nữa")).status_code == 303
    response = latest()
    with_it = figures(client)
    assert with_it != before, "the figure must see a counted response"

    assert void(client, response).status_code == 302
    assert figures(client) == before
    assert (
        send_test(client, dict(FORM, note="thử"), ward="P1", organisation="MTTQ").status_code == 303
    )
    assert figures(client) == before
    assert client.post(f"{PAGES}/test-answers/clear").status_code == 302
    assert figures(client) == before  # deleting a test response takes nothing off either

    assert restore(client, response).status_code == 302
    assert figures(client) == with_it
