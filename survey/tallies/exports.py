"""Exports: raw responses as CSV or XLSX in bounded memory, and tallies as an XLSX workbook.

Two variants of each. The labelled one (the default) is for people: columns named by the
question's prompt and, for the fixed columns, in the interface's language; answers as choice
labels, several choices joined by "; "; wards and organisations by name. The codes one is for
analysts: question keys, choice keys joined by ";", ward and organisation codes. Both come with
a codebook (a sheet of the workbook, or a CSV of its own) that ties prompts, keys and labels.

The text written beside an “other” choice: in the labelled variant after the choice's label
("Khác (ghi rõ): …"), that choice always last in a multiple choice's cell, so whatever follows
its label, a ";" included, is its text; in the codes variant in a column of its own,
`<question key>_other_text`, so a codes cell holds nothing but codes.

Rows are plain lists of str, int, float, date and datetime values; the CSV writer writes dates in
ISO form and neutralises text a spreadsheet could run as a formula, the XLSX writer stores dates
as dates, numbers as numbers and every string as a string, never as a formula.
"""

import csv
import datetime
import functools
import io
import itertools
from dataclasses import dataclass

import xlsxwriter
from peewee import fn

from survey.cells import FORMULA_STARTS, neutralise
from survey.db import database, is_sqlite
from survey.i18n import gettext as _
from survey.i18n import kind_label, local_time, other_words, sheet_formats
from survey.models import Answer, Choice, Collaborator, Organisation, Response, Ward
from survey.respond.rules import scale_bounds
from survey.tallies.counting import check_period, lattice

CHUNK = 1000
EXPORT_INDEX = "response_questionnaire_id_state_id"  # (questionnaire, state, id): migration 0016
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
    """The columns of a raw export and the lookups that fill them.

    Rows come from raw cursors over two keyset-paged queries (peewee only writes their SQL):
    converting values field by field through the ORM took most of an export's time. With
    `text`, every cell is made CSV text once (labels neutralised ahead, once each).
    """

    def __init__(self, questionnaire, codes=False, text=False):
        """Load the questions (sections left out, hidden ones kept), choices and group names."""
        self.questionnaire = questionnaire
        self.codes, self.text = codes, text
        questions = [
            q for q in questionnaire.ordered_questions(include_hidden=True) if q.kind != "section"
        ]
        self.column = {q.id: i for i, q in enumerate(questions)}
        # Codes: each question with an “other” choice has a column of its own for the text.
        others = other_questions(questions) if codes else set()
        self.other_column = {
            q.id: len(questions) + n for n, q in enumerate(q for q in questions if q.id in others)
        }
        self.width = len(questions) + len(self.other_column)
        self.dates = {q.id for q in questions if q.kind == "date"}
        self.multi = {q.id for q in questions if q.kind == "multi"}
        cell = _neutral if text else _same
        self.cell = cell
        self.raw_choice = dict(
            Choice.select(Choice.id, Choice.key if codes else Choice.label)
            .where(Choice.question.in_(list(self.column) or [0]))
            .tuples()
        )
        self.choice_name = {i: cell(name) for i, name in self.raw_choice.items()}
        self.separator = ";" if codes else "; "
        self.ward_code = {
            i: cell(n) for i, n in Ward.select(Ward.id, Ward.code if codes else Ward.name).tuples()
        }
        self.organisation_code = {
            i: cell(n)
            for i, n in Organisation.select(
                Organisation.id, Organisation.code if codes else Organisation.name
            ).tuples()
        }
        self.named = not questionnaire.anonymous
        # An anonymous response has no id, time or order in an export, and its ward and
        # organisation only where the tallies show its ward × organisation cell.
        self.counter, self.shown = lattice(questionnaire) if not self.named else (None, None)
        fixed = fixed_columns(self.named, self.shown is None)
        self.header = [key if codes else label for key, label in fixed] + [
            q.key if codes else heading(q) for q in questions
        ]
        self.header += [other_key(q) for q in questions if q.id in self.other_column]

    def value(self, question_id, choice_id, text, number):
        """Return the cell value of one answer row: a choice's key or label, a number, a date."""
        if choice_id is not None and text and self.codes:  # the text has a column of its own
            return self.choice_name.get(choice_id, "")
        if choice_id is not None and text:  # “Khác (ghi rõ)”: the label and what was written
            return self.cell(other_words(self.raw_choice.get(choice_id, ""), text))
        if choice_id is not None:
            return self.choice_name.get(choice_id, "")
        if number is not None:
            return _number(number)
        if question_id in self.dates:
            return _csv_cell(_as_date(text)) if self.text else _as_date(text)
        return self.cell(text or "")

    def _answers(self, responses):
        """Return a chunk's answer rows, in response order (fetched at once: psycopg's cursor
        spends more per row stepped through in Python than on the whole fetch)."""
        ids = [r[0] for r in responses]
        query = (
            Answer.select(
                Answer.response, Answer.question, Answer.choice, Answer.text, Answer.number
            )
            .where(
                Answer.response.in_(ids)
                if self.shown is not None
                else Answer.response.between(ids[0], ids[-1]),
                Answer.questionnaire == self.questionnaire.id,
            )
            .order_by(Answer.response, Answer.id)
        )
        return database.execute_sql(*query.sql()).fetchall()

    def chunk_rows(self, responses):
        """Return the rows of one chunk of responses, their answers read in response order."""
        width, column, multi, choice_name = self.width, self.column, self.multi, self.choice_name
        cells = {r[0]: [None] * width for r in responses}
        current, row = None, None
        for response_id, question_id, choice_id, text, number in self._answers(responses):
            if response_id != current:
                current, row = response_id, cells.get(response_id)
            i = column.get(question_id)
            if row is None or i is None:
                continue
            if choice_id is not None and text and self.codes:  # “other”: its text apart
                row[self.other_column[question_id]] = self.cell(text)
            if question_id in multi:
                # Raw labels, joined then neutralised: a part after "; " is one to the reader.
                name = self.raw_choice.get(choice_id, "") if choice_id is not None else text
                if choice_id is not None and text and not self.codes:  # “Khác (ghi rõ)”: …
                    name = _Other(other_words(name, text))
                row[i] = [name] if row[i] is None else row[i] + [name]
            elif choice_id is not None and not text:  # the common cases first, inline
                row[i] = choice_name.get(choice_id, "")
            elif number is not None and choice_id is None:
                row[i] = _number(number)
            else:
                row[i] = self.value(question_id, choice_id, text, number)
        names = self._names(responses)
        rows = []
        for response_id, submitted_at, ward_id, org_id, collaborator_id in responses:
            if self.shown is None:
                row = [response_id, self._time(submitted_at)]
                row += [self.ward_code.get(ward_id, ""), self.organisation_code.get(org_id, "")]
            elif (ward_id, org_id) in self.shown:
                row = [self.ward_code.get(ward_id, ""), self.organisation_code.get(org_id, "")]
            else:
                row = ["", ""]
            if self.named:
                row.append(names.get(collaborator_id, ""))
            answers = cells[response_id]
            for i in self.multi_columns:
                if answers[i] is not None:
                    # The “other” choice last: all after its label, a ";" too, is its text.
                    parts = sorted(answers[i], key=lambda part: isinstance(part, _Other))
                    answers[i] = self.cell(self.separator.join(map(str, parts)))
            row += answers
            rows.append(row)
        return rows

    @functools.cached_property
    def multi_columns(self):
        """Return the columns of the multi-choice questions."""
        return [self.column[q] for q in self.multi]

    def _time(self, submitted_at):
        """Return a stored UTC time (a datetime, or SQLite's text) as local time for a cell."""
        if isinstance(submitted_at, str):
            submitted_at = datetime.datetime.fromisoformat(submitted_at)
        moment = local_time(submitted_at).replace(tzinfo=None)
        return moment.isoformat(sep=" ", timespec="seconds") if self.text else moment

    def _names(self, responses):
        """Return the collaborator names of a chunk (none for an anonymous questionnaire)."""
        ids = {r[4] for r in responses if r[4] is not None}
        if not self.named or not ids:
            return {}
        return {
            i: self.cell(name)
            for i, name in Collaborator.select(Collaborator.id, Collaborator.name)
            .where(Collaborator.id.in_(ids))
            .tuples()
        }


class _Other(str):
    """A multiple choice's “other” label with its text, which its cell puts last."""


def other_questions(questions):
    """Return the ids of the questions (of those given) that have an “other” choice."""
    ids = [q.id for q in questions]
    return set(
        Choice.select(Choice.question)
        .where(Choice.question.in_(ids or [0]), Choice.other)
        .distinct()
        .scalars()
    )


def other_key(question):
    """Return the codes export's column key of the text written beside a question's “other”."""
    return f"{question.key}_other_text"


def _neutral(value):
    """Return neutralise(value), skipping its regular expression where it can change nothing."""
    if value is None or not isinstance(value, str):
        return neutralise(value)
    return neutralise(value) if ";" in value or value.startswith(FORMULA_STARTS) else value


def _same(value):
    """Return a value as it is (an XLSX cell is never a formula)."""
    return value


def indexed(sql, index):
    """Return a query on the response table that SQLite must read along the named index.

    Without it SQLite may pick the ward × organisation index for a filtered export and sort
    the whole questionnaire's rows again for every chunk; PostgreSQL picks the index itself.
    """
    if not is_sqlite():
        return sql
    return sql.replace(
        'FROM "response" AS "t1"', f'FROM "response" AS "t1" INDEXED BY "{index}"', 1
    )


def _chunk(query, index):
    """Return a chunk query's rows from a raw cursor, read along the named index."""
    sql, params = query.sql()
    return list(database.execute_sql(indexed(sql, index), params))


def response_rows(questionnaire, filters, codes=False, text=False):
    """Yield the header, then a row per counted response in id order, CHUNK responses at a time.

    Keyset paging along the (questionnaire, state, id) index: each chunk starts where the last
    ended, so the whole export reads the index once. `text`: every cell as CSV text.
    """
    check_period(questionnaire, filters)
    layout = _Layout(questionnaire, codes, text)
    yield layout.header
    if layout.shown is not None:
        yield from _anonymous_rows(layout, filters)
        return
    last = 0
    while True:
        responses = _chunk(
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
            .limit(CHUNK),
            EXPORT_INDEX,
        )
        if not responses:
            return
        yield from layout.chunk_rows(responses)
        last = responses[-1][0]


def count_rows(questionnaire, filters):
    """Return how many responses an export of these filters reads (its rows, near enough)."""
    return (
        Response.select(fn.COUNT(Response.id))
        .where(
            Response.questionnaire == questionnaire.id,
            Response.state == Response.COUNTED,
            *filters.conditions(Response),
        )
        .scalar()
    )


def response_sheets(questionnaire, filters, rows, codes=False):
    """Return the sheets of a raw XLSX export: the rows (a sheet named by the slug for analysts)
    and the codebook."""
    name = questionnaire.slug if codes else _("Answers")
    return [Sheet(name, rows), Sheet(_("Codebook"), codebook_rows(questionnaire, filters.scope))]


def _anonymous_rows(layout, filters):
    """Yield the rows of an anonymous questionnaire's published batches, in client_uuid order.

    The client's random uuid orders nothing in time. A ward or organisation filter keeps only
    the responses of shown cells, since the filter itself would name the rest's group.
    """
    released, shown = layout.counter.where(Response)[1:], layout.shown
    narrowed = any((filters.ward, filters.organisation, filters.scope is not None))
    last = ""
    while True:
        responses = _chunk(
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
                Response.state == Response.COUNTED,
                Response.client_uuid > last,
                *released,
                *filters.conditions(Response),
            )
            .order_by(Response.client_uuid)
            .limit(CHUNK),
            "response_client_uuid",
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
            rows.extend(head + [v, scale_label(q, v)] for v in range(low, high + 1))
        elif q.id in choices:
            rows.extend(head + [c.key, c.label] for c in choices[q.id])
            if any(c.other for c in choices[q.id]):
                prompt = _("%(prompt)s – text beside “other” (codes export)", prompt=q.prompt)
                rows.append([prompt, other_key(q), kind_label("text"), "", ""])
        else:
            rows.append(head + ["", ""])
    return rows


def scale_label(question, value):
    """Return a scale value's label: the words on its end where the builder gave them."""
    ends = {
        scale_bounds(question)[0]: question.low_label,
        scale_bounds(question)[1]: question.high_label,
    }
    return ends.get(value) or value


def heading(question):
    """Return a column's heading: the prompt, and a scale's end labels where it has them."""
    if question.kind != "scale" or not (question.low_label or question.high_label):
        return question.prompt
    low, high = scale_bounds(question)
    return (
        f"{question.prompt} ({low} = {question.low_label or low} … "
        f"{high} = {question.high_label or high})"
    )


def _csv_cell(value):
    """Return a value as CSV text: dates in ISO form, text neutralised, numbers as they are."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return neutralise(value) if isinstance(value, str) else value


def csv_stream(rows, flush_every=500, prepared=False):
    """Yield UTF-8 CSV bytes (with a BOM, so spreadsheets read Vietnamese) of rows, in batches.

    `prepared`: the rows' cells are already CSV text (response_rows(text=True)), written as
    they are.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    rows = iter(rows)
    while batch := list(itertools.islice(rows, flush_every)):
        writer.writerows(batch if prepared else ([_csv_cell(v) for v in row] for row in batch))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


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


MAX_ROWS = 1_048_576  # an XLSX sheet's rows; a longer sheet goes on in another
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
            _write_sheet(workbook, sheet, formats)
    finally:
        # Also after a failed query: closing releases the temporary files of each sheet.
        workbook.close()


def _write_sheet(workbook, sheet, formats):
    """Size the columns from the first rows, then write every row in order.

    Past MAX_ROWS rows the sheet goes on in another one, "Name (2)", under the same header.
    """
    rows = iter(sheet.rows)
    head = list(itertools.islice(rows, sheet.header + WIDTH_SAMPLE))
    widths = _widths(head, sheet.header)
    for c in sheet.text_columns:
        widths.setdefault(c, 16)
    top = head[: sheet.header + 1]
    rows = itertools.chain(head[sheet.header + 1 :], rows)
    for part in itertools.count(1):
        name = sheet.name[:31] if part == 1 else f"{sheet.name[:24]} ({part})"
        worksheet = workbook.add_worksheet(name)
        for c, width in widths.items():
            worksheet.set_column(c, c, width, formats["text"] if c in sheet.text_columns else None)
        worksheet.freeze_panes(sheet.header + 1, 0)
        body = itertools.islice(rows, MAX_ROWS - len(top))
        written = 0
        for r, row in enumerate(itertools.chain(top, body)):
            bold = formats["bold"] if r == sheet.header else None
            for c, value in enumerate(row):
                _write_cell(worksheet, r, c, value, bold, formats)
            written = r + 1
        following = next(rows, None) if written == MAX_ROWS else None
        if following is None:
            return
        rows = itertools.chain([following], rows)


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
