"""Exports: raw responses as CSV or XLSX in bounded memory, and tallies as an XLSX workbook.

Rows are plain lists; the writers below neutralise text a spreadsheet could run as a
formula, and the XLSX writer stores every string as a string, never as a formula.
"""

import csv
import io

import xlsxwriter

from survey.cells import neutralise
from survey.i18n import gettext as _
from survey.i18n import local_time
from survey.models import Answer, Choice, Collaborator, Organisation, Response, Ward
from survey.tallies.counting import check_period, lattice

CHUNK = 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _number(value):
    """Return a stored number as an int when it is whole."""
    return int(value) if float(value).is_integer() else value


class _Layout:
    """The columns of a raw export and the lookups that fill them."""

    def __init__(self, questionnaire):
        """Load the questions (sections left out, hidden ones kept), choice keys and codes."""
        self.questionnaire = questionnaire
        questions = [
            q for q in questionnaire.ordered_questions(include_hidden=True) if q.kind != "section"
        ]
        self.column = {q.id: i for i, q in enumerate(questions)}
        self.multi = {q.id for q in questions if q.kind == "multi"}
        self.choice_key = dict(
            Choice.select(Choice.id, Choice.key)
            .where(Choice.question.in_(list(self.column) or [0]))
            .tuples()
        )
        self.ward_code = dict(Ward.select(Ward.id, Ward.code).tuples())
        self.organisation_code = dict(
            Organisation.select(Organisation.id, Organisation.code).tuples()
        )
        self.named = not questionnaire.anonymous
        # An anonymous response has no id, time or order in an export, and its ward and
        # organisation only where the tallies show its ward × organisation cell.
        self.counter, self.shown = lattice(questionnaire) if not self.named else (None, None)
        self.header = (
            ([] if self.shown is not None else ["response", "submitted_at"])
            + ["ward", "organisation"]
            + (["collaborator"] if self.named else [])
            + [q.key for q in questions]
        )

    def value(self, question_id, choice_id, text, number):
        """Return the cell text of one answer row."""
        if choice_id is not None:
            return self.choice_key.get(choice_id, "")
        if number is not None:
            return _number(number)
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
                row = [response_id, local_time(submitted_at).strftime("%Y-%m-%d %H:%M:%S")]
                row += [self.ward_code.get(ward_id, ""), self.organisation_code.get(org_id, "")]
            elif (ward_id, org_id) in self.shown:
                row = [self.ward_code.get(ward_id, ""), self.organisation_code.get(org_id, "")]
            else:
                row = ["", ""]
            if self.named:
                row.append(names.get(collaborator_id, ""))
            row.extend(
                ";".join(map(str, v)) if len(v) > 1 else (v[0] if v else "")
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


def response_rows(questionnaire, filters):
    """Yield the header, then a row per response in id order, reading CHUNK responses at a time."""
    check_period(questionnaire, filters)
    layout = _Layout(questionnaire)
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


def csv_stream(rows, flush_every=500):
    """Yield UTF-8 CSV bytes (with a BOM, so spreadsheets read Vietnamese) of rows, in batches."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    for count, row in enumerate(rows, 1):
        writer.writerow([neutralise(v) if isinstance(v, str) else v for v in row])
        if count % flush_every == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_xlsx(path, sheets):
    """Write (name, rows) sheets to an XLSX file row by row, strings always as strings."""
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        for name, rows in sheets:
            sheet = workbook.add_worksheet(name[:31])
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        sheet.write_number(r, c, value)
                    elif value not in (None, ""):
                        sheet.write_string(r, c, str(value))  # never a formula in XLSX
    finally:
        # Also after a failed query: closing releases the temporary files of each sheet.
        workbook.close()


def _pct(value):
    """Round a percentage for a sheet (None stays empty)."""
    return None if value is None else round(value, 1)


def summary_rows(tally):
    """Return a tally's summary sheet rows: one per choice, or per question without choices."""
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
    rows.append(
        [
            "question",
            "kind",
            "prompt",
            "answered",
            "skipped",
            "mean",
            "choice",
            "label",
            "count",
            "percent",
        ]
    )
    for qt in tally.questions:
        if qt.kind == "section":
            continue
        head = [qt.key, qt.kind, qt.question.prompt, qt.answered, qt.skipped, qt.mean]
        rows.extend(head + [c.key, c.label, c.count, _pct(c.percent)] for c in qt.columns)
        if not qt.columns:
            rows.append(head)
    return rows


def breakdown_rows(tally):
    """Return a breakdown sheet's rows: question, group, answered, then count and % per choice."""
    rows = [["question", "choice", "group", "name", "answered", "count", "percent"]]
    for qt in tally.questions:
        for row in qt.rows:
            rows.extend(
                [qt.key, c.key, row.code, row.name, row.answered, n, _pct(p)]
                for c, n, p in zip(qt.columns, row.counts, row.percents)
            )
    return rows


def cross_rows(tally):
    """Return the ward × organisation table of response counts."""
    rows = [["ward"] + [o.code for o in tally.organisations] + [_("Total")]]
    for w in tally.wards:
        rows.append(
            [w.code]
            + [tally.cross[(w.code, o.code)] for o in tally.organisations]
            + [tally.ward_totals[w.code]]
        )
    rows.append(
        [_("Total")]
        + [tally.organisation_totals[o.code] for o in tally.organisations]
        + [tally.responses]
    )
    return rows
