"""Tallies: SQL aggregation of a questionnaire's answers, breakdowns and small-count suppression.

No Flask request in here: the HTTP layer turns GET parameters and the viewer's scope into
`Filters` with `parse_filters`, then asks `tally(questionnaire, filters)`.

Rules decided here (README/DESIGN refer to them):
- Sections are not questions: they are left out of the API and of exports.
- Hidden questions and choices keep showing their counts (marked hidden), so totals
  stay consistent with what was answered before they were hidden.
- Scale questions count each value min..max as a choice keyed "1".."5"; number
  questions give a mean and, on pages, a distribution in ranges (no choices in the API);
  text, long text and date questions give their answered count and a searchable list.
- Suppression (`suppressed_cells`, the one place): with `suppress_below = k`, every count
  from 1 to k-1 is withheld, and then, for every sum that is shown (a total and the
  parts it adds up to), if exactly one member is withheld, the smallest non-zero other
  part is withheld too, until nothing changes. Zero stays 0. Percentages and means
  built on a withheld figure are withheld.
"""

import datetime
import math
from dataclasses import dataclass, field

from peewee import SQL, fn

from survey.db import is_sqlite
from survey.i18n import gettext as _
from survey.i18n import to_utc
from survey.models import (
    Answer,
    Choice,
    Organisation,
    QuestionnaireOrganisation,
    QuestionnaireWard,
    Response,
    Ward,
)
from survey.numbers import format_number
from survey.params import BadParameter
from survey.respond.rules import scale_bounds

BREAKDOWNS = ("ward", "organisation")
LISTED_KINDS = ("text", "longtext", "date")
ADDITIVE_KINDS = ("single", "scale", "number")  # a response gives at most one of the columns
NUMBER_BINS = 8
FIRST_DAY = datetime.date(1900, 1, 1)  # the range a filter date may take
LAST_DAY = datetime.date(9998, 12, 31)


class FilterError(BadParameter):
    """A filter that cannot be applied (unknown code, bad date); its text is for the user."""


@dataclass
class Filters:
    """Which responses a tally counts, and how it breaks them down."""

    ward: Ward | None = None
    organisation: Organisation | None = None
    start: datetime.date | None = None
    end: datetime.date | None = None  # inclusive, a whole local day
    by: str | None = None
    scope: int | None = None  # the organisation id the viewer is limited to

    def conditions(self, model):
        """Return the WHERE terms for a model carrying ward, organisation and submitted_at."""
        terms = []
        if self.ward is not None:
            terms.append(model.ward == self.ward.id)
        if self.organisation is not None:
            terms.append(model.organisation == self.organisation.id)
        if self.scope is not None:
            terms.append(model.organisation == self.scope)
        if self.start is not None:
            terms.append(model.submitted_at >= to_utc(_midnight(self.start)))
        if self.end is not None:
            terms.append(model.submitted_at < to_utc(_midnight(self.end + datetime.timedelta(1))))
        return terms

    def params(self):
        """Return the filters as GET parameters (codes and ISO dates), for links."""
        values = {
            "ward": self.ward and self.ward.code,
            "organisation": self.organisation and self.organisation.code,
            "from": self.start and self.start.isoformat(),
            "to": self.end and self.end.isoformat(),
            "by": self.by,
        }
        return {k: v for k, v in values.items() if v}


def _midnight(day):
    """Return the local midnight starting a day."""
    return datetime.datetime.combine(day, datetime.time())


def _parse_date(raw, label):
    """Parse an optional YYYY-MM-DD filter date."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError:
        raise FilterError(_("%(label)s must be a date as year-month-day.", label=label)) from None
    # A day at either end of the calendar has no midnight in UTC on the other side of it.
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FilterError(
            _(
                "%(label)s must be between %(first)s and %(last)s.",
                label=label,
                first=FIRST_DAY.isoformat(),
                last=LAST_DAY.isoformat(),
            )
        )
    return day


def parse_filters(args, scope=None):
    """Turn GET parameters (ward, organisation, from, to, by) into Filters, or raise FilterError."""
    filters = Filters(scope=scope, by=(args.get("by") or "").strip() or None)
    if filters.by is not None and filters.by not in BREAKDOWNS:
        raise FilterError(_("A breakdown is by ward or by organisation."))
    code = (args.get("ward") or "").strip()
    if code:
        filters.ward = Ward.get_or_none(Ward.code == code)
        if filters.ward is None:
            raise FilterError(_("Unknown ward: %(code)s", code=code))
    code = (args.get("organisation") or "").strip()
    if code:
        filters.organisation = Organisation.get_or_none(Organisation.code == code)
        # Another organisation is as unknown to a scoped viewer as a made-up code.
        if filters.organisation is None or (scope is not None and filters.organisation.id != scope):
            raise FilterError(_("Unknown organisation: %(code)s", code=code))
    filters.start = _parse_date(args.get("from"), _("The start date"))
    filters.end = _parse_date(args.get("to"), _("The end date"))
    if filters.start and filters.end and filters.start > filters.end:
        raise FilterError(_("The start date must not be after the end date."))
    return filters


# ---------------------------------------------------------------- results


@dataclass
class Column:
    """One choice (or scale value, or number range) of a question with its count."""

    key: str
    label: str
    hidden: bool
    count: int | None
    percent: float | None


@dataclass
class GroupRow:
    """One ward or organisation in a question's breakdown."""

    code: str
    name: str
    answered: int | None
    counts: list  # per column: int or None
    percents: list  # per column: float or None


@dataclass
class QuestionTally:
    """The tally of one question (or a section heading, with nothing counted)."""

    question: object
    answered: int | None = None
    skipped: int | None = None
    columns: list = field(default_factory=list)
    mean: float | None = None
    rows: list = field(default_factory=list)

    @property
    def key(self):
        """Return the question's key."""
        return self.question.key

    @property
    def kind(self):
        """Return the question's kind."""
        return self.question.kind

    @property
    def listed(self):
        """Tell whether the answers are free text to read in a list."""
        return self.kind in LISTED_KINDS


@dataclass
class Tally:
    """Everything a tally page, report, API answer or workbook shows, suppression applied."""

    questionnaire: object
    filters: Filters
    k: int
    responses: int | None
    wards: list
    organisations: list
    cross: dict  # (ward code, organisation code) -> count or None
    ward_totals: dict  # ward code -> count or None
    organisation_totals: dict
    questions: list
    groups: list = field(default_factory=list)  # the breakdown's wards or organisations

    @property
    def small(self):
        """Tell whether the filtered responses are too few to show anything individual."""
        return self.responses is None

    def api(self):
        """Return the JSON document of the tally API (sections left out)."""
        return {
            "questionnaire": {"slug": self.questionnaire.slug, "title": self.questionnaire.title},
            "responses": self.responses,
            "questions": [
                _question_api(q, self.filters.by) for q in self.questions if q.kind != "section"
            ],
        }


def _question_api(qt, by):
    """Return one question of the API document."""
    columns = [] if qt.kind == "number" else qt.columns
    item = {
        "key": qt.key,
        "kind": qt.kind,
        "answered": qt.answered,
        "choices": [{"key": c.key, "label": c.label, "count": c.count} for c in columns],
    }
    if qt.kind in ("scale", "number"):
        item["mean"] = qt.mean
    if by:
        item["by"] = {row.code: {c.key: n for c, n in zip(columns, row.counts)} for row in qt.rows}
    return item


# ---------------------------------------------------------------- suppression


def suppressed_cells(cells, lines, k):
    """Return the keys of counts to withhold: 1..k-1, then one more in any sum revealing one.

    `cells` maps a key to its count; `lines` lists (total key, [part keys]) whose parts add
    up to the total. Zero is never withheld, so a zero stays 0.
    """
    if k <= 1:
        return set()
    hidden = {key for key, value in cells.items() if 0 < value < k}
    changed = bool(hidden)
    while changed:
        changed = False
        for total, parts in lines:
            unknown = sum(1 for m in (total, *parts) if m in hidden)
            if unknown != 1:
                continue
            pick = [p for p in parts if p not in hidden and cells[p] > 0]
            if not pick and total not in hidden and cells[total] > 0:
                pick = [total]
            if pick:
                hidden.add(min(pick, key=lambda p: (cells[p], str(p))))
                changed = True
    return hidden


def _percent(part, whole):
    """Return part/whole in percent, or None when either is withheld or whole is 0."""
    if part is None or whole is None or whole == 0:
        return None
    return 100.0 * part / whole


# ---------------------------------------------------------------- counting


def _dimension(questionnaire, filters, name):
    """Return the wards (or organisations) a tally shows: targeted or active, or with answers."""
    if name == "ward":
        model, fixed, answered = Ward, filters.ward, Response.ward
        targets = QuestionnaireWard.select(QuestionnaireWard.ward).where(
            QuestionnaireWard.questionnaire == questionnaire
        )
    else:
        model, fixed, answered = Organisation, filters.organisation, Response.organisation
        targets = QuestionnaireOrganisation.select(QuestionnaireOrganisation.organisation).where(
            QuestionnaireOrganisation.questionnaire == questionnaire
        )
        if fixed is None and filters.scope is not None:
            return list(model.select().where(model.id == filters.scope))
    if fixed is not None:
        return [fixed]
    wanted = model.id.in_(targets) if targets.exists() else model.active
    responded = Response.select(answered).where(Response.questionnaire == questionnaire)
    return list(model.select().where(wanted | model.id.in_(responded)).order_by(model.code))


def _scale_columns(question, observed):
    """Return a scale's values min..max (plus any answered outside, after a bound was edited)."""
    low, high = scale_bounds(question)
    values = sorted(set(range(low, high + 1)) | {int(v) for v in observed})
    return [(v, str(v), str(v), False) for v in values]


def _nice_width(span):
    """Return a round bin width (1, 2 or 5 times a power of ten) covering span in NUMBER_BINS."""
    raw = span / NUMBER_BINS
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _fmt(number):
    """Write a range's bound in the page's language."""
    return format_number(number)


class _Counter:
    """Collects the counts of one tally as cells and the sums between them."""

    def __init__(self, questionnaire, filters):
        """Load the questions, choices and groups of the tally."""
        self.questionnaire, self.filters = questionnaire, filters
        self.questions = list(questionnaire.ordered_questions(include_hidden=True))
        self.counted = [q for q in self.questions if q.kind != "section"]
        self.wards = _dimension(questionnaire, filters, "ward")
        self.organisations = _dimension(questionnaire, filters, "organisation")
        self.groups = {"ward": self.wards, "organisation": self.organisations}.get(filters.by, [])
        self.cells, self.lines = {}, []
        self.columns = {}  # question id -> list of (cell id, key, label, hidden)
        self.sums = {}  # (question id, group id or None) -> (count, sum) of numbers

    def where(self, model=Answer):
        """Return the WHERE terms of this tally's answers (or responses)."""
        return [model.questionnaire == self.questionnaire.id, *self.filters.conditions(model)]

    def add(self, key, value):
        """Add to a cell."""
        self.cells[key] = self.cells.get(key, 0) + value

    def run(self):
        """Run the queries and return self."""
        self.count_responses()
        self.count_answers()
        self.link_lines()
        return self

    def count_responses(self):
        """Count responses per ward × organisation: the totals, the groups and the cross table."""
        for w in self.wards:
            for o in self.organisations:
                self.cells[("cross", w.id, o.id)] = 0
        self.cells[("responses",)] = 0
        for w in self.wards:
            self.cells[("ward", w.id)] = 0
        for o in self.organisations:
            self.cells[("organisation", o.id)] = 0
        query = (
            Response.select(Response.ward, Response.organisation, fn.COUNT(Response.id))
            .where(*self.where(Response))
            .group_by(Response.ward, Response.organisation)
            .tuples()
        )
        for ward_id, org_id, n in query:
            self.add(("cross", ward_id, org_id), n)
            self.add(("ward", ward_id), n)
            self.add(("organisation", org_id), n)
            self.add(("responses",), n)

    def count_answers(self):
        """Count each question's choices, values and respondents in one GROUP BY; add the groups.

        The groups are few (one per choice or distinct value, in each group of the breakdown);
        adding them into totals and breakdown cells is all the Python here does. A number
        question whose answers are nearly all different (money, say) is the exception: it
        makes about as many groups as answers.
        """
        kinds = {q.id: q.kind for q in self.counted}
        if not kinds:
            return
        rows = self.answer_groups(list(kinds))
        observed = {}  # question id -> the scale and number values answered
        for qid, _gid, _choice, value, _n, _answered in rows:
            if value is not None:
                observed.setdefault(qid, set()).add(value)
        bins = self.make_columns(observed)
        self._zero_columns(list(kinds))
        for qid, gid, choice_id, value, n, answered in rows:
            if kinds[qid] in ("scale", "number"):
                start, width = bins.get(qid, (0, 1))
                column = (
                    int(value) if kinds[qid] == "scale" else math.floor((value - start) / width)
                )
                self._add_count(qid, column, gid, n)
                self._add_sum(qid, gid, n, n * value)
            elif choice_id is not None:
                self._add_count(qid, choice_id, gid, n)
            self._add_answered(qid, gid, answered)

    def answer_groups(self, question_ids):
        """Return (question, group or None, choice, number, answers, respondents) rows by GROUP BY.

        COUNT(*) FILTER (WHERE first_row) counts respondents: a multi-choice answer has a row
        per choice. SQLite groups at the finest grain (question, ward, organisation, choice,
        number), the order of the answer table's tally index, so it reads that index once and
        sorts nothing; PostgreSQL hashes, and the fewer the keys the faster, so it groups by
        the breakdown's column only.
        """
        by = self.filters.by
        places = ["ward", "organisation"] if is_sqlite() else [by] if by else []
        keys = [
            Answer.question,
            *(getattr(Answer, name) for name in places),
            Answer.choice,
            Answer.number,
        ]
        query = (
            Answer.select(*keys, fn.COUNT(SQL("*")), fn.COUNT(SQL("*")).filter(Answer.first_row))
            .where(Answer.question.in_(question_ids), *self.filters.conditions(Answer))
            .group_by(*keys)
            .tuples()
        )
        at = 1 + places.index(by) if by else None
        return [(row[0], row[at] if at else None, *row[-4:]) for row in query]

    def make_columns(self, observed):
        """Set each question's columns (choices, scale values, number ranges); return the ranges."""
        choice_ids = [q.id for q in self.counted if q.kind in ("single", "multi")]
        for q in self.counted:
            if q.kind not in ("scale", "number"):
                self.columns[q.id] = []
        if choice_ids:
            for c in (
                Choice.select()
                .where(Choice.question.in_(choice_ids))
                .order_by(Choice.position, Choice.id)
            ):
                self.columns[c.question_id].append((c.id, c.key, c.label, c.hidden))
        bins = {}
        for q in self.counted:
            values = observed.get(q.id, ())
            if q.kind == "scale":
                self.columns[q.id] = _scale_columns(q, values)
            elif q.kind == "number":
                seen = (min(values), max(values)) if values else None
                bins[q.id] = self._number_columns(q, seen)
        return bins

    def _zero_columns(self, ids):
        """Start every counted cell of these questions at 0, so zeros appear as zeros."""
        for qid in ids:
            self.cells[("answered", qid)] = 0
            for cid, *_rest in self.columns[qid]:
                self.cells[("count", qid, cid)] = 0
                for g in self.groups:
                    self.cells[("count", qid, cid, g.id)] = 0
            for g in self.groups:
                self.cells[("answered", qid, g.id)] = 0

    def _add_count(self, qid, cid, gid, n):
        """Add n answers of a column, overall and in its group."""
        self.add(("count", qid, cid), n)
        if gid is not None:
            self.add(("count", qid, cid, gid), n)

    def _add_answered(self, qid, gid, n):
        """Add n answered, overall and in its group."""
        self.add(("answered", qid), n)
        if gid is not None:
            self.add(("answered", qid, gid), n)

    def _add_sum(self, qid, gid, n, amount):
        """Add n numbers adding up to amount, overall and in its group (for means)."""
        for key in {(qid, None), (qid, gid)}:
            count, total = self.sums.get(key, (0, 0.0))
            self.sums[key] = (count + n, total + amount)

    def _number_columns(self, question, seen):
        """Set a number question's ranges (bounds, else answers seen); return (start, width)."""
        low = question.minimum if question.minimum is not None else (seen or (0, 0))[0]
        high = question.maximum if question.maximum is not None else (seen or (0, 0))[1]
        width = _nice_width(high - low) if high > low else 1
        start = math.floor(low / width) * width
        last = math.floor((high - start) / width)
        if seen is not None:  # answered before a bound was narrowed still gets a range
            last = max(last, math.floor((seen[1] - start) / width))
        first = min(0, math.floor(((seen or (start, 0))[0] - start) / width))
        self.columns[question.id] = [
            (
                i,
                _fmt(start + i * width),
                f"{_fmt(start + i * width)}–{_fmt(start + (i + 1) * width)}",
                False,
            )
            for i in range(first, last + 1)
        ]
        return start, width

    def link_lines(self):
        """Declare which cells add up to which, for the suppression rule."""
        group_total = {"ward": "ward", "organisation": "organisation"}.get(self.filters.by)
        lines = self.lines
        lines.append((("responses",), [("ward", w.id) for w in self.wards]))
        lines.append((("responses",), [("organisation", o.id) for o in self.organisations]))
        for w in self.wards:
            lines.append((("ward", w.id), [("cross", w.id, o.id) for o in self.organisations]))
        for o in self.organisations:
            lines.append((("organisation", o.id), [("cross", w.id, o.id) for w in self.wards]))
        for q in self.counted:
            self._link_question(q, group_total)

    def _link_question(self, q, group_total):
        """Declare the sums of one question: answered + skipped, columns, and the breakdown."""
        responses = self.cells[("responses",)]
        self.cells[("skipped", q.id)] = responses - self.cells[("answered", q.id)]
        self.lines.append((("responses",), [("answered", q.id), ("skipped", q.id)]))
        ids = [c[0] for c in self.columns.get(q.id, [])]
        if q.kind in ADDITIVE_KINDS:
            self.lines.append((("answered", q.id), [("count", q.id, c) for c in ids]))
        if not group_total:
            return
        for g in self.groups:
            self.cells[("skipped", q.id, g.id)] = (
                self.cells[(group_total, g.id)] - self.cells[("answered", q.id, g.id)]
            )
            self.lines.append(
                ((group_total, g.id), [("answered", q.id, g.id), ("skipped", q.id, g.id)])
            )
            if q.kind in ADDITIVE_KINDS:
                self.lines.append(
                    (("answered", q.id, g.id), [("count", q.id, c, g.id) for c in ids])
                )
        for name in ("answered", "skipped"):
            self.lines.append(((name, q.id), [(name, q.id, g.id) for g in self.groups]))
        for c in ids:
            self.lines.append((("count", q.id, c), [("count", q.id, c, g.id) for g in self.groups]))


# ---------------------------------------------------------------- assembling


class _Assembler:
    """Turns counted cells into the published Tally, with withheld cells as None."""

    def __init__(self, counter, hidden):
        """Keep the counter and the withheld keys."""
        self.c, self.hidden = counter, hidden

    def get(self, *key):
        """Return a published cell: its count, or None when withheld."""
        return None if key in self.hidden else self.c.cells.get(key, 0)

    def mean(self, q, gid=None):
        """Return a scale or number mean, withheld when any count it rests on is withheld."""
        count, amount = self.c.sums.get((q.id, gid), (0, 0.0))
        keys = [("answered", q.id)] + [("count", q.id, col[0]) for col in self.c.columns[q.id]]
        if not count or any(k in self.hidden for k in keys):
            return None
        return amount / count

    def question(self, q):
        """Return the published tally of one question."""
        if q.kind == "section":
            return QuestionTally(q)
        answered = self.get("answered", q.id)
        columns = []
        for cid, key, label, hidden in self.c.columns.get(q.id, []):
            count = self.get("count", q.id, cid)
            columns.append(Column(key, label, hidden, count, _percent(count, answered)))
        qt = QuestionTally(q, answered, self.get("skipped", q.id), columns)
        if q.kind in ("scale", "number"):
            qt.mean = self.mean(q)
        qt.rows = [self.group_row(q, g) for g in self.c.groups]
        return qt

    def group_row(self, q, g):
        """Return one group's row of a question's breakdown."""
        answered = self.get("answered", q.id, g.id)
        counts = [
            self.get("count", q.id, cid, g.id) for cid, *_rest in self.c.columns.get(q.id, [])
        ]
        return GroupRow(g.code, g.name, answered, counts, [_percent(n, answered) for n in counts])

    def tally(self):
        """Return the whole published Tally."""
        c = self.c
        return Tally(
            questionnaire=c.questionnaire,
            filters=c.filters,
            k=c.questionnaire.suppress_below or 0,
            responses=self.get("responses"),
            wards=c.wards,
            organisations=c.organisations,
            cross={
                (w.code, o.code): self.get("cross", w.id, o.id)
                for w in c.wards
                for o in c.organisations
            },
            ward_totals={w.code: self.get("ward", w.id) for w in c.wards},
            organisation_totals={o.code: self.get("organisation", o.id) for o in c.organisations},
            questions=[self.question(q) for q in c.questions],
            groups=c.groups,
        )


def tally(questionnaire, filters=None):
    """Count a questionnaire's answers under filters (and breakdown); return the published Tally."""
    counter = _Counter(questionnaire, filters or Filters()).run()
    hidden = suppressed_cells(counter.cells, counter.lines, questionnaire.suppress_below or 0)
    return _Assembler(counter, hidden).tally()


def filtered_responses(questionnaire, filters):
    """Return how many responses the filters (and scope) leave."""
    return (
        Response.select()
        .where(Response.questionnaire == questionnaire.id, *filters.conditions(Response))
        .count()
    )


def text_answers(questionnaire, question, filters, search=""):
    """Return a text question's answers under filters, matching search, newest first (a query)."""
    query = (
        Answer.select(Answer.text, Answer.submitted_at, Ward.code, Organisation.code)
        .join_from(Answer, Ward)
        .join_from(Answer, Organisation)
        .where(
            Answer.question == question.id, Answer.text.is_null(False), *filters.conditions(Answer)
        )
        .order_by(Answer.id.desc())
    )
    search = (search or "").strip()
    if search:
        query = query.where(Answer.text.contains(search))
    return query
