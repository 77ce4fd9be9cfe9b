"""The collaborator roster as CSV: read and check a file, import it all or nothing, export it.

The file is what Excel saves: UTF-8 with or without a BOM, comma- or semicolon-separated,
header `name,phone,organisation,ward`; organisation and ward by code or by name. An export
(the same columns plus `link`, which is ignored) reads back in.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from peewee import chunked

from survey.cells import neutralise, unneutralise
from survey.db import database
from survey.i18n import gettext as _
from survey.models import Collaborator, Organisation, Ward, new_token
from survey.respond.links import personal_link

HEADER = ["name", "phone", "organisation", "ward"]
EXPORT_HEADER = HEADER + ["link"]
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


@dataclass
class Preview:
    """What a roster file would import: the good rows and every problem with its line number."""

    rows: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # (line number, message)

    @property
    def ok(self):
        """Tell whether the whole file may be imported."""
        return not self.problems


def normalise_phone(raw):
    """Return a phone number as digits with an optional leading +, or None if malformed."""
    phone = PHONE_SEPARATORS.sub("", raw)
    return phone if PHONE_PATTERN.match(phone) else None


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


def _existing_phones():
    """Return (organisation id, normalised phone) of the collaborators already stored.

    A number is a duplicate only within its organisation: checking across organisations would
    tell whoever uploads a list which numbers other organisations hold.
    """
    query = Collaborator.select(Collaborator.organisation, Collaborator.phone).where(
        Collaborator.phone.is_null(False)
    )
    return {(o, normalise_phone(p) or p) for o, p in query.tuples()}


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


def _has_control(text):
    """Tell whether text holds NUL or another control character."""
    return any(unicodedata.category(c) == "Cc" for c in text)


class _Checker:
    """Checks roster lines one by one against the database and the lines before them."""

    def __init__(self, columns):
        self.columns = columns
        self.organisations = _lookup(Organisation)
        self.wards = _lookup(Ward)
        self.phones = _existing_phones()
        self.seen_phones = {}

    def check(self, line, cells):
        """Return (Row, []) for a good line, or (None, messages)."""
        if len(cells) > self.columns:
            return None, [_("Too many columns: expected name, phone, organisation, ward.")]
        name, phone, org, ward = (cells + [""] * 4)[:4]
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
        return Row(line, name, phone, self.organisations[_fold(org)], self.wards[_fold(ward)]), []

    @staticmethod
    def _text_problem(label, text, limit):
        """Say what is wrong with a cell's characters or length, or None."""
        if _has_control(text):
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
        if organisation is not None and (organisation.id, phone) in self.phones:
            return None, _(
                "The phone number %(value)s already belongs to a collaborator.", value=phone
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
    """Read a roster file (bytes) into a Preview of its good rows and its problems; never raise."""
    preview = Preview()
    text, bad_line = _decode(data)
    if text is None:
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
    line, checker = 1, None
    try:
        for line, cells in _records(text):
            if checker is None:
                header = [_fold(c) for c in cells]
                if header not in (HEADER, EXPORT_HEADER):
                    break
                checker = _Checker(len(header))
            elif any(c.strip() for c in cells):
                row, messages = checker.check(line, cells)
                preview.problems.extend((line, m) for m in messages)
                if row is not None:
                    preview.rows.append(row)
    except csv.Error as error:
        preview.problems.append((line, _("The file is not valid CSV: %(error)s", error=str(error))))
    if checker is None and not preview.problems:
        preview.problems.append(
            (1, _("The first line must be the header name,phone,organisation,ward."))
        )
    return preview


def import_preview(preview):
    """Store every row of a problem-free preview in one transaction; return how many were added."""
    if preview.problems:
        raise ValueError("a roster with problems cannot be imported")
    if not preview.rows:
        return 0
    fields = [
        Collaborator.name,
        Collaborator.phone,
        Collaborator.organisation,
        Collaborator.ward,
        Collaborator.token,
    ]
    rows = [(r.name, r.phone, r.organisation.id, r.ward.id, new_token()) for r in preview.rows]
    with database.atomic():
        # One statement per batch: SQLite caps the variables of a statement (32,766).
        for batch in chunked(rows, INSERT_BATCH):
            Collaborator.insert_many(batch, fields=fields).execute()
    return len(rows)


def export_rows(query):
    """Yield the roster export's header, then a row per collaborator of the query with its link.

    Needs an app context (BASE_URL).
    """
    organisations = dict(Organisation.select(Organisation.id, Organisation.code).tuples())
    wards = dict(Ward.select(Ward.id, Ward.code).tuples())
    yield EXPORT_HEADER
    for person in query.order_by(Collaborator.name, Collaborator.id).iterator():
        yield [
            neutralise(v)
            for v in (
                person.name,
                person.phone,
                organisations[person.organisation_id],
                wards[person.ward_id],
                personal_link(person),
            )
        ]


def export_chunks(rows, flush_every=500):
    """Yield the roster CSV of export rows as UTF-8 bytes, a BOM first so Excel reads UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    yield BOM.encode("utf-8")
    for count, row in enumerate(rows, 1):
        writer.writerow(row)
        if count % flush_every == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def export_csv(query):
    """Return the roster CSV (no BOM) of a collaborator query, with each one's personal link."""
    out = io.StringIO()
    csv.writer(out).writerows(export_rows(query))
    return out.getvalue()


def export_bytes(query):
    """Return the roster CSV of a collaborator query as UTF-8 bytes with a BOM, for Excel."""
    return b"".join(export_chunks(export_rows(query)))
