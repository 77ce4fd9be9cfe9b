"""The collaborator roster as CSV or XLSX: read and check a file, import it all or nothing, export.

The file is what Excel saves: an XLSX workbook (its first sheet), or CSV in UTF-8 with or without
a BOM, comma- or semicolon-separated. The first line names the columns, in English
(`name,phone,organisation,ward`) or in Vietnamese (Họ tên, Số điện thoại, Tổ chức, Phường), in
any order, tones optional; organisation and ward by code or by name. An export (the same columns
plus a link, which is ignored) reads back in.

A line whose phone number belongs to a collaborator of the same organisation updates that
collaborator (name, ward); a line without a phone matches a collaborator of the same name, ward
and organisation without one; any other line adds a collaborator. Nobody is deactivated or
removed by an import. Phone numbers are kept in one form: +84, 0084 or a lost leading zero
become 0xxxxxxxxx; spaces, dots, dashes and brackets are dropped.
"""

import csv
import datetime
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

import openpyxl
from peewee import chunked

from survey import text as text_rules
from survey.cells import neutralise, unneutralise
from survey.collation import fold
from survey.db import bulk_load, database, vietnamese
from survey.i18n import gettext as _
from survey.models import Collaborator, Organisation, Ward, new_token
from survey.respond.links import personal_link

HEADER = ["name", "phone", "organisation", "ward"]
EXPORT_HEADER = HEADER + ["link"]
# The names a column may go by (folded: no tones, lower case, single spaces).
COLUMN_NAMES = {
    "name": {"name", "full name", "ho ten", "ho va ten", "ten"},
    "phone": {"phone", "so dien thoai", "dien thoai", "sdt", "so dt"},
    "organisation": {"organisation", "organization", "to chuc", "don vi"},
    "ward": {"ward", "phuong", "phuong/xa", "phuong xa", "xa/phuong"},
    "link": {"link", "duong dan", "lien ket"},
}
XLSX_MAGIC = b"PK\x03\x04"
XLSX_LINES = 100_000  # a workbook is unpacked as it is read: past this, it is refused
BOM = "\ufeff"
NAME_LIMIT = 200
FIELD_LIMIT = 200
PHONE_LIMIT = 30
PHONE_PATTERN = re.compile(r"^\+?[0-9]{8,15}$")
# Separators people type inside phone numbers; removed before checking the digits.
PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# A cell starting with one of these is a formula to Excel/LibreOffice: prefix it with '.
INSERT_BATCH = 1000  # rows per INSERT: 5 variables each, far under any SQLite limit


@dataclass
class Row:
    """One good roster line, ready to store."""

    line: int
    name: str
    phone: str | None
    organisation: Organisation
    ward: Ward
    existing: object = None  # the Collaborator this line updates, if any
    changes: list = field(default_factory=list)  # (what, before, after) of an update

    @property
    def action(self):
        """Return what importing the line does: "add", "change" or "keep"."""
        if self.existing is None:
            return "add"
        return "change" if self.changes else "keep"


@dataclass
class Preview:
    """What a roster file would import: the good rows and every problem with its line number."""

    rows: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # (line number, message)

    @property
    def ok(self):
        """Tell whether the whole file may be imported."""
        return not self.problems

    def of(self, action):
        """Return the rows whose import does this action ("add", "change" or "keep")."""
        return [r for r in self.rows if r.action == action]

    def plan(self):
        """Return a short fingerprint of what the import would do, to notice a change since."""
        return "".join(r.action[0] for r in self.rows)[:4000]


def normalise_phone(raw):
    """Return a phone number in its one form (0xxxxxxxxx, or +digits abroad), None if malformed."""
    phone = PHONE_SEPARATORS.sub("", raw or "")
    if phone.startswith("+84"):
        phone = "0" + phone[3:]
    elif phone.startswith("0084"):
        phone = "0" + phone[4:]
    elif re.fullmatch(r"[1-9][0-9]{8}", phone):
        phone = "0" + phone  # a mobile number whose leading zero a spreadsheet dropped
    return phone if PHONE_PATTERN.match(phone) else None


def header_key(cell):
    """Return the column a header cell names ("name", "phone", …), or None if unknown."""
    folded = " ".join(fold(cell).replace("_", " ").split())
    return next((key for key, names in COLUMN_NAMES.items() if folded in names), None)


def _fold(text):
    """Return text in the form used to match codes and names: NFC, trimmed, lower-case."""
    return unicodedata.normalize("NFC", text).strip().casefold()


def _lookup(model):
    """Map the folded code and name of every active row of a model to the row."""
    rows = list(model.select().where(model.active).order_by(model.id))
    found = {}
    for row in rows:
        found.setdefault(_fold(row.name), row)
    found.update({_fold(row.code): row for row in rows})  # a code wins over an equal name
    return found


def _existing():
    """Return the stored collaborators by (organisation id, phone) and by (org, ward, name).

    A number is matched only within its organisation: matching across organisations would
    tell whoever uploads a list which numbers other organisations hold. Two stored people of one
    organisation with the same number (kept before numbers had one form) map to None.
    """
    by_phone, by_name = {}, {}
    for person in Collaborator.select():
        if person.phone:
            key = (person.organisation_id, normalise_phone(person.phone) or person.phone)
            by_phone[key] = None if key in by_phone else person
        else:
            key = (person.organisation_id, person.ward_id, fold(person.name))
            by_name.setdefault(key, person)
    return by_phone, by_name


def _decode(data):
    """Return (the file's text without a BOM, None), or (None, line of the first non-UTF-8 byte)."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        return None, data[: error.start].count(b"\n") + 1


def _delimiter(text):
    """Sniff the separator from the header line: ; when it has more of them than commas."""
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def _records(text):
    """Yield (line number, cells) for every record of the CSV text, trailing empty cells dropped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    line = 1
    for cells in reader:
        while cells and not cells[-1].strip():
            cells.pop()
        yield line, [unneutralise(c) for c in cells]
        line = reader.line_num + 1


def _cell_text(value):
    """Return a workbook cell as the text a person sees: 908200023.0 is 908200023."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def _workbook_records(data):
    """Yield (row number, cells) of a workbook's first sheet, trailing empty cells dropped."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for line, values in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
            if line > XLSX_LINES:
                raise ValueError(f"more than {XLSX_LINES} rows")
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1].strip():
                cells.pop()
            yield line, cells
    finally:
        book.close()


class _Checker:
    """Checks roster lines one by one against the database and the lines before them."""

    def __init__(self, columns):
        """Start with the header's columns (key → position) and today's wards and people."""
        self.columns = columns
        self.organisations = _lookup(Organisation)
        self.wards = _lookup(Ward)
        self.by_phone, self.by_name = _existing()
        self.seen_phones = {}

    def check(self, line, cells):
        """Return (Row, []) for a good line, or (None, messages)."""
        if len(cells) > len(self.columns):
            return None, [_("Too many columns: expected name, phone, organisation, ward.")]
        cells = cells + [""] * len(self.columns)
        name, phone, org, ward = (
            cells[self.columns[k]] if k in self.columns else "" for k in HEADER
        )
        messages = [
            m
            for m in (
                self._text_problem(_("name"), name, NAME_LIMIT),
                self._text_problem(_("organisation"), org, FIELD_LIMIT),
                self._text_problem(_("ward"), ward, FIELD_LIMIT),
                self._text_problem(_("phone"), phone, PHONE_LIMIT),
            )
            if m
        ]
        if messages:
            return None, messages
        name = unicodedata.normalize("NFC", name).strip()
        if not name:
            messages.append(_("The name is empty."))
        organisation = self.organisations.get(_fold(org))
        phone, message = self._phone(line, phone.strip(), organisation)
        messages += [m for m in (message, self._known(org, ward)) if m]
        if messages:
            return None, messages
        row = Row(line, name, phone, self.organisations[_fold(org)], self.wards[_fold(ward)])
        return self._match(row)

    def _match(self, row):
        """Find the collaborator a line updates and what changes; (None, [message]) if unclear."""
        org = row.organisation.id
        if row.phone:
            key = (org, row.phone)
            if key in self.by_phone and self.by_phone[key] is None:
                message = _(
                    "Two collaborators already have the phone number %(value)s: correct them "
                    "on the collaborators page first.",
                    value=row.phone,
                )
                return None, [message]
            row.existing = self.by_phone.get(key)
        else:
            row.existing = self.by_name.get((org, row.ward.id, fold(row.name)))
        if row.existing is not None:
            before = row.existing
            if before.name != row.name:
                row.changes.append((_("name"), before.name, row.name))
            if before.ward_id != row.ward.id:
                row.changes.append((_("ward"), before.ward.name, row.ward.name))
            if row.phone and before.phone != row.phone:
                row.changes.append((_("phone"), before.phone, row.phone))
        return row, []

    @staticmethod
    def _text_problem(label, text, limit):
        """Say what is wrong with a cell's characters or length, or None."""
        if text_rules.has_refused(text, multiline=False):
            return _("The %(field)s contains characters that are not allowed.", field=label)
        if len(text.strip()) > limit:
            return _("The %(field)s is longer than %(limit)s characters.", field=label, limit=limit)
        return None

    def _known(self, org, ward):
        """Say which of organisation and ward is unknown, or None."""
        if _fold(org) not in self.organisations:
            return _("Unknown organisation “%(value)s”: give its code or name.", value=org.strip())
        if _fold(ward) not in self.wards:
            return _(
                "Unknown or inactive ward “%(value)s”: give its code or name.", value=ward.strip()
            )
        return None

    def _phone(self, line, raw, organisation):
        """Return (normalised phone or None, message or None) for a phone cell."""
        if not raw:
            return None, None
        phone = normalise_phone(raw)
        if phone is None:
            return None, _(
                "Malformed phone number “%(value)s”: use 8 to 15 digits, "
                "optionally starting with +.",
                value=raw,
            )
        if phone in self.seen_phones:
            return None, _(
                "The phone number %(value)s is also on line %(line)s.",
                value=phone,
                line=self.seen_phones[phone],
            )
        self.seen_phones[phone] = line
        return phone, None


def read(data):
    """Read a roster file (CSV or XLSX bytes) into a Preview of rows and problems; never raise."""
    if data.startswith(XLSX_MAGIC):
        return _read_records(lambda: _workbook_records(data))
    text, bad_line = _decode(data)
    if text is None:
        preview = Preview()
        preview.problems.append(
            (
                bad_line,
                _(
                    "The file is not UTF-8 text. In Excel, save it as "
                    '"CSV UTF-8 (comma delimited)".'
                ),
            )
        )
        return preview
    return _read_records(lambda: _records(text))


def _columns(cells):
    """Return the header's columns (key → position), or None when one is unknown or missing."""
    keys = [header_key(c) for c in cells]
    if None in keys or len(set(keys)) != len(keys) or not set(HEADER) <= set(keys):
        return None
    return {k: i for i, k in enumerate(keys)}


def _read_records(records):
    """Check the records a reader yields: the header first, then every line."""
    preview = Preview()
    line, checker = 1, None
    try:
        for line, cells in records():
            if checker is None:
                columns = _columns(cells)
                if columns is None:
                    break
                checker = _Checker(columns)
            elif any(c.strip() for c in cells):
                row, messages = checker.check(line, cells)
                preview.problems.extend((line, m) for m in messages)
                if row is not None:
                    preview.rows.append(row)
    except csv.Error as error:
        preview.problems.append((line, _("The file is not valid CSV: %(error)s", error=str(error))))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, OSError):
        # openpyxl answers a damaged or foreign workbook with any of these.
        preview.problems.append(
            (line, _("The file is not a workbook Excel can open (XLSX), or it is damaged."))
        )
    if checker is None and not preview.problems:
        preview.problems.append(
            (
                1,
                _(
                    "The first line must name the columns: Họ tên, Số điện thoại, Tổ chức, "
                    "Phường (or name, phone, organisation, ward)."
                ),
            )
        )
    return preview


def import_preview(preview):
    """Add and update the rows of a problem-free preview in one transaction; return how many."""
    if preview.problems:
        raise ValueError("a roster with problems cannot be imported")
    added = preview.of("add")
    changed = preview.of("change")
    fields = [
        Collaborator.name,
        Collaborator.phone,
        Collaborator.organisation,
        Collaborator.ward,
        Collaborator.token,
    ]
    rows = [(r.name, r.phone, r.organisation.id, r.ward.id, new_token()) for r in added]
    with bulk_load(), database.atomic():  # the planner's statistics refreshed after
        # One statement per batch: SQLite caps the variables of a statement (32,766).
        for batch in chunked(rows, INSERT_BATCH):
            Collaborator.insert_many(batch, fields=fields).execute()
        for r in changed:
            update = {Collaborator.name: r.name, Collaborator.ward: r.ward.id}
            if r.phone:
                update[Collaborator.phone] = r.phone
            Collaborator.update(update).where(Collaborator.id == r.existing.id).execute()
    return len(rows) + len(changed)


def labelled_header(link=True):
    """Return the roster's column names in the interface's language."""
    names = [_("Full name"), _("Phone"), _("Organisation"), _("Ward")]
    return names + ([_("Link")] if link else [])


def export_rows(query, labelled=False):
    """Yield the roster export's header, then a row per collaborator of the query with its link.

    The labelled form (for people) names columns in the interface's language and groups by
    name; the plain one (the command line's) keeps `name,phone,organisation,ward,link` and codes.
    Needs an app context (BASE_URL).
    """
    column = Organisation.name if labelled else Organisation.code
    organisations = dict(Organisation.select(Organisation.id, column).tuples())
    wards = dict(Ward.select(Ward.id, Ward.name if labelled else Ward.code).tuples())
    yield labelled_header() if labelled else EXPORT_HEADER
    for person in query.order_by(vietnamese(Collaborator.name), Collaborator.id).iterator():
        yield [
            person.name,
            person.phone or "",
            organisations[person.organisation_id],
            wards[person.ward_id],
            personal_link(person),
        ]


def export_chunks(rows, flush_every=500):
    """Yield the roster CSV of export rows as UTF-8 bytes, a BOM first so Excel reads UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    yield BOM.encode("utf-8")
    for count, row in enumerate(rows, 1):
        writer.writerow([neutralise(v) for v in row])
        if count % flush_every == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def export_csv(query):
    """Return the roster CSV (no BOM) of a collaborator query, with each one's personal link."""
    out = io.StringIO()
    csv.writer(out).writerows([neutralise(v) for v in row] for row in export_rows(query))
    return out.getvalue()


def export_bytes(query):
    """Return the roster CSV of a collaborator query as UTF-8 bytes with a BOM, for Excel."""
    return b"".join(export_chunks(export_rows(query)))
