"""Exports read back: CSV (BOM, columns, local times, no formulas) and XLSX, scoped and audited."""

import csv
import io

import openpyxl

from survey.cells import neutralise
from survey.models import AuditEvent, Collaborator, Organisation, Questionnaire, Ward
from survey.tallies import exports
from tests.helpers import store_answers

HEADER = [
    "response",
    "submitted_at",
    "ward",
    "organisation",
    "collaborator",
    "agree",
    "why",
    "topics",
    "score",
    "age",
    "note",
    "day",
]


def read_csv(response):
    """Return the rows of a CSV download, checking its BOM."""
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_rows_columns_and_values(app, tally_sample, login):
    """Codes variant: one row per response, keys, local times, multi joined with ';'."""
    response = login("viewer").get("/questionnaires/sample/export.csv?codes=1")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == HEADER and len(rows) == 7
    first = dict(zip(HEADER, rows[1]))
    assert first["submitted_at"] == "2025-07-01 10:00:00"  # local time, stored as 03:00 UTC
    assert (first["ward"], first["organisation"], first["agree"]) == ("P1", "MTTQ", "yes")
    assert first["topics"] == "roads;parks" and first["score"] == "5" and first["age"] == "30"
    assert first["note"] == "Tốt lắm, cảm ơn" and first["day"] == "2025-07-01"
    third = dict(zip(HEADER, rows[3]))
    assert third["note"] == '\'=HYPERLINK("http://x")'
    fourth = dict(zip(HEADER, rows[4]))
    assert fourth["topics"] == "" and fourth["why"] == ""
    assert (
        AuditEvent.select()
        .where((AuditEvent.action == "responses.export") & (AuditEvent.target == "sample"))
        .count()
        == 1
    )


def test_csv_is_the_same_whatever_the_chunk_size(app, tally_sample, login, monkeypatch):
    """Reading responses in chunks of 2 gives the same file as reading them at once."""
    client = login("viewer")
    for url in ("export.csv", "export.csv?codes=1"):
        monkeypatch.setattr(exports, "CHUNK", 1000)
        whole = client.get(f"/questionnaires/sample/{url}").get_data()
        monkeypatch.setattr(exports, "CHUNK", 2)
        assert client.get(f"/questionnaires/sample/{url}").get_data() == whole


def test_filters_and_scope_apply_to_exports(app, tally_sample, login):
    """A coordinator of DOAN exports DOAN's responses only; filters narrow further."""
    client = login("coordinator", Organisation.get(code="DOAN"))
    rows = read_csv(client.get("/questionnaires/sample/export.csv?codes=1"))
    assert len(rows) == 4 and {r[3] for r in rows[1:]} == {"DOAN"}
    rows = read_csv(client.get("/questionnaires/sample/export.csv?ward=P2"))
    assert len(rows) == 3
    assert client.get("/questionnaires/sample/export.csv?organisation=MTTQ").status_code == 400
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/questionnaires/sample/export.xlsx?codes=1").get_data()),
        read_only=True,
    )
    values = list(book.active.iter_rows(values_only=True))
    assert len(values) == 4 and {r[3] for r in values[1:]} == {"DOAN"}
    tallies = openpyxl.load_workbook(
        io.BytesIO(client.get("/questionnaires/sample/tallies.xlsx").get_data())
    )
    assert "MTTQ" not in {
        c for sheet in tallies for row in sheet.iter_rows(values_only=True) for c in row
    }


def test_anonymous_export_has_no_collaborator_column(app, network, login):
    """An anonymous questionnaire's export has no collaborator column; a named one has the name."""
    from survey.questionnaires.file_format import import_questionnaire

    spec = {
        "title": "Ẩn danh",
        "status": "open",
        "per_collaborator": "many",
        "questions": [
            {
                "key": "ok",
                "kind": "single",
                "prompt": "OK?",
                "choices": [{"key": "y", "label": "Có"}],
            }
        ],
    }
    anonymous = import_questionnaire({**spec, "slug": "anon", "anonymous": True})
    named = import_questionnaire({**spec, "slug": "named", "anonymous": False})
    person = network["collaborators"][("P1", "MTTQ")]
    with app.test_request_context():
        for q in (anonymous, named):
            store_answers(q, person.ward, person.organisation, {"ok": "y"}, collaborator=person)
    client = login("viewer")
    # Anonymous: rows only for admins, no id or time, and one response is not yet a batch.
    assert client.get("/questionnaires/anon/export.csv").status_code == 403
    client.post("/logout")
    rows = read_csv(login("admin").get("/questionnaires/anon/export.csv?codes=1"))
    assert rows == [["ward", "organisation", "ok"]]
    rows = read_csv(client.get("/questionnaires/named/export.csv?codes=1"))
    assert rows[0][4] == "collaborator" and rows[1][4] == "CTV P1 MTTQ"


def test_formula_neutralised_in_both_formats(app, network, login):
    """CSV: text starting with = + - @, tab or CR, or such a part after a ";", gets an apostrophe;
    XLSX holds the text exactly as answered, as strings, never formulas."""
    from survey.questionnaires.file_format import import_questionnaire

    q = import_questionnaire(
        {
            "slug": "f",
            "title": "F",
            "status": "open",
            "questions": [
                {"key": "t", "kind": "text", "prompt": "T"},
                {"key": "n", "kind": "number", "prompt": "N"},
            ],
        }
    )
    payloads = [
        "=1+1",
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "=cmd|' /C calc'!A0",
        "bình thường",
        "ok;=1+1",
        "- Vỉa hè hư hỏng",
    ]
    with app.test_request_context():
        for text in payloads:
            store_answers(
                q, network["wards"][0], network["organisations"][0], {"t": text, "n": "-5"}
            )
        Ward.update(name="=bad").execute()
        Collaborator.update(name="+evil").execute()
    client = login("viewer")
    rows = read_csv(client.get("/questionnaires/f/export.csv"))
    texts = [r[5] for r in rows[1:]]
    assert texts == [
        "'=1+1",
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "x",
        "'=cmd|' /C calc'!A0",
        "bình thường",
        "ok;'=1+1",
        "'- Vỉa hè hư hỏng",
    ]
    # A tab at the start is stripped on input; numbers stay numbers.
    assert {r[6] for r in rows[1:]} == {"-5"}
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/questionnaires/f/export.xlsx").get_data())
    )
    sheet = book.active
    cells = [row[5] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [p.lstrip("\t") for p in payloads]
    assert all(c.data_type == "s" for c in cells)
    assert all(row[6].value == -5 and row[6].data_type == "n" for row in sheet.iter_rows(min_row=2))
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    assert neutralise("\rx") == "'\rx" and neutralise(None) == ""


def test_tallies_workbook_has_breakdowns_and_suppression(app, tally_sample, login):
    """The tallies workbook: summary, both breakdowns, cross table; withheld cells are blank."""
    client = login("viewer")
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/questionnaires/sample/tallies.xlsx?lang=en&codes=1").get_data())
    )
    assert book.sheetnames == ["Summary", "By ward", "By organisation", "Ward × organisation"]
    summary = list(book["Summary"].iter_rows(values_only=True))
    agree = [r for r in summary if r[0] == "agree"]
    assert summary[1][3:7] == ("answered", "skipped", "not_asked", "mean")
    assert [(r[7], r[9]) for r in agree] == [("yes", 4), ("no", 2)]
    by_org = list(book["By organisation"].iter_rows(values_only=True))
    assert ("topics", "safety", "MTTQ", "Ủy ban MTTQ", 2, 0, 0.0) in by_org
    cross = list(book["Ward × organisation"].iter_rows(values_only=True))
    assert cross[0] == ("ward", "DOAN", "MTTQ", "Total")
    assert cross[1] == ("P1", 1, 2, 3) and cross[-1] == ("Total", 3, 3, 6)

    Questionnaire.update(suppress_below=3).where(Questionnaire.id == tally_sample.id).execute()
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/questionnaires/sample/tallies.xlsx?lang=en&codes=1").get_data())
    )
    summary = list(book["Summary"].iter_rows(values_only=True))
    assert "counts from 1 to 2" in summary[0][0].lower()
    assert [(r[7], r[9]) for r in summary if r[0] == "agree"] == [("yes", None), ("no", None)]
    assert [(r[7], r[9]) for r in summary if r[0] == "score"][1] == ("2", 0)
    cross = list(book["Ward × organisation"].iter_rows(values_only=True))
    assert cross[1] == ("P1", None, None, 3)


def test_exports_need_login(client, tally_sample):
    """Anonymous visitors get no export."""
    for url in (
        "/questionnaires/sample/export.csv",
        "/questionnaires/sample/export.xlsx",
        "/questionnaires/sample/tallies.xlsx",
    ):
        assert client.get(url).status_code == 302
