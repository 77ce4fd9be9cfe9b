"""Exports for people: prompts and labels in the interface's language, typed XLSX cells, codebooks;
and every file read back by LibreOffice with the API's figures."""

import collections
import csv
import datetime
import io
import os
import subprocess

import openpyxl
import pytest

from tests.helpers import TALLY_ROWS, soffice

VI_FIXED = ["Phiếu", "Thời gian nộp", "Phường", "Tổ chức", "Cộng tác viên"]
PROMPTS = [
    "Bạn có đồng ý?",
    "Vì sao không?",
    "Chủ đề quan tâm",
    "Mức hài lòng",
    "Tuổi",
    "Góp ý thêm",
    "Ngày",
]


def read_csv(response):
    """Return the rows of a CSV download."""
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def workbook(response):
    """Open an XLSX download."""
    assert response.status_code == 200, response.status_code
    return openpyxl.load_workbook(io.BytesIO(response.get_data()))


def test_labelled_csv_speaks_the_interface_language(app, tally_sample, login):
    """Vietnamese column names and prompts; labels, several joined by "; "; wards by name."""
    client = login("viewer")
    response = client.get("/questionnaires/sample/export.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="sample.csv"'
    rows = read_csv(response)
    assert rows[0] == VI_FIXED + PROMPTS
    first = dict(zip(rows[0], rows[1]))
    assert first["Thời gian nộp"] == "2025-07-01 10:00:00"
    assert first["Bạn có đồng ý?"] == "Đồng ý"
    assert first["Chủ đề quan tâm"] == "Đường sá; Công viên"
    assert first["Phường"] == "Phường 1" and first["Ngày"] == "2025-07-01"
    assert first["Tuổi"] == "30" and first["Mức hài lòng"] == "5"
    rows = read_csv(client.get("/questionnaires/sample/export.csv?lang=en"))
    assert rows[0][:5] == ["Response no.", "Submitted at", "Ward", "Organisation", "Collaborator"]
    response = client.get("/questionnaires/sample/export.csv?codes=1")
    assert 'filename="sample-codes.csv"' in response.headers["Content-Disposition"]


def test_labelled_xlsx_has_typed_cells_a_frozen_bold_header_and_a_codebook(
    app, tally_sample, login
):
    """Dates as dates, numbers as numbers, bold frozen first row, widths, a codebook sheet."""
    book = workbook(login("viewer").get("/questionnaires/sample/export.xlsx"))
    assert book.sheetnames == ["Phiếu trả lời", "Bảng mã"]
    sheet = book["Phiếu trả lời"]
    header = [c.value for c in sheet[1]]
    assert header == VI_FIXED + PROMPTS
    assert all(c.font.bold for c in sheet[1]) and sheet.freeze_panes == "A2"
    assert all(sheet.column_dimensions[col].width >= 8 for col in "ABCDEFGHIJKL")
    row = {h: c for h, c in zip(header, sheet[2])}
    assert row["Thời gian nộp"].value == datetime.datetime(2025, 7, 1, 10, 0)
    assert row["Thời gian nộp"].number_format == "dd/mm/yyyy hh:mm"
    assert row["Ngày"].value == datetime.datetime(2025, 7, 1)
    assert row["Ngày"].number_format == "dd/mm/yyyy"
    assert row["Tuổi"].value == 30 and row["Tuổi"].data_type == "n"
    assert row["Chủ đề quan tâm"].value == "Đường sá; Công viên"
    assert not row["Phiếu"].font.bold
    codebook = [tuple(r) for r in book["Bảng mã"].iter_rows(values_only=True)]
    assert codebook[0] == ("Cột", "Mã cột", "Loại câu hỏi", "Mã trả lời", "Nội dung")
    assert ("Bạn có đồng ý?", "agree", "Chọn một", "no", "Không đồng ý") in codebook
    assert ("Mức hài lòng", "score", "Thang điểm", 5, 5) in codebook
    assert ("Phường", "ward", None, "P1", "Phường 1") in codebook
    assert ("Thời gian nộp", "submitted_at", None, None, None) in codebook
    english = workbook(login("admin").get("/questionnaires/sample/export.xlsx?lang=en"))
    assert english.sheetnames == ["Answers", "Codebook"]
    assert english["Answers"]["B2"].number_format == "mmm d, yyyy h:mm AM/PM"


def test_codebook_csv_and_scope(app, tally_sample, login):
    """The CSV codebook lists columns, keys and codes; a scoped coordinator sees their own body."""
    from survey.models import Organisation

    client = login("coordinator", Organisation.get(code="DOAN"))
    response = client.get("/questionnaires/sample/codebook.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = read_csv(response)
    assert ["Chủ đề quan tâm", "topics", "Chọn nhiều", "parks", "Công viên"] in rows
    organisations = {r[3] for r in rows if r[1] == "organisation" and r[3]}
    assert organisations == {"DOAN"}


def test_tallies_workbook_in_words(app, tally_sample, login):
    """Prompts, kind names, percentages as numbers shown as %, means to two places."""
    book = workbook(login("viewer").get("/questionnaires/sample/tallies.xlsx"))
    assert book.sheetnames[0] == "Tổng hợp"
    sheet = book["Tổng hợp"]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[1]]
    assert header == [
        "Câu hỏi",
        "Loại câu hỏi",
        "Đã trả lời",
        "Bỏ qua",
        "Không được hỏi",
        "Trung bình",
        "Lựa chọn",
        "Số lượng",
        "Tỷ lệ",
    ]
    assert sheet.freeze_panes == "A3" and rows[1][0].font.bold
    agree = [r for r in rows if r[0].value == "Bạn có đồng ý?"]
    assert [(r[1].value, r[6].value, r[7].value) for r in agree] == [
        ("Chọn một", "Đồng ý", 4),
        ("Chọn một", "Không đồng ý", 2),
    ]
    assert agree[0][8].value == pytest.approx(4 / 6, abs=0.001)
    assert agree[0][8].number_format == "0.0%"
    score = next(r for r in rows if r[0].value == "Mức hài lòng")
    assert score[5].value == 3.6  # (5 + 4 + 5 + 3 + 1) / 5
    why = next(r for r in rows if r[0].value.startswith("Vì sao"))
    assert [c.value for c in why[2:5]] == [2, 0, 4]  # answered, skipped, not asked
    by_ward = [tuple(r) for r in book["Theo phường"].iter_rows(values_only=True)]
    assert by_ward[0][:3] == ("Câu hỏi", "Lựa chọn", "Phường")
    cross = [tuple(r) for r in book.worksheets[-1].iter_rows(values_only=True)]
    assert cross[1][0] == "Phường 1"


# ---------------------------------------------------------------- LibreOffice


def convert(tmp_path, name, body, to):
    """Have LibreOffice headless open a file and save it in another format; return the path."""
    source = tmp_path / name
    source.write_bytes(body)
    out = tmp_path / "out"
    profile = (tmp_path / "profile").as_uri()  # a profile of its own: runs side by side
    command = [soffice(), f"-env:UserInstallation={profile}", "--headless"]
    if name.endswith(".csv"):
        # UTF-8 (76), comma-separated (44), quoted with " (34), as Excel would open it.
        command += ["--infilter=CSV:44,34,76,1"]
    subprocess.run(
        command + ["--convert-to", to, "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    return out / (source.stem + "." + to.split(":")[0])


def test_libreoffice_reads_every_export_with_the_api_figures(app, tally_sample, login, tmp_path):
    """Each export opened by LibreOffice counts what the API counts, dates and numbers typed."""
    client = login("viewer")
    api = client.get("/api/v1/questionnaires/sample/tallies").get_json()
    labels = {
        (q["key"], c["label"]): c["count"] for q in api["questions"] for c in q.get("choices", [])
    }
    expected = {k: v for k, v in labels.items() if k[0] in ("agree", "topics")}

    def counted(rows):
        """Count each label of the agree and topics columns of a raw export."""
        header = list(rows[0])
        found = collections.Counter()
        for row in rows[1:]:
            for key, prompt in (("agree", "Bạn có đồng ý?"), ("topics", "Chủ đề quan tâm")):
                cell = row[header.index(prompt)]
                for label in (cell or "").split("; ") if cell else ():
                    found[(key, label)] += 1
        return {k: found.get(k, 0) for k in expected}

    # XLSX, read back from LibreOffice's own XLSX: dates stay dates, numbers stay numbers.
    xlsx = convert(
        tmp_path, "raw.xlsx", client.get("/questionnaires/sample/export.xlsx").get_data(), "ods"
    )
    back = convert(tmp_path, "raw-back.ods", xlsx.read_bytes(), "xlsx")
    rows = list(openpyxl.load_workbook(back).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 1 + len(TALLY_ROWS) == 1 + api["responses"]
    assert counted(rows) == expected
    header = list(rows[0])
    assert rows[1][header.index("Thời gian nộp")] == datetime.datetime(2025, 7, 1, 10, 0)
    assert rows[1][header.index("Tuổi")] == 30
    assert rows[3][header.index("Góp ý thêm")] == '=HYPERLINK("http://x")'

    # CSV opened as Excel would (comma, UTF-8): same counts, the formula stays text.
    csv_back = convert(
        tmp_path, "raw.csv", client.get("/questionnaires/sample/export.csv").get_data(), "xlsx"
    )
    sheet = openpyxl.load_workbook(csv_back).worksheets[0]
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    rows = list(sheet.iter_rows(values_only=True))
    assert counted(rows) == expected and rows[1][header.index("Tuổi")] == 30

    # Tallies: LibreOffice's CSV of the first sheet holds the API's counts and percentages.
    summary = convert(
        tmp_path,
        "tallies.xlsx",
        client.get("/questionnaires/sample/tallies.xlsx").get_data(),
        "csv:Text - txt - csv (StarCalc):44,34,76",
    )
    rows = list(csv.reader(io.StringIO(summary.read_text(encoding="utf-8"))))
    agree = [r for r in rows if r and r[0] == "Bạn có đồng ý?"]
    # Read by the header's names, so a column added to the workbook moves nothing here.
    header = next(r for r in rows if r and r[0] == "Câu hỏi")
    choice, count, share = (header.index(name) for name in ("Lựa chọn", "Số lượng", "Tỷ lệ"))
    assert [(r[choice], int(r[count])) for r in agree] == [
        ("Đồng ý", labels[("agree", "Đồng ý")]),
        ("Không đồng ý", labels[("agree", "Không đồng ý")]),
    ]
    assert agree[0][share] == "66.7%"
