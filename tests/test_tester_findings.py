"""What an outside tester found driving the build as coordinators and collaborators would:
“Khác (ghi rõ)” texts on every response screen and in the report, codes exports that split
cleanly, an audit log in words, logins with stray spaces, one number format, smaller slips.
"""

import copy
import csv
import io
import json
import re
import uuid

import docx
import openpyxl
import pytest
from peewee import fn

from survey.auth import audit
from survey.cli import fake
from survey.models import (
    AuditEvent,
    Choice,
    Organisation,
    Question,
    Questionnaire,
    Receipt,
    Response,
    User,
)
from survey.numbers import format_share
from survey.questionnaires import authoring
from survey.questionnaires.file_format import FileError, import_questionnaire
from survey.tallies.waves import format_change
from tests.helpers import make_user, store_answers
from tests.test_builder_options import OPTIONS
from tests.test_report_docx import _text

OTHER = "<b>Cần</b> thêm; cây xanh"  # markup to escape, a ";" to keep apart from separators


@pytest.fixture
def options(network):
    """Import the questionnaire with an “other” choice on a single and a multiple choice."""
    return import_questionnaire(copy.deepcopy(OPTIONS))


def send(client, data, url="/s/options"):
    """Post the options form for P1 × MTTQ (the open link, or the preview's test answer)."""
    fields = {"client_uuid": str(uuid.uuid4()), "ward": "P1", "organisation": "MTTQ"}
    return client.post(url, data=dict(fields, **data))


OTHER_FORM = {
    "source": "khac",
    "source.khac": OTHER,
    "topics": ["a", "other"],
    "topics.other": "Chợ",
}


def test_response_screens_show_the_text_beside_other(client, options, login):
    """List, single response and test answers: “Khác (ghi rõ): <text>”, escaped."""
    assert send(client, OTHER_FORM).status_code in (200, 302, 303)
    admin = login("admin")
    escaped = "Khác (ghi rõ): &lt;b&gt;Cần&lt;/b&gt; thêm; cây xanh"
    listing = admin.get("/questionnaires/options/responses").get_data(as_text=True)
    assert escaped in listing and "<b>Cần</b>" not in listing
    assert "Khác: Chợ" in listing
    response = Response.select().order_by(Response.id.desc()).first()
    page = admin.get(f"/questionnaires/options/responses/{response.id}").get_data(as_text=True)
    assert escaped in page
    sent = send(
        admin, dict(OTHER_FORM, **{"source.khac": "Thử nghiệm"}), "/questionnaires/options/preview"
    )
    assert sent.status_code == 303
    tests = admin.get("/questionnaires/options/test-answers").get_data(as_text=True)
    assert "Khác (ghi rõ): Thử nghiệm" in tests


def report_text(client, query="texts=2"):
    """Return the Word report's text."""
    response = client.get(f"/questionnaires/options/report.docx?{query}")
    assert response.status_code == 200
    return _text(docx.Document(io.BytesIO(response.data)))


def test_report_quotes_other_texts_as_written_answers(client, options, login):
    """A chosen number per question; none with texts=0; none from a withheld group."""
    for i in range(3):
        send(client, {"source": "khac", "source.khac": f"Nguồn số {i}", "topics": ["a", "b"]})
    admin = login("admin")
    text = report_text(admin)
    assert sum(f"Khác (ghi rõ): Nguồn số {i}" in text for i in range(3)) == 2
    assert "Nguồn số" not in report_text(admin, "texts=0")
    Questionnaire.update(suppress_below=5).where(Questionnaire.id == options.id).execute()
    assert "Nguồn số" not in report_text(admin)


def read_csv(response):
    """Return a CSV download's rows as dicts by header."""
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    return [dict(zip(rows[0], row)) for row in rows[1:]], rows[0]


def test_codes_export_keeps_other_texts_in_columns_of_their_own(client, options, login):
    """Codes cells hold codes only; the texts in <key>_other_text, CSV and XLSX; in the codebook."""
    send(
        client,
        {
            "source": "khac",
            "source.khac": OTHER,
            "topics": ["other", "a"],
            "topics.other": "Chợ; đêm",
        },
    )
    send(client, {"source": "tv", "topics": ["a", "b"]})
    viewer = login("viewer")
    rows, header = read_csv(viewer.get("/questionnaires/options/export.csv?codes=1"))
    assert header[-2:] == ["source_other_text", "topics_other_text"]
    first, second = rows
    assert first["source"] == "khac" and sorted(first["topics"].split(";")) == ["a", "other"]
    assert first["source_other_text"] == OTHER and first["topics_other_text"] == "Chợ; đêm"
    assert second["source_other_text"] == "" and second["topics"] == "a;b"
    book = openpyxl.load_workbook(
        io.BytesIO(viewer.get("/questionnaires/options/export.xlsx?codes=1").data)
    )
    sheet = list(book.worksheets[0].iter_rows(values_only=True))
    cells = dict(zip(sheet[0], sheet[1]))
    assert cells["source"] == "khac" and cells["source_other_text"] == OTHER
    assert sorted(cells["topics"].split(";")) == ["a", "other"]
    codebook = viewer.get("/questionnaires/options/codebook.csv").get_data().decode("utf-8-sig")
    assert "source_other_text" in codebook and "topics_other_text" in codebook


def test_labelled_export_puts_other_last_so_its_semicolon_is_text(client, options, login):
    """Words: “Khác: <text>” comes after every other label, so splitting stops there."""
    send(client, {"source": "tv", "topics": ["other", "a", "b"], "topics.other": "Chợ; đêm"})
    rows, header = read_csv(login("viewer").get("/questionnaires/options/export.csv"))
    assert "topics_other_text" not in header
    assert rows[0]["Chủ đề quan tâm"] == "Đường sá; Công viên; Khác: Chợ; đêm"


def test_login_and_new_accounts_drop_spaces_around_the_username(client, db, login, runner):
    """“doan_q10 ” logs in as doan_q10; a password keeps its spaces; names are stored stripped."""
    make_user("doan_q10", "coordinator", password=" pass with spaces ")
    sent = client.post("/login", data={"username": " doan_q10 ", "password": "pass with spaces"})
    assert sent.status_code == 401  # the password's own spaces are part of it
    sent = client.post("/login", data={"username": " doan_q10 ", "password": " pass with spaces "})
    assert sent.status_code == 302
    client.post("/logout")
    admin = login("admin")
    made = admin.post(
        "/admin/users/new",
        data={
            "username": "  lan.nguyen ",
            "role": "viewer",
            "organisation": "",
            "active": "y",
            "password": "river-lamp-41",
        },
    )
    assert made.status_code == 302 and User.get_or_none(User.username == "lan.nguyen")
    result = runner.invoke(
        args=["create-user", " hoa ", "--role", "coordinator"],
        input="river-lamp-41\nriver-lamp-41\n",
    )
    assert result.exit_code == 0, result.output
    assert "Đã tạo tài khoản điều phối viên “hoa”." in result.output
    assert User.get_or_none(User.username == "hoa")


def test_username_rule_says_which_letters(client, login, runner):
    """“ĐOÀN_q10” is refused with a message naming unaccented letters, in both languages."""
    admin = login("admin")
    data = {
        "username": "ĐOÀN_q10",
        "role": "viewer",
        "organisation": "",
        "password": "river-lamp-41",
    }
    refused = admin.post("/admin/users/new", data=data)
    assert refused.status_code == 422
    assert (
        "chữ cái không dấu (a–z, A–Z), chữ số, dấu chấm, gạch dưới hoặc gạch ngang" in refused.text
    )
    refused = admin.post("/admin/users/new?lang=en", data=data)
    assert "unaccented letters (a–z, A–Z), digits, dot, underscore or dash" in refused.text
    result = runner.invoke(args=["create-user", "ĐOÀN_q10", "--role", "viewer"], input="x\nx\n")
    assert result.exit_code == 1 and "chữ cái không dấu" in result.stderr
    assert not User.select().where(User.username == "ĐOÀN_q10").exists()


def detail_keys(value):
    """Return every name a JSON detail (or "name=value" pairs) holds, nested ones too."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in detail_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in detail_keys(v)}
    return set()


def test_audit_log_reads_in_words_in_both_languages(app, tally_sample, network, login, runner):
    """Every detail name the exercised actions write has a label; roles, choices, numbers and
    downloads in words; the owner and the targets of a questionnaire told apart."""
    admin = login("admin", username="root")
    root = User.get(User.username == "root")
    doan = Organisation.get(Organisation.code == "DOAN")
    made = authoring.create(root, {"title": "Đợt mới", "slug": "dot-moi"}, ["MTTQ"], ["P1"], doan)
    authoring.duplicate(root, tally_sample, "sample-2", "Đợt 2", repeat=True)
    age = Question.get(Question.key == "age", Question.questionnaire == tally_sample.id)
    values = {"key": "age", "kind": "number", "prompt": "Tuổi", "minimum": 0.0, "maximum": 99.5}
    authoring.update_question(root, age, values)
    agree = Question.get(Question.key == "agree", Question.questionnaire == tally_sample.id)
    authoring.set_concern(root, agree, {"choices": ["no"]})
    authoring.set_concern(root, age, {"at_least": 1000})
    person = network["collaborators"][("P1", "MTTQ")]
    assert (
        admin.post(f"/network/collaborators/{person.id}/rotate", data={"confirm": "1"}).status_code
        < 400
    )
    made = runner.invoke(
        args=["create-user", "lan", "--role", "coordinator"], input="river-lamp-41\n" * 2
    )
    assert made.exit_code == 0, made.output
    form = {"username": "binh", "role": "viewer", "organisation": "", "password": "river-lamp-41"}
    assert admin.post("/admin/users/new", data=form).status_code == 302
    for url in (
        "/questionnaires/sample/export.csv?codes=1&ward=P1",
        "/questionnaires/sample/export.xlsx",
        "/questionnaires/sample/tallies.xlsx",
        "/questionnaires/sample/report.docx",
    ):
        got = admin.get(url)
        assert got.status_code == 200 and got.get_data(), url  # audited once read whole
    keys = set()
    for event in AuditEvent.select():
        try:
            keys |= detail_keys(json.loads(event.detail or ""))
        except ValueError:
            keys |= {k for k, _v in audit.PAIRS.findall(event.detail or "")}
    assert {"repeat_of", "concern", "at_least", "file", "codes", "filters", "grace_days"} <= keys
    assert keys <= set(audit.FIELDS), keys - set(audit.FIELDS)
    vi = admin.get("/admin/audit").get_data(as_text=True)
    en = admin.get("/admin/audit?lang=en").get_data(as_text=True)
    raw = {k for k in keys} | {k.replace("_", " ") for k in keys}
    for lang in ("vi", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            entries = audit.entries(AuditEvent.select())
        for entry in entries:
            assert not {label for label, _value in entry.details} & raw, entry.details
            assert not re.search(r"\((admin|coordinator|viewer)\)", entry.sentence), entry
    assert "99.5" not in vi and "10.0" not in vi and "99.5" in en
    assert "Là đợt sau của" in vi and "Next wave of" in en
    assert "1.000" in vi and "1,000" in en  # at least 1000, written the language's way
    assert "99,5" in vi
    assert "Không đồng ý" in vi  # the concern's choice by its label, not its key
    assert "Vai trò: Điều phối viên" in vi and "Vai trò: Người xem" in vi
    legacy = AuditEvent.record(None, "user.create", "doan_q10 (coordinator)")  # as once kept
    with app.test_request_context("/?lang=vi"):
        assert "“doan_q10 (điều phối viên)”" in audit.entries([legacy])[0].sentence
    assert "Tổ chức sở hữu" in vi and "Gửi đến các tổ chức" in vi
    for file in ("câu trả lời dạng CSV", "câu trả lời dạng XLSX", "Báo cáo Word", "bảng tổng hợp"):
        assert file in vi, file
    assert "Bản dạng mã" in vi and "Bộ lọc" in vi


def test_changes_are_written_with_one_decimal_and_a_sign(app):
    """“−12,0” beside “+5,9”, zero as “0,0”; a count's change stays whole."""
    with app.test_request_context("/?lang=vi"):
        assert [format_change(v) for v in (-12, 5.94, 0, 0.04, 60)] == [
            "\u221212,0",
            "+5,9",
            "0,0",
            "0,0",
            "+60,0",
        ]
        assert format_change(-1.1666, 2) == "\u22121,17" and format_change(0, 0) == "0"
        assert format_share(3) == "3,0 %" and format_share(46.08) == "46,1 %"
    with app.test_request_context("/?lang=en"):
        assert format_change(-12) == "\u221212.0" and format_share(3, 0) == "3 %"


def test_rates_header_and_dashboard_write_shares_filters_and_owners_alike(
    app, tally_sample, network, login
):
    """Rates as “0,0 %” like the tallies; no “;” after the last filter; the owner by name."""
    person = network["collaborators"][("P1", "MTTQ")]
    store_answers(tally_sample, person.ward, person.organisation, {"agree": "yes"}, None, person)
    doan = Organisation.get(Organisation.code == "DOAN")
    coordinator = login("coordinator", doan)
    authoring.create(
        User.get(User.username == "coordinator-DOAN"), {"title": "Của Đoàn"}, owner=doan
    )
    rates = coordinator.get("/network/rates/sample").get_data(as_text=True)
    assert "0,0 %" in rates and "100,0 %" not in rates and not re.search(r"\d%", rates)
    page = coordinator.get("/questionnaires/sample/tallies?ward=P1").get_data(as_text=True)
    said = re.search(r'<p class="filters-said">(.*?)</p>', page, re.DOTALL).group(1)
    assert " ".join(said.split()) == "Chỉ tính: phường Phường 1; tổ chức của bạn Đoàn Thanh niên"
    dashboard = coordinator.get("/").get_data(as_text=True)
    assert "<td>Đoàn Thanh niên</td>" in dashboard and "<td>DOAN</td>" not in dashboard


def test_a_second_other_choice_is_refused_in_the_builder_and_the_file(options, login):
    """At most one “other” choice a question, said clearly; nothing changes."""
    client = login("coordinator")
    add = client.post(
        "/questionnaires/options/questions/source/choices",
        data={"key": "khac2", "label": "Nguồn khác", "other": "y"},
    )
    assert add.status_code == 422 and "chỉ có tối đa một lựa chọn “Khác (ghi rõ)”" in add.text
    make = client.post(
        "/questionnaires/options/questions/source/choices/tv",
        data={"key": "tv", "label": "Truyền hình", "other": "y"},
    )
    assert make.status_code == 422 and "tối đa một lựa chọn" in make.text
    assert Choice.select().where(Choice.other).count() == 2  # khac and topics' other only
    data = copy.deepcopy(OPTIONS)
    data["slug"] = "options-2"
    data["questions"][0]["choices"][0]["other"] = True
    with pytest.raises(FileError) as error:
        import_questionnaire(data)
    (problem,) = error.value.problems
    assert problem.startswith("questions[0].choices[1].other:") and "one “other" in problem
    assert not Questionnaire.select().where(Questionnaire.slug == "options-2").exists()


def test_a_preview_test_answer_is_labelled_as_one(options, login):
    """Not “Liên kết chung hoặc áp phích” (there may be no open link): a test answer."""
    Questionnaire.update(open_link=False).where(Questionnaire.id == options.id).execute()
    admin = login("admin")
    form = {"source": "tv", "topics": ["a", "b"]}
    assert send(admin, form, "/questionnaires/options/preview").status_code == 303
    tests = admin.get("/questionnaires/options/test-answers").get_data(as_text=True)
    assert "Câu trả lời thử (từ bản xem trước)" in tests
    assert "Liên kết chung hoặc áp phích" not in tests


def test_fake_responses_without_an_open_link_come_from_collaborators(app, sample, runner):
    """One response each where one is allowed (too many asked: said, nothing stored); spread
    over all of them where many are; the open-link path only with an open link."""
    Questionnaire.update(open_link=False).where(Questionnaire.id == sample.id).execute()
    sample = Questionnaire.get_by_id(sample.id)
    assert fake.generate(sample, 3, seed=1) == 3
    linked = Response.select().where(Response.collaborator.is_null(False)).count()
    assert linked == 3 == Response.select().count() == Receipt.select().count()
    result = runner.invoke(args=["fake-responses", "sample", "2"])
    assert result.exit_code == 1 and "chỉ 1 người" in result.stderr, result.stderr
    assert Response.select().count() == 3
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    result = runner.invoke(args=["fake-responses", "sample", "9", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert Response.select().where(Response.collaborator.is_null()).count() == 0
    assert Receipt.select(fn.SUM(Receipt.count)).scalar() == 12
    assert Receipt.select().count() == 4  # every collaborator answered
