"""A roster people can keep: Vietnamese headers, XLSX in and out, re-imports that update by phone,
one form per phone number, search without tones and Vietnamese order."""

import io
import re

import openpyxl
import pytest

from survey.collation import fold, sort_key
from survey.models import AuditEvent, Collaborator, Organisation
from survey.network import roster

VI_HEADER = "Họ tên,Số điện thoại,Tổ chức,Phường\n"


def xlsx(rows):
    """Return the bytes of a workbook whose first sheet holds rows."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post_file(client, data, name):
    """Upload a roster file and return the reply."""
    return client.post(
        "/network/collaborators/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def confirm(client, html):
    """Confirm the import a preview page offers."""
    upload = re.search(r'name="upload"[^>]*value="([^"]+)"', html).group(1)
    plan = re.search(r'name="plan"[^>]*value="([^"]+)"', html).group(1)
    return client.post(
        "/network/collaborators/import/confirm", data={"upload": upload, "plan": plan}
    )


@pytest.mark.parametrize(
    "raw, phone",
    [
        ("+84 908 200 023", "0908200023"),
        ("0908.200.023", "0908200023"),
        ("0084908200023", "0908200023"),
        ("908200023", "0908200023"),  # the 0 a spreadsheet dropped
        ("(028) 3855-1234", "02838551234"),
        ("+1 202 555 0100", "+12025550100"),
        ("12-34", None),
    ],
)
def test_phone_numbers_have_one_form(raw, phone):
    """+84, 0084, spaces, dots, dashes and a lost leading zero all give 0xxxxxxxxx."""
    assert roster.normalise_phone(raw) == phone


def test_vietnamese_order_and_folding():
    """đ after d, tones in dictionary order, Hồ before Huỳnh, Ngô before Nguyễn."""
    names = ["Nguyễn An", "Đỗ Gấm", "Huỳnh Cư", "Ngô Bé", "Dương Hai", "Hồ Dung", "Đặng Em"]
    assert sorted(names, key=sort_key) == [
        "Dương Hai",
        "Đặng Em",
        "Đỗ Gấm",
        "Hồ Dung",
        "Huỳnh Cư",
        "Ngô Bé",
        "Nguyễn An",
    ]
    assert sorted(["má", "mạ", "ma", "mã", "mà", "mả"], key=sort_key) == [
        "ma",
        "mà",
        "mả",
        "mã",
        "má",
        "mạ",
    ]
    assert fold("Phương ĐẶNG") == "phuong dang"


def test_vietnamese_headers_in_any_order_and_without_tones(network):
    """Họ tên / Số điện thoại / Tổ chức / Phường, also as ho ten, sdt…, in any order."""
    preview = roster.read((VI_HEADER + "Lê Thị Phương,+84 903 111 222,MTTQ,Phường 1\n").encode())
    assert preview.ok, preview.problems
    assert preview.rows[0].phone == "0903111222" and preview.rows[0].action == "add"
    preview = roster.read("phuong;to chuc;SĐT;ho ten\nP2;DOAN;0903111333;Trần Văn Đức\n".encode())
    assert preview.ok, preview.problems
    row = preview.rows[0]
    assert (row.name, row.phone, row.organisation.code, row.ward.code) == (
        "Trần Văn Đức",
        "0903111333",
        "DOAN",
        "P2",
    )


def test_xlsx_import_keeps_leading_zeros_and_reports_damage(network):
    """A workbook's numeric phone gets its 0 back; a damaged workbook is one clear problem."""
    data = xlsx(
        [
            ["Họ tên", "Số điện thoại", "Tổ chức", "Phường"],
            ["Phạm Thị Hoa", 903444555, "Ủy ban MTTQ", "P1"],
            [None, None, None, None],
            ["Võ Văn Nam", "0903 444 666", "DOAN", "Phường 2"],
        ]
    )
    preview = roster.read(data)
    assert preview.ok, preview.problems
    assert [(r.line, r.phone) for r in preview.rows] == [(2, "0903444555"), (4, "0903444666")]
    broken = roster.read(data[:200])
    assert len(broken.problems) == 1 and "XLSX" in broken.problems[0][1]


def test_reimport_updates_by_phone_and_never_deactivates(network, login):
    """The preview says who is added, changed, unchanged; confirming does exactly that."""
    client = login("coordinator")
    text = (
        VI_HEADER
        + "CTV P1 MTTQ,+84 911 000 000,MTTQ,P1\n"  # unchanged, written another way
        + "Nguyễn Thị Mới,0912000000,DOAN,P2\n"  # new name and ward for 0912000000
        + "Lê Văn Thêm,0903999888,MTTQ,P2\n"  # added
    )
    reply = post_file(client, text.encode(), "roster.csv")
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert "thêm 1 cộng tác viên" in html and "cập nhật 1 cộng tác viên" in html
    assert "giữ nguyên 1 cộng tác viên" in html and "CTV P1 DOAN" in html
    assert "Phường 1 → Phường 2" in html
    assert confirm(client, html).status_code == 302
    changed = Collaborator.get(Collaborator.phone == "0912000000")
    assert (changed.name, changed.ward.code) == ("Nguyễn Thị Mới", "P2")
    assert Collaborator.select().count() == 5
    assert Collaborator.select().where(~Collaborator.active).count() == 0
    event = AuditEvent.get(AuditEvent.action == "collaborator.import")
    assert event.target == "1 added, 1 updated"
    # The same file again changes nothing.
    html = post_file(client, text.encode(), "roster.csv").get_data(as_text=True)
    assert "giữ nguyên 3 cộng tác viên" in html


def test_another_organisations_number_is_a_new_person(network, login):
    """A number is matched within its organisation only: nothing about other rosters leaks."""
    preview = roster.read((VI_HEADER + "Người khác,0911000000,DOAN,P1\n").encode())
    assert preview.ok and preview.rows[0].action == "add"


def test_templates_and_xlsx_export(network, login):
    """Templates in CSV and XLSX (phones as text, names to choose from); XLSX export reads back."""
    client = login("coordinator", Organisation.get(code="DOAN"))
    body = client.get("/network/collaborators/template.csv").get_data().decode("utf-8-sig")
    assert body.splitlines() == ["Họ và tên,Số điện thoại,Tổ chức,Phường"]
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/network/collaborators/template.xlsx").get_data())
    )
    first, groups = book.worksheets
    assert [c.value for c in first[1]] == ["Họ và tên", "Số điện thoại", "Tổ chức", "Phường"]
    assert first.column_dimensions["B"].number_format == "@"
    listed = [tuple(r) for r in groups.iter_rows(values_only=True)]
    assert ("Phường 1", "P1", None, "Đoàn Thanh niên", "DOAN") in listed
    assert "Ủy ban MTTQ" not in {c for r in listed for c in r}
    reply = client.get("/network/collaborators/export.xlsx")
    assert reply.status_code == 200 and "no-store" in reply.headers["Cache-Control"]
    sheet = openpyxl.load_workbook(io.BytesIO(reply.get_data())).active
    rows = list(sheet.iter_rows(min_row=2))
    assert [r[1].value for r in rows] == ["0912000000", "0922000000"]
    assert all(r[1].data_type == "s" for r in rows)
    preview = roster.read(reply.get_data())
    assert preview.ok and [r.action for r in preview.rows] == ["keep", "keep"]


def test_search_without_tones_and_sorted_the_vietnamese_way(network, login):
    """ "phuong" finds "Phương"; names in one ward and organisation come in Vietnamese order."""
    p1, mttq = network["wards"][0], network["organisations"][0]
    for name in ("Nguyễn Phương", "Ngô Bảo", "Đặng Quý", "Dương Lan"):
        Collaborator.create(name=name, ward=p1, organisation=mttq)
    client = login("coordinator")
    html = client.get("/network/collaborators?q=phuong").get_data(as_text=True)
    assert "Nguyễn Phương" in html and "Ngô Bảo" not in html
    html = client.get("/network/collaborators?q=+84 911").get_data(as_text=True)
    assert "CTV P1 MTTQ" in html
    html = client.get("/network/collaborators?ward=P1&organisation=MTTQ").get_data(as_text=True)
    found = re.findall(r'id="name-\d+">([^<>]+)</a>', html)  # each row's name link
    assert found == ["CTV P1 MTTQ", "Dương Lan", "Đặng Quý", "Ngô Bảo", "Nguyễn Phương"]
