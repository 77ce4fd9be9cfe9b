"""The Word report: official layout, the tally's figures (suppression kept), and it renders."""

import io
import subprocess

import docx
import pypdfium2
import pytest
from docx.oxml.ns import qn

from survey.models import AuditEvent, Questionnaire
from tests.helpers import soffice, store_answers


def _text(document):
    """Return every paragraph's text of a document, tables included, one a line."""
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                lines += [p.text for p in cell.paragraphs]
    return "\n".join(lines)


def test_report_docx_layout_and_figures(app, login, tally_sample):
    """The report carries the motto, number, place-date line, title, tables, charts, signature."""
    app.config.update(
        REPORT_ISSUER="Ban Tuyên giáo",
        REPORT_PARENT="Quận ủy Quận 10",
        REPORT_PLACE="Quận 10",
        REPORT_SIGNER="Nguyễn Văn A",
        REPORT_ABBREVIATION="BTG",
        REPORT_RECIPIENTS="Thường trực Quận ủy;Lưu VP",
    )
    client = login("admin")
    response = client.get("/questionnaires/sample/report.docx?signer_title=Trưởng ban&texts=2")
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(response.data))
    text = _text(document)
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BAN TUYÊN GIÁO",
        "QUẬN ỦY QUẬN 10",
        "/BC-BTG",
        "Quận 10, ngày ",
        "BÁO CÁO",
        "Ý kiến về chỉnh trang đô thị",
        "Nơi nhận:",
        "Thường trực Quận ủy",
        "TRƯỞNG BAN",
        "Nguyễn Văn A",
        "Đồng ý",
        "Phường 1",
        "Ủy ban MTTQ",
    ):
        assert expected in text, expected
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert len(document.inline_shapes) == 4  # single, multi, scale, number
    assert AuditEvent.select().where(AuditEvent.action == "responses.export").count() == 1


def test_report_docx_withholds_small_groups(app, login, tally_sample):
    """With suppression every small count reads "< k", and no written answer is quoted."""
    Questionnaire.update(suppress_below=5).where(Questionnaire.id == tally_sample.id).execute()
    client = login("admin")
    response = client.get("/questionnaires/sample/report.docx")
    assert response.status_code == 200
    text = _text(docx.Document(io.BytesIO(response.data)))
    assert "< 5" in text
    api = client.get("/api/v1/questionnaires/sample/tallies").get_json()
    assert api["responses"] == 6


def test_report_docx_quotes_written_answers(app, login, sample, network):
    """A chosen number of written answers per question is quoted; 0 quotes none."""
    ward, org = network["wards"][0], network["organisations"][0]
    for i in range(3):
        store_answers(sample, ward, org, {"agree": "yes", "note": f"Góp ý số {i}"})
    client = login("admin")
    text = _text(
        docx.Document(io.BytesIO(client.get("/questionnaires/sample/report.docx?texts=2").data))
    )
    assert sum(f"Góp ý số {i}" in text for i in range(3)) == 2
    text = _text(
        docx.Document(io.BytesIO(client.get("/questionnaires/sample/report.docx?texts=0").data))
    )
    assert "Góp ý số" not in text


@pytest.mark.parametrize("query", ["texts=abc", "texts=999", "issuer=" + "x" * 400, "ward=NO"])
def test_report_docx_bad_settings(login, sample, query):
    """A bad setting or filter answers 400 with a message, not a file."""
    client = login("admin")
    response = client.get(f"/questionnaires/sample/report.docx?{query}")
    assert response.status_code == 400


def test_report_form_prefilled(app, login, sample):
    """The settings form shows the configured defaults and posts to the download by GET."""
    app.config.update(REPORT_ISSUER="Ban Dân vận")
    body = login("viewer").get("/questionnaires/sample/report/word").get_data(as_text=True)
    assert 'value="Ban Dân vận"' in body
    assert "/questionnaires/sample/report.docx" in body


def test_charts_download(login, tally_sample):
    """Each counted question's chart downloads as SVG and PNG; a text question has none."""
    client = login("viewer")
    svg = client.get("/questionnaires/sample/charts/agree.svg")
    assert svg.status_code == 200 and "Đồng ý" in svg.get_data(as_text=True)
    png = client.get("/questionnaires/sample/charts/score.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get("/questionnaires/sample/charts/note.svg").status_code == 404


def to_pdf(tmp_path, *paths):
    """Convert Word files to PDF with LibreOffice, in one run; return the PDFs' paths."""
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return [path.with_suffix(".pdf") for path in paths]


def test_report_docx_renders(login, tally_sample, tmp_path):
    """LibreOffice converts the file to PDF and its first page is not blank."""
    client = login("admin")
    path = tmp_path / "report.docx"
    path.write_bytes(client.get("/questionnaires/sample/report.docx").data)
    (pdf_path,) = to_pdf(tmp_path, path)
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    assert len(pdf) >= 2
    image = pdf[0].render(scale=1).to_pil().convert("L")
    dark = sum(image.histogram()[:128])
    assert dark > 2000  # text and tables, not an empty page
    pdf.close()


def page_texts(path):
    """Return each page's text of a PDF, without white space."""
    with pypdfium2.PdfDocument(str(path)) as pdf:
        return ["".join(page.get_textpage().get_text_range().split()) for page in pdf]


def test_signature_block_and_table_rows_never_split(app, login, sample, network, tmp_path):
    """Pushed down a line at a time by 0 to 45 quoted answers, the signature block always prints
    whole (the signer's name on the page of the title); every table row is kept on one page and
    each table's header row repeats atop each page it runs over."""
    ward, org = network["wards"][0], network["organisations"][0]
    for i in range(45):
        store_answers(sample, ward, org, {"agree": "yes", "note": f"Góp ý số {i}"})
    client = login("admin")
    settings = "signer=Nguyễn Văn Bình&signer_title=Trưởng ban&recipients=Lưu VT"
    paths = []
    for texts in range(0, 46, 3):
        paths.append(tmp_path / f"report-{texts}.docx")
        answer = client.get(f"/questionnaires/sample/report.docx?texts={texts}&{settings}")
        paths[-1].write_bytes(answer.data)
    document = docx.Document(io.BytesIO(answer.data))
    for table in document.tables[1:]:  # the letterhead is no table of rows
        rows = [row._tr for row in table.rows]
        assert all(
            tr.trPr is not None and tr.trPr.find(qn("w:cantSplit")) is not None for tr in rows
        )
    assert all(
        t.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None for t in document.tables[1:-1]
    )
    pages = set()
    for path in to_pdf(tmp_path, *paths):
        texts = page_texts(path)
        signed = [n for n, text in enumerate(texts) if "NguyễnVănBình" in text]
        assert len(signed) == 1 and "TRƯỞNGBAN" in texts[signed[0]], (path.name, texts[-1][-80:])
        pages.add(len(texts))
    assert len(pages) > 1  # the block did meet the foot of a page on the way
