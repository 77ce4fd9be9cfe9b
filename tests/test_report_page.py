"""The printable A4 report says what the Word report says: header, rates, questions, hotspots,
written answers (by the same rules), recipients and signature."""

import copy

from survey.models import Questionnaire, Ward
from survey.questionnaires.file_format import import_questionnaire
from tests.test_hotspots import FILE, HOT, fill

SETTINGS = {
    "parent": "UBND Quận 10",
    "issuer": "Ban Dân vận Quận ủy",
    "abbreviation": "BDV",
    "number": "12",
    "place": "Quận 10",
    "signer_title": "Trưởng ban",
    "signer": "Nguyễn Văn A",
    "recipients": "Thường trực Quận ủy\nLưu VT",
}


def test_printable_report_has_the_word_reports_content(tally_sample, login):
    """Issuer, motto, title, rates, each question's table and chart, written answers, closing."""
    page = login("viewer").get("/questionnaires/sample/report", query_string=SETTINGS)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in (
        "UBND QUẬN 10",
        "BAN DÂN VẬN QUẬN ỦY",
        "Số: 12/BC-BDV",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Quận 10, ngày",
        "BÁO CÁO",
        "Kết quả khảo sát “Ý kiến về chỉnh trang đô thị”",
        "I. SỐ PHIẾU VÀ TỶ LỆ TRẢ LỜI",
        "II. KẾT QUẢ TỪNG CÂU HỎI",
        "Tốt lắm, cảm ơn",  # a written answer, as the Word file quotes it
        "Nơi nhận:",
        "- Thường trực Quận ủy;",
        "TRƯỞNG BAN",
        "Nguyễn Văn A",
    ):
        assert text in html, text
    assert html.count('class="rates"') == 2  # by ward, by organisation
    assert html.count('<section class="card tally-q"') == 7
    assert html.count('<svg class="chart"') == 4  # agree, topics, score, age
    assert "III." not in html  # no question marks concern: the section is left out, as in Word


def test_printable_report_quotes_no_written_answer_when_asked_for_none(tally_sample, login):
    """texts=0 quotes none; a bad setting answers 400 with a message."""
    client = login("viewer")
    html = client.get("/questionnaires/sample/report?texts=0").get_data(as_text=True)
    assert "Tốt lắm, cảm ơn" not in html
    assert client.get("/questionnaires/sample/report?texts=999").status_code == 400


def test_printable_report_withholds_written_answers_of_a_small_group(tally_sample, login):
    """With k = 5, ward P2 (3 responses) is withheld: its answers are not quoted, as in Word."""
    Questionnaire.update(suppress_below=5).where(Questionnaire.slug == "sample").execute()
    html = login("viewer").get("/questionnaires/sample/report?ward=P2").get_data(as_text=True)
    assert "Không trích ý kiến để bảo vệ người trả lời." in html
    assert "&lt;script&gt;" not in html and "Ồn ào quá" not in html


def test_printable_report_lists_hotspots(app, network, login):
    """A questionnaire marking concern gets section III with its hotspot."""
    Ward.create(code="P3", name="Phường 3")
    Ward.create(code="P4", name="Phường 4")
    hot = import_questionnaire(copy.deepcopy(FILE))
    fill(app, hot, HOT)
    html = login("viewer").get("/questionnaires/hot/report").get_data(as_text=True)
    assert "III. ĐIỂM NÓNG" in html and "Phường 1 · Ủy ban MTTQ" in html
