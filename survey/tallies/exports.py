"""Exports: raw responses as CSV or XLSX in bounded memory, and tallies as an XLSX workbook.

Two variants of each. The labelled one (the default) is for people: columns named by the
question's prompt and, for the fixed columns, in the interface's language; answers as choice
labels, several choices joined by "; "; wards and organisations by name. The codes one is for
analysts: question keys, choice keys joined by ";", ward and organisation codes. Both come with
a codebook (a sheet of the workbook, or a CSV of its own) that ties prompts, keys and labels.

Rows are plain lists of str, int, float, date and datetime values; the CSV writer writes dates in
ISO form and neutralises text a spreadsheet could run as a formula, the XLSX writer stores dates
as dates, numbers as numbers and every string as a string, never as a formula.
"""

import csv
import datetime
import io
import itertools
from dataclasses import dataclass

import xlsxwriter

from survey.cells import neutralise
from survey.i18n import gettext as _
from survey.i18n import kind_label, local_time, sheet_formats
from survey.models import Answer, Choice, Collaborator, Organisation, Response, Ward
from survey.respond.rules import scale_bounds
from survey.tallies.counting import check_period, lattice

CHUNK = 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _number(value):
    """Return a stored number as an int when it is whole."""
    return int(value) if float(value).is_integer() else value


def fixed_columns(named, timed):
    """Return the (key, label) of an export's columns before the questions."""
    columns = [("response", _("Response no.")), ("submitted_at", _("Submitted at"))]
    columns = columns if timed else []
    columns += [("ward", _("Ward")), ("organisation", _("Organisation"))]
    return columns + ([("collaborator", _("Collaborator"))] if named else [])


def _as_date(text):
    """Return a date answer as a date when it reads as one, else the text as answered."""
    try:
        return datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        return text or ""


class _Layout:
    """The columns of a raw export and the lookups that fill them."""

    def __init__(self, questionnaire, codes=False):
        """Load the questions (sections left out, hidden ones kept), choices and group names."""
        self.questionnaire = questionnaire
        self.codes = codes
        questions = [
            q for q in questionnaire.ordered_questions(include_hidden=True) if q.kind != "section"
        ]
        self.column = {q.id: i for i, q in enumerate(questions)}
        self.dates = {q.id for q in questions if q.kind == "date"}
        self.choice_name = dict(
            Choice.select(Choice.id, Choice.key if codes else Choice.label)
            .where(Choice.question.in_(list(self.column) or [0]))
            .tuples()
        )
        self.separator = ";" if codes else "; "
        self.ward_code = dict(Ward.select(Ward.id, Ward.code if codes else Ward.name).tuples())
        self.organisation_code = dict(
            Organisation.select(
                Organisation.id, Organisation.code if codes else Organisation.name
            ).tuples()
        )
        self.named = not questionnaire.anonymous
        # An anonymous response has no id, time or order in an export, and its ward and
        # organisation only where the tallies show its ward × organisation cell.
        self.counter, self.shown = lattice(questionnaire) if not self.named else (None, None)
        fixed = fixed_columns(self.named, self.shown is None)
        self.header = [key if codes else label for key, label in fixed] + [
            q.key if codes else q.prompt for q in questions
        ]

    def value(self, question_id, choice_id, text, number):
        """Return the cell value of one answer row: a choice's key or label, a number, a date."""
        if choice_id is not None:
            return self.choice_name.get(choice_id, "")
        if number is not None:
            return _number(number)
        if question_id in self.dates:
            return _as_date(text)
        return text or ""

    def chunk_rows(self, responses):
        """Return the rows of one chunk of responses, their answers read in response order."""
        cells = {r[0]: [[] for _ in self.column] for r in responses}
        answers = (
            Answer.select(
                Answer.response, Answer.question, Answer.choice, Answer.text, Answer.number
            )
            .where(
                Answer.response.in_([r[0] for r in responses])
                if self.shown is not None
                else Answer.response.between(responses[0][0], responses[-1][0]),
                Answer.questionnaire == self.questionnaire.id,
            )
            .order_by(Answer.response, Answer.id)
            .tuples()
        )
        for response_id, question_id, choice_id, text, number in answers.iterator():
            if response_id in cells and question_id in self.column:
                cells[response_id][self.column[question_id]].append(
                    self.value(question_id, choice_id, text, number)
                )
        names = self._names(responses)
        rows = []
        for response_id, submitted_at, ward_id, org_id, collaborator_id in responses:
            if self.shown is None:
                row = [response_id, local_time(submitted_at).replace(tzinfo=None)]
                row += [self.ward_code.get(ward_id, ""), self.organisation_code.get(org_id, "")]
            elif (ward_id, org_id) in self.shown:
                row = [self.ward_code.get(ward_id, ""), self.organisation_code.get(org_id, "")]
            else:
                row = ["", ""]
            if self.named:
                row.append(names.get(collaborator_id, ""))
            row.extend(
                self.separator.join(map(str, v)) if len(v) > 1 else (v[0] if v else "")
                for v in cells[response_id]
            )
            rows.append(row)
        return rows

    def _names(self, responses):
        """Return the collaborator names of a chunk (none for an anonymous questionnaire)."""
        ids = {r[4] for r in responses if r[4] is not None}
        if not self.named or not ids:
            return {}
        return dict(
            Collaborator.select(Collaborator.id, Collaborator.name)
            .where(Collaborator.id.in_(ids))
            .tuples()
        )


def response_rows(questionnaire, filters, codes=False):
    """Yield the header, then a row per response in id order, reading CHUNK responses at a time."""
    check_period(questionnaire, filters)
    layout = _Layout(questionnaire, codes)
    yield layout.header
    if layout.shown is not None:
        yield from _anonymous_rows(layout, filters)
        return
    last = 0
    while True:
        responses = list(
            Response.select(
                Response.id,
                Response.submitted_at,
                Response.ward,
                Response.organisation,
                Response.collaborator,
            )
            .where(
                Response.questionnaire == questionnaire.id,
                Response.state == Response.COUNTED,
                Response.id > last,
                *filters.conditions(Response),
            )
            .order_by(Response.id)
            .limit(CHUNK)
            .tuples()
        )
        if not responses:
            return
        yield from layout.chunk_rows(responses)
        last = responses[-1][0]


def _anonymous_rows(layout, filters):
    """Yield the rows of an anonymous questionnaire's published batches, in client_uuid order.

    The client's random uuid orders nothing in time. A ward or organisation filter keeps only
    the responses of shown cells, since the filter itself would name the rest's group.
    """
    released, shown = layout.counter.where(Response)[1:], layout.shown
    narrowed = any((filters.ward, filters.organisation, filters.scope is not None))
    last = ""
    while True:
        responses = list(
            Response.select(
                Response.id,
                Response.submitted_at,
                Response.ward,
                Response.organisation,
                Response.collaborator,
                Response.client_uuid,
            )
            .where(
                Response.questionnaire == layout.questionnaire.id,
                Response.client_uuid > last,
                *released,
                *filters.conditions(Response),
            )
            .order_by(Response.client_uuid)
            .limit(CHUNK)
            .tuples()
        )
        if not responses:
            return
        last = responses[-1][-1]
        kept = [r[:5] for r in responses if not narrowed or (r[2], r[3]) in shown]
        if kept:
            yield from layout.chunk_rows(kept)


def codebook_rows(questionnaire, scope=None):
    """Return the codebook: each column's label and key, kind, and each code with its label."""
    named = not questionnaire.anonymous
    rows = [[_("Column"), _("Column key"), _("Kind"), _("Answer code"), _("Label")]]
    timed = named  # an anonymous export has no id or time
    for key, label in fixed_columns(named, timed):
        rows.append([label, key, "", "", ""])
    organisations = Organisation.ordered()
    if scope is not None:
        organisations = organisations.where(Organisation.id == scope)
    rows.extend([_("Ward"), "ward", "", w.code, w.name] for w in Ward.ordered())
    rows.extend([_("Organisation"), "organisation", "", o.code, o.name] for o in organisations)
    questions = [
        q for q in questionnaire.ordered_questions(include_hidden=True) if q.kind != "section"
    ]
    choices = {}
    for c in (
        Choice.select()
        .where(Choice.question.in_([q.id for q in questions] or [0]))
        .order_by(Choice.position, Choice.id)
    ):
        choices.setdefault(c.question_id, []).append(c)
    for q in questions:
        head = [q.prompt, q.key, kind_label(q.kind)]
        if q.kind == "scale":
            low, high = scale_bounds(q)
            rows.extend(head + [v, v] for v in range(low, high + 1))
        elif q.id in choices:
            rows.extend(head + [c.key, c.label] for c in choices[q.id])
        else:
            rows.append(head + ["", ""])
    return rows


def _csv_cell(value):
    """Return a value as CSV text: dates in ISO form, text neutralised, numbers as they are."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return neutralise(value) if isinstance(value, str) else value


def csv_stream(rows, flush_every=500):
    """Yield UTF-8 CSV bytes (with a BOM, so spreadsheets read Vietnamese) of rows, in batches."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    for count, row in enumerate(rows, 1):
        writer.writerow([_csv_cell(v) for v in row])
        if count % flush_every == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


@dataclass
class Share:
    """A percentage (0..100) to write as a number formatted as a percentage."""

    value: float | None


@dataclass
class Sheet:
    """One worksheet: its name, its rows, and which row is the bold, frozen header."""

    name: str
    rows: object
    header: int = 0
    text_columns: tuple = ()  # columns formatted as text, so a typed 0908… keeps its 0


WIDTH_SAMPLE = 200  # rows read ahead to size the columns; the rest streams after them
NARROWEST, WIDEST = 8, 50


def _width(value):
    """Return the characters a value takes in a cell."""
    if isinstance(value, datetime.datetime):
        return 17
    if isinstance(value, (datetime.date, Share)):
        return 11
    return max((len(line) for line in str(value).splitlines()), default=0)


def _widths(rows, header):
    """Return each column's width from the first rows after the header (the header wraps)."""
    widths = {}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value not in (None, "") and r != header:
                widths[c] = max(widths.get(c, NARROWEST), min(_width(value) + 2, WIDEST))
        if r == header:
            for c, value in enumerate(row):
                widths.setdefault(c, NARROWEST)
                widths[c] = max(widths[c], min(len(str(value or "")) // 2 + 2, WIDEST))
    return widths


def write_xlsx(path, sheets):
    """Write sheets to an XLSX file row by row: strings as strings, numbers, dates, percentages."""
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    day, moment = sheet_formats()
    formats = {
        "bold": workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"}),
        "date": workbook.add_format({"num_format": day}),
        "datetime": workbook.add_format({"num_format": moment}),
        "percent": workbook.add_format({"num_format": "0.0%"}),
        "text": workbook.add_format({"num_format": "@"}),
    }
    try:
        for sheet in sheets:
            _write_sheet(workbook.add_worksheet(sheet.name[:31]), sheet, formats)
    finally:
        # Also after a failed query: closing releases the temporary files of each sheet.
        workbook.close()


def _write_sheet(worksheet, sheet, formats):
    """Size the columns from the first rows, then write every row in order."""
    rows = iter(sheet.rows)
    head = list(itertools.islice(rows, sheet.header + WIDTH_SAMPLE))
    widths = _widths(head, sheet.header)
    for c in sheet.text_columns:
        widths.setdefault(c, 16)
    for c, width in widths.items():
        worksheet.set_column(c, c, width, formats["text"] if c in sheet.text_columns else None)
    worksheet.freeze_panes(sheet.header + 1, 0)
    for r, row in enumerate(itertools.chain(head, rows)):
        bold = formats["bold"] if r == sheet.header else None
        for c, value in enumerate(row):
            _write_cell(worksheet, r, c, value, bold, formats)


def _write_cell(worksheet, r, c, value, bold, formats):
    """Write one value with its type: never a formula, never an added character."""
    if isinstance(value, Share):
        if value.value is not None:
            worksheet.write_number(r, c, value.value / 100, formats["percent"])
    elif isinstance(value, datetime.datetime):
        worksheet.write_datetime(r, c, value, formats["datetime"])
    elif isinstance(value, datetime.date):
        worksheet.write_datetime(r, c, value, formats["date"])
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        worksheet.write_number(r, c, value, bold)
    elif value not in (None, ""):
        worksheet.write_string(r, c, str(value), bold)  # never a formula in XLSX


def _mean(value):
    """Round a mean to two places for a sheet (None stays empty)."""
    return None if value is None else round(value, 2)


def summary_rows(tally, codes=False):
    """Return a tally's summary sheet rows and its header's index: a row per choice or question."""
    rows = []
    if tally.k > 1:
        rows.append(
            [
                _(
                    "Counts from 1 to %(last)s, and figures from which they could be worked "
                    "out, are left empty.",
                    last=tally.k - 1,
                )
            ]
        )
    rows.append([_("Responses"), tally.responses])
    if codes:
        rows.append(
            ["question", "kind", "prompt", "answered", "skipped", "not_asked", "mean"]
            + ["choice", "label", "count", "percent"]
        )
    else:
        rows.append(
            [_("Question"), _("Kind"), _("Answered"), _("Skipped"), _("Not asked"), _("Mean")]
            + [_("Choice"), _("Count"), _("Percent")]
        )
    header = len(rows) - 1
    for qt in tally.questions:
        if qt.kind == "section":
            continue
        if codes:
            head = [qt.key, qt.kind, qt.question.prompt]
        else:
            head = [qt.question.prompt, kind_label(qt.kind)]
        head += [qt.answered, qt.skipped, qt.not_asked, _mean(qt.mean)]
        rows.extend(
            head + ([c.key, c.label] if codes else [c.label]) + [c.count, Share(c.percent)]
            for c in qt.columns
        )
        if not qt.columns:
            rows.append(head)
    return rows, header


def breakdown_rows(tally, codes=False):
    """Return a breakdown sheet's rows: question, choice, group, answered, count and %."""
    if codes:
        rows = [["question", "choice", "group", "name", "answered", "count", "percent"]]
    else:
        group = _("Ward") if tally.filters.by == "ward" else _("Organisation")
        rows = [[_("Question"), _("Choice"), group, _("Answered"), _("Count"), _("Percent")]]
    for qt in tally.questions:
        for row in qt.rows:
            for c, n, p in zip(qt.columns, row.counts, row.percents):
                if codes:
                    rows.append([qt.key, c.key, row.code, row.name, row.answered, n, Share(p)])
                else:
                    rows.append([qt.question.prompt, c.label, row.name, row.answered, n, Share(p)])
    return rows


def cross_rows(tally, codes=False):
    """Return the ward × organisation table of response counts."""
    organisations = [o.code if codes else o.name for o in tally.organisations]
    rows = [["ward" if codes else _("Ward")] + organisations + [_("Total")]]
    for w in tally.wards:
        rows.append(
            [w.code if codes else w.name]
            + [tally.cross[(w.code, o.code)] for o in tally.organisations]
            + [tally.ward_totals[w.code]]
        )
    rows.append(
        [_("Total")]
        + [tally.organisation_totals[o.code] for o in tally.organisations]
        + [tally.responses]
    )
    return rows
