"""The CSV roster: reading what Excel saves, all-or-nothing import, export with links."""

import csv
import io

from flask_babel import force_locale

from survey.models import Collaborator, Ward
from survey.network import roster

GOOD = (
    "name,phone,organisation,ward\n"
    "Nguyễn Văn An,0903 123 456,MTTQ,P1\n"
    "Trần Thị Bình,,doan,phường 2\n"
)


def read(text, encoding="utf-8"):
    """Read a roster given as text."""
    return roster.read(text.encode(encoding))


def test_reads_codes_and_names(network):
    preview = read(GOOD)
    assert preview.ok, preview.problems
    first, second = preview.rows
    assert (first.line, first.name, first.phone) == (2, "Nguyễn Văn An", "0903123456")
    assert (first.organisation.code, first.ward.code) == ("MTTQ", "P1")
    assert (second.phone, second.organisation.code, second.ward.code) == (None, "DOAN", "P2")


def test_semicolon_with_bom_and_crlf(network):
    text = "\ufeffName ; Phone;Organisation;WARD\r\nLê Văn Cường;+84 903.555-666;Ủy ban MTTQ;P2\r\n"
    preview = read(text)
    assert preview.ok, preview.problems
    assert preview.rows[0].phone == "0903555666"  # +84 becomes 0: one form per number
    assert preview.rows[0].organisation.code == "MTTQ"


def test_wrong_header_is_one_problem_at_line_1(network):
    preview = read("ten,sdt,to chuc,ghi chu\nA,0903123456,MTTQ,P1\nB,x,NOPE,P9\n")
    header = (
        "The first line must name the columns: Họ tên, Số điện thoại, Tổ chức, Phường "
        "(or name, phone, organisation, ward)."
    )
    assert preview.problems == [(1, header)]
    assert preview.rows == []


def test_each_bad_row_reported_with_its_line(network):
    Ward.create(code="P9", name="Phường 9", active=False)
    text = (
        "name,phone,organisation,ward\n"
        ",0903000001,MTTQ,P1\n"  # 2 empty name
        "An,0903000002,XYZ,P1\n"  # 3 unknown organisation
        "Bình,0903000003,MTTQ,P9\n"  # 4 inactive ward
        "Cường,12-34,MTTQ,P1\n"  # 5 malformed phone
        "Dũng,0903000005,MTTQ,P1\n"  # 6 good
        "Em,0903 000 005,MTTQ,P1\n"  # 7 duplicate of line 6
        "Giang,0911000000,MTTQ,P1\n"  # 8 phone of an existing collaborator: an update
        "H\x00à,0903000008,MTTQ,P1\n" + "K" * 201 + ",0903000009,MTTQ,P1\n"  # 9 NUL
    )  # 10 too long
    preview = read(text)
    lines = [line for line, _ in preview.problems]
    assert lines == [2, 3, 4, 5, 7, 9, 10]
    messages = dict(preview.problems)
    assert "name" in messages[2]
    assert "XYZ" in messages[3]
    assert "P9" in messages[4]
    assert "12-34" in messages[5]
    assert "line 6" in messages[7]
    assert "not allowed" in messages[9]
    assert "200" in messages[10]
    assert [(r.line, r.action) for r in preview.rows] == [(6, "add"), (8, "change")]


def test_multiline_cell_keeps_line_numbers(network):
    text = 'name,phone,organisation,ward\n"A\nB",,MTTQ,P1\nC,,NOPE,P1\n'
    preview = read(text)
    assert preview.problems[0][0] == 2
    assert preview.problems[1][0] == 4


def test_non_utf8_is_one_problem(network):
    preview = roster.read("name,phone,organisation,ward\nĐông,,MTTQ,P1\n".encode("cp1258"))
    assert len(preview.problems) == 1
    assert preview.problems[0][0] == 2
    assert "UTF-8" in preview.problems[0][1]


def test_empty_file_and_blank_lines(network):
    assert read("").problems[0][0] == 1
    preview = read("name,phone,organisation,ward\n\n,,,\nAn,,MTTQ,P1\n")
    assert preview.ok and len(preview.rows) == 1


def test_messages_in_the_users_language(app, network):
    with app.app_context(), force_locale("en"):
        preview = read("name,phone,organisation,ward\n,,MTTQ,P1\n")
    assert preview.problems == [(2, "The name is empty.")]


def test_import_all_or_nothing(network):
    before = Collaborator.select().count()
    bad = read(GOOD + "X,,NOPE,P1\n")
    try:
        roster.import_preview(bad)
    except ValueError:
        pass
    else:
        raise AssertionError("a preview with problems was imported")
    assert Collaborator.select().count() == before
    assert roster.import_preview(read(GOOD)) == 2
    added = Collaborator.get(Collaborator.name == "Nguyễn Văn An")
    assert added.phone == "0903123456" and len(added.token) >= 22
    assert Collaborator.select().count() == before + 2


def test_export_neutralises_and_reimports(app, network):
    ward, org = network["wards"][0], network["organisations"][0]
    Collaborator.create(name="=HYPERLINK(1)", phone="+84903777888", ward=ward, organisation=org)
    with app.app_context():
        text = roster.export_csv(Collaborator.select().where(Collaborator.phone == "+84903777888"))
        data = roster.export_bytes(Collaborator.select())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "phone", "organisation", "ward", "link"]
    person = Collaborator.get(Collaborator.phone == "+84903777888")
    assert rows[1] == [
        "'=HYPERLINK(1)",
        "'+84903777888",
        "MTTQ",
        "P1",
        f"http://survey.test/c/{person.token}",
    ]
    person.delete_instance()
    preview = roster.read(text.encode())
    assert preview.ok, preview.problems
    assert (preview.rows[0].name, preview.rows[0].phone) == ("=HYPERLINK(1)", "0903777888")


def test_bidi_and_c1_controls_in_names_are_refused(network):
    """A name that would read differently from what it holds (U+202E) or holds U+0085 is refused."""
    text = (
        "name,phone,organisation,ward\n"
        "Lan\u202eoaN,0903100001,MTTQ,P1\n"
        "Mai\u0085,0903100002,MTTQ,P1\n"
        "Hùng,0903100003,MTTQ,P1\n"
    )
    preview = read(text)
    assert [line for line, _ in preview.problems] == [2, 3]
    assert [r.line for r in preview.rows] == [4]
