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
import functools
import math
import operator
from dataclasses import dataclass, field

from peewee import SQL, fn

from survey.db import is_sqlite
from survey.i18n import format_day, to_utc
from survey.i18n import gettext as _
from survey.models import (
    Answer,
    Choice,
    Organisation,
    Question,
    QuestionnaireOrganisation,
    QuestionnaireWard,
    Response,
    Ward,
    utcnow,
)
from survey.numbers import format_interval, format_number
from survey.params import BadParameter
from survey.respond.rules import scale_bounds
from survey.tallies import aggregates

BREAKDOWNS = ("ward", "organisation")
CROSS_KINDS = ("single", "scale")  # a question whose answers split the responses into groups
LISTED_KINDS = ("text", "longtext", "date")
ADDITIVE_KINDS = ("single", "scale", "number")  # a response gives at most one of the columns
NUMBER_BINS = 8
FIRST_DAY = datetime.date(1900, 1, 1)  # the range a filter date may take
LAST_DAY = datetime.date(9998, 12, 31)
FIRST_MOMENT = datetime.datetime(1900, 1, 1)  # before any response: a cut that counts none
ANONYMOUS_K = 5  # an anonymous questionnaire withholds groups (and batches) below this at least


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
    question: object = None  # the question of a breakdown by its answers (by=<key>)

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

    def cross(self):
        """Return the question the breakdown is by, or None (a ward or organisation, or none)."""
        if self.question is not None and self.by == self.question.key:
            return self.question
        return None

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
                first=format_day(FIRST_DAY),
                last=format_day(LAST_DAY),
            )
        )
    return day


def cross_question(questionnaire, key):
    """Return the single-choice or scale question of a breakdown by its key, or None."""
    if questionnaire is None:
        return None
    return Question.get_or_none(
        (Question.questionnaire == questionnaire.id)
        & (Question.key == key)
        & Question.kind.in_(CROSS_KINDS)
    )


def parse_filters(args, scope=None, questionnaire=None):
    """Turn GET parameters (ward, organisation, from, to, by) into Filters, or raise FilterError.

    `by` is a ward, an organisation, or (given the questionnaire) the key of one of its
    single-choice or scale questions.
    """
    filters = Filters(scope=scope, by=(args.get("by") or "").strip() or None)
    if filters.by is not None and filters.by not in BREAKDOWNS:
        filters.question = cross_question(questionnaire, filters.by)
        if filters.question is None:
            raise FilterError(
                _(
                    "A breakdown is by ward, by organisation or by the answers to a "
                    "single-choice or scale question."
                )
            )
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
class GroupColumn:
    """One answer of the question a breakdown is by: a row group named like a ward."""

    code: str
    name: str


@dataclass
class QuestionTally:
    """The tally of one question (or a section heading, with nothing counted)."""

    question: object
    answered: int | None = None
    skipped: int | None = None  # asked and left blank
    columns: list = field(default_factory=list)
    mean: float | None = None
    rows: list = field(default_factory=list)
    not_asked: int | None = 0  # kept from the question by skip logic: neither answered nor skipped
    others: list = field(default_factory=list)  # labels of its “Khác (ghi rõ)” choices

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
    batched: bool = False  # figures move in batches of at least k responses (anonymous)

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
        "skipped": qt.skipped,
        "not_asked": qt.not_asked,
        "choices": [{"key": c.key, "label": c.label, "count": c.count} for c in columns],
    }
    if qt.kind in ("scale", "number"):
        item["mean"] = qt.mean
    if by:
        item["by"] = {row.code: {c.key: n for c, n in zip(columns, row.counts)} for row in qt.rows}
    return item


# ---------------------------------------------------------------- suppression


def threshold(questionnaire):
    """Return the k of a questionnaire: suppress_below, at least ANONYMOUS_K when anonymous."""
    k = questionnaire.suppress_below or 0
    return max(k, ANONYMOUS_K) if questionnaire.anonymous else k


def check_period(questionnaire, filters):
    """Refuse a date filter on a questionnaire whose small groups are withheld."""
    if threshold(questionnaire) > 1 and (filters.start or filters.end):
        # Two periods set against each other would give the responses of the days between.
        raise FilterError(
            _(
                "This questionnaire withholds groups of fewer than %(k)s responses, so its "
                "figures cover the whole period only: remove the dates.",
                k=threshold(questionnaire),
            )
        )


def suppressed_cells(cells, lines, k, hidden=()):
    """Return the keys of counts to withhold: 1..k-1 (and `hidden`), then complements.

    `cells` maps a key to its count; `lines` lists (total key, [part keys]) whose parts add
    up to the total. A line whose total is shown ends with no withheld part, or with two or
    more whose sum is at least k; a withheld total keeps at least one withheld part. The
    complement taken is the smallest non-zero part shown, else the total.
    """
    if k <= 1:
        return set()
    hidden = set(hidden) | {key for key, value in cells.items() if 0 < value < k}
    changed = bool(hidden)
    while changed:
        changed = False
        for total, parts in lines:
            withheld = [p for p in parts if p in hidden]
            if total in hidden:
                if withheld or not parts:
                    continue
            elif not withheld or (len(withheld) > 1 and sum(cells[p] for p in withheld) >= k):
                continue
            pick = [p for p in parts if p not in hidden and cells[p] > 0]
            if not pick and total in hidden:
                pick = [p for p in parts if p not in hidden]
            if pick:
                hidden.add(min(pick, key=lambda p: (cells[p], str(p))))
            elif cells[total] > 0:
                hidden.add(total)
            else:
                continue  # a total of 0 says every part is 0, hidden or not
            changed = True
    return hidden


def _percent(part, whole):
    """Return part/whole in percent, or None when either is withheld or whole is 0."""
    if part is None or whole is None or whole == 0:
        return None
    return 100.0 * part / whole


# ---------------------------------------------------------------- batches


def _is_closed(questionnaire, now):
    """Tell whether a questionnaire takes no more answers (closed, or past its closing time)."""
    return questionnaire.status == "closed" or bool(
        questionnaire.closes_at and now >= questionnaire.closes_at
    )


def release(questionnaire, k, now=None):
    """Return (cut, forced) of an anonymous questionnaire's published batches.

    Responses count, in arrival order, up to the latest boundary: `cut` is that response's
    (submitted_at, id), or None when every response counts. A boundary comes once at least k
    responses arrived since the last one and every ward, organisation and ward × organisation
    group that already had k responses gained none or at least k: so no published group ever
    moves by fewer than k responses. Once closed, every response counts, and `forced` lists
    the groups whose last gain was 1 to k-1, to withhold.
    """
    rows = (
        Response.select(Response.submitted_at, Response.id, Response.ward, Response.organisation)
        .where(Response.questionnaire == questionnaire.id, Response.state == Response.COUNTED)
        .order_by(Response.submitted_at, Response.id)
        .tuples()
    )
    total, gain, settled = {}, {}, set()
    unsettled, since, cut = 0, 0, (FIRST_MOMENT, 0)
    for at, rid, w, o in rows.iterator():
        for g in ((w, o), (w, None), (None, o)):
            gain[g] = gain.get(g, 0) + 1
            if g in settled and gain[g] in (1, k):
                unsettled += 1 if gain[g] == 1 else -1
        since += 1
        if since >= k and not unsettled:
            for g, n in gain.items():
                total[g] = total.get(g, 0) + n
            settled = {g for g, n in total.items() if n >= k}
            gain, since, cut = {}, 0, (at, rid)
    if _is_closed(questionnaire, now or utcnow()):
        return None, {g for g, n in gain.items() if g in settled and 0 < n < k}
    return cut, set()


# ---------------------------------------------------------------- counting


def _dimension(questionnaire, filters, name):
    """Return the wards (or organisations) a tally shows: targeted or active, or with answers."""
    if name == "ward":
        model, fixed = Ward, filters.ward
        targets = QuestionnaireWard.select(QuestionnaireWard.ward).where(
            QuestionnaireWard.questionnaire == questionnaire
        )
    else:
        model, fixed = Organisation, filters.organisation
        targets = QuestionnaireOrganisation.select(QuestionnaireOrganisation.organisation).where(
            QuestionnaireOrganisation.questionnaire == questionnaire
        )
        if fixed is None and filters.scope is not None:
            return list(model.select().where(model.id == filters.scope))
    if fixed is not None:
        return [fixed]
    wanted = model.id.in_(targets) if targets.exists() else model.active
    responded = aggregates.responded(questionnaire, name)  # exact whatever the filters
    return list(model.select().where(wanted | model.id.in_(responded)).order_by(model.code))


def _scale_columns(question, observed):
    """Return a scale's values min..max (plus any answered outside, after a bound was edited)."""
    low, high = scale_bounds(question)
    values = sorted(set(range(low, high + 1)) | {int(v) for v in observed})
    ends = {low: question.low_label, high: question.high_label}  # words the builder gave
    return [(v, str(v), f"{v} – {ends[v]}" if ends.get(v) else str(v), False) for v in values]


def _conditions(questions, columns):
    """Return {question id: (its show_if question's id, that choice's id)} for skip logic."""
    by_key = {q.key: q for q in questions}
    found = {}
    for q in questions:
        parent = by_key.get(q.show_if_question or "")
        if parent is None:
            continue
        ids = [c[0] for c in columns.get(parent.id, []) if c[1] == q.show_if_choice]
        if ids:
            found[q.id] = (parent.id, ids[0])
    return found


def _nice_width(span):
    """Return a round bin width (1, 2 or 5 times a power of ten) covering span in NUMBER_BINS."""
    raw = span / NUMBER_BINS
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _fmt(number):
    """Write a range's bound in the page's language."""
    return format_number(number)


def _up(ward_id, org_id):
    """Return the groups a (ward, organisation) row adds to: itself and its margins."""
    return {(ward_id, org_id), (ward_id, None), (None, org_id), (None, None)}


ALL = (None, None)  # the group of every response


class _Counter:
    """Collects the counts of one tally as cells keyed by measure and group, with their sums.

    A group is (ward id or None, organisation id or None). With suppression (k > 1) the
    counts cover the whole lattice (whole questionnaire, each ward, each organisation, each
    ward × organisation) whatever the filters, so one pattern of withheld cells serves every
    page, filter and export alike; filters then pick a group of it. Without suppression the
    filters go into the SQL and the groups are those of the filtered responses.
    """

    def __init__(self, questionnaire, filters):
        """Load the questions, choices and groups of the tally."""
        self.questionnaire, self.filters = questionnaire, filters
        self.k = threshold(questionnaire)
        self.lattice = self.k > 1
        self.cut, self.forced = None, set()
        if questionnaire.anonymous:
            self.cut, self.forced = release(questionnaire, self.k)
        # The running counts when they give this tally exactly, else None: read `answer`.
        self.source = aggregates.source(questionnaire, filters, self.cut, self.lattice)
        self.questions = list(questionnaire.ordered_questions(include_hidden=True))
        self.counted = [q for q in self.questions if q.kind != "section"]
        self.wards = _dimension(questionnaire, filters, "ward")
        self.organisations = _dimension(questionnaire, filters, "organisation")
        self.groups = {"ward": self.wards, "organisation": self.organisations}.get(filters.by, [])
        self.at = ALL
        if self.lattice:
            org = filters.organisation.id if filters.organisation else filters.scope
            self.at = (filters.ward.id if filters.ward else None, org)
            whole = Filters()
            self.grid = (
                _dimension(questionnaire, whole, "ward"),
                _dimension(questionnaire, whole, "organisation"),
            )
        self.cells, self.lines = {}, []
        self.columns = {}  # question id -> list of (cell id, key, label, hidden)
        self.conditions = {}  # question id -> (show_if question id, choice id)
        self.others = {}  # question id -> labels of its “Khác (ghi rõ)” choices
        self.sums = {}  # (question id, group) -> (count, sum) of numbers
        self.bins = {}  # number question id -> (start, width, last index) of its ranges
        self.cross_withheld = False  # a breakdown by a question that had to be withheld whole
        self.xcells, self.cross_groups = {}, []  # the cells of a breakdown by a question

    def group_keys(self):
        """Return every group of the lattice (with suppression only)."""
        wards, orgs = self.grid
        keys = [ALL] + [(w.id, None) for w in wards] + [(None, o.id) for o in orgs]
        return keys + [(w.id, o.id) for w in wards for o in orgs]

    def where(self, model=Answer):
        """Return the WHERE terms of this tally's answers (or responses)."""
        terms = [model.questionnaire == self.questionnaire.id]
        if model is Response:  # `answer` holds counted responses' rows only; `response` all
            terms.append(Response.state == Response.COUNTED)
        if not self.lattice:
            terms += self.filters.conditions(model)
        if self.cut is not None:
            at, rid = self.cut
            own = model.response if model is Answer else model.id
            terms.append((model.submitted_at < at) | ((model.submitted_at == at) & (own <= rid)))
        return terms

    def add(self, key, value):
        """Add to a cell."""
        self.cells[key] = self.cells.get(key, 0) + value

    def run(self):
        """Run the queries and return self."""
        if self.lattice:
            for g in self.group_keys():
                self.cells[("responses", g)] = 0
        self.count_responses()
        self.count_answers()
        if self.lattice:
            self.link_lines()
        if self.filters.cross() is not None:
            self.count_cross()
        return self

    def count_responses(self):
        """Count responses per ward × organisation, adding each into its margins."""
        query = (
            self.source.responses()
            if self.source
            else (
                Response.select(Response.ward, Response.organisation, fn.COUNT(Response.id))
                .where(*self.where(Response))
                .group_by(Response.ward, Response.organisation)
                .tuples()
            )
        )
        for ward_id, org_id, n in query:
            for g in _up(ward_id, org_id):
                self.add(("responses", g), n)

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
        for qid, _w, _o, _choice, value, _n, _answered in rows:
            if value is not None:
                observed.setdefault(qid, set()).add(value)
        self.bins = self.make_columns(observed)
        if self.lattice:
            self._zero_columns(list(kinds))
        for qid, w, o, choice_id, value, n, answered in rows:
            groups = _up(w, o)
            if kinds[qid] in ("scale", "number"):
                column = self.column_of(qid, kinds[qid], choice_id, value)
                for g in groups:
                    self.add(("count", qid, column, g), n)
                    count, amount = self.sums.get((qid, g), (0, 0.0))
                    self.sums[(qid, g)] = (count + n, amount + n * value)
            elif choice_id is not None:
                for g in groups:
                    self.add(("count", qid, choice_id, g), n)
            for g in groups:
                self.add(("answered", qid, g), answered)

    def column_of(self, qid, kind, choice_id, value):
        """Return the column an answer row counts in: its choice, scale value or number range."""
        if kind == "scale":
            return int(value)
        if kind == "number":
            start, width, last = self.bins.get(qid, (0, 1, 0))
            return min(math.floor((value - start) / width), last)  # the last range is closed
        return choice_id

    def count_cross(self):
        """Count each question's columns within each answer of the breakdown's question.

        One GROUP BY over the answers joined to the same response's answer to that question;
        with suppression the cells join the lattice (see `cross_suppressed`).
        """
        x = self.filters.cross()
        kinds = {q.id: q.kind for q in self.counted}
        groups = [c[0] for c in self.columns.get(x.id, [])]
        self.groups = [GroupColumn(key, label) for _cid, key, label, _h in self.columns[x.id]]
        other = Answer.alias()
        places = [Answer.ward, Answer.organisation] if self.lattice else []
        keys = [Answer.question, *places, other.choice, other.number, Answer.choice, Answer.number]
        query = (
            Answer.select(*keys, fn.COUNT(SQL("*")), fn.COUNT(SQL("*")).filter(Answer.first_row))
            .join(other, on=(other.response == Answer.response) & (other.question == x.id))
            .where(Answer.question.in_(list(kinds)), *self.where(Answer)[1:])
            .group_by(*keys)
            .tuples()
        )
        if self.lattice:
            for qid in kinds:
                for g in self.group_keys():
                    for xg in groups:
                        self.xcells[("xa", qid, xg, g)] = 0
                        for cid, *_rest in self.columns[qid]:
                            self.xcells[("x", qid, cid, xg, g)] = 0
        for row in query:
            qid, row = row[0], row[1:]
            w, o = (row[0], row[1]) if self.lattice else (None, None)
            xchoice, xvalue, choice_id, value, n, answered = row[len(places) :]
            xg = self.column_of(x.id, x.kind, xchoice, xvalue)
            targets = _up(w, o) if self.lattice else {ALL}
            column = None
            if choice_id is not None or value is not None:
                column = self.column_of(qid, kinds[qid], choice_id, value)
            for g in targets:
                key = ("xa", qid, xg, g)
                self.xcells[key] = self.xcells.get(key, 0) + answered
                if column is not None:
                    key = ("x", qid, column, xg, g)
                    self.xcells[key] = self.xcells.get(key, 0) + n
        self.cross_groups = groups

    def cross_suppressed(self, hidden):
        """Return the withheld cells of a breakdown by a question, the lattice's kept as they are.

        A group (an answer of the breakdown's question, in a ward, organisation or both) whose
        count is withheld or below k is withheld whole. The responses who skipped that question
        form one more part of every line, since the total less the groups shown gives them.
        The cells join the lattice's lines; should the pattern need a lattice cell that the
        tally shows, the whole breakdown is withheld instead, so no page moves.
        """
        x, groups = self.filters.cross(), self.cross_groups
        cells, lines, start = {**self.cells, **self.xcells}, list(self.lines), set(hidden)
        for q in self.counted:
            ids = [c[0] for c in self.columns.get(q.id, [])]
            for g in self.group_keys():
                parts = [("xa", q.id, xg, g) for xg in groups]
                cells[("xa", q.id, None, g)] = cells[("answered", q.id, g)] - sum(
                    cells[p] for p in parts
                )
                lines.append((("answered", q.id, g), parts + [("xa", q.id, None, g)]))
                for cid in ids:
                    parts = [("x", q.id, cid, xg, g) for xg in groups]
                    cells[("x", q.id, cid, None, g)] = cells[("count", q.id, cid, g)] - sum(
                        cells[p] for p in parts
                    )
                    lines.append((("count", q.id, cid, g), parts + [("x", q.id, cid, None, g)]))
                for xg in groups:
                    size = ("count", x.id, xg, g)
                    if size in hidden or 0 < cells[size] < self.k:
                        start.add(("xa", q.id, xg, g))
                        start.update(("x", q.id, cid, xg, g) for cid in ids)
                    if q.kind in ADDITIVE_KINDS:
                        lines.append(
                            (("xa", q.id, xg, g), [("x", q.id, cid, xg, g) for cid in ids])
                        )
            for xg in [*groups, None]:
                lines.extend(self.margin_lines(("xa", q.id, xg)))
                for cid in ids:
                    lines.extend(self.margin_lines(("x", q.id, cid, xg)))
        found = suppressed_cells(cells, lines, self.k, start)
        if any(key not in hidden for key in found if key in self.cells):
            self.cross_withheld = True
        return found

    def answer_groups(self, question_ids):
        """Return (question, ward, organisation, choice, number, answers, respondents) by GROUP BY.

        Ward and organisation are None where not grouped by. COUNT(*) FILTER (WHERE first_row)
        counts respondents: a multi-choice answer has a row per choice. SQLite groups at the
        finest grain (question, ward, organisation, choice, number), the order of the answer
        table's tally index, so it reads that index once and sorts nothing; PostgreSQL hashes,
        and the fewer the keys the faster, so it groups by the breakdown's column only (by
        both with suppression, which needs the whole lattice).
        """
        if self.source is not None:
            return self.source.answer_groups(question_ids)
        by = self.filters.by
        if is_sqlite() or self.lattice:
            places = ["ward", "organisation"]
        else:
            places = [by] if by in BREAKDOWNS else []
        keys = [
            Answer.question,
            *(getattr(Answer, name) for name in places),
            Answer.choice,
            Answer.number,
        ]
        query = (
            Answer.select(*keys, fn.COUNT(SQL("*")), fn.COUNT(SQL("*")).filter(Answer.first_row))
            .where(Answer.question.in_(question_ids), *self.where(Answer)[1:])
            .group_by(*keys)
            .tuples()
        )
        wi = 1 + places.index("ward") if "ward" in places else None
        oi = 1 + places.index("organisation") if "organisation" in places else None
        return [
            (row[0], row[wi] if wi else None, row[oi] if oi else None, *row[-4:]) for row in query
        ]

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
                if c.other:  # “Khác (ghi rõ)”: its texts are listed like a text question's
                    self.others.setdefault(c.question_id, []).append(c.label)
        self.conditions = _conditions(self.counted, self.columns)
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
        """Start every counted cell of the lattice at 0, so every cell takes part in the lines."""
        groups = self.group_keys()
        for qid in ids:
            for g in groups:
                self.cells[("answered", qid, g)] = 0
                for cid, *_rest in self.columns[qid]:
                    self.cells[("count", qid, cid, g)] = 0

    def _number_columns(self, question, seen):
        """Set a number question's ranges; return (start, width, last).

        Half-open ranges [a; b) from the bounds (else the answers seen), the last one closed
        and ending at the maximum, so no range reaches past it; an answer above a maximum
        narrowed after it came moves the end up to that answer instead.
        """
        low = question.minimum if question.minimum is not None else (seen or (0, 0))[0]
        high = question.maximum if question.maximum is not None else (seen or (0, 0))[1]
        if seen is not None:
            high = max(high, seen[1])
        width = _nice_width(high - low) if high > low else 1
        start = math.floor(low / width) * width
        last = max(0, math.ceil((high - start) / width) - 1)
        end = high if high > start + last * width else start + (last + 1) * width
        first = min(0, math.floor(((seen or (start, 0))[0] - start) / width))
        self.columns[question.id] = [
            (
                i,
                _fmt(start + i * width),
                format_interval(
                    start + i * width, end if i == last else start + (i + 1) * width, i == last
                ),
                False,
            )
            for i in range(first, last + 1)
        ]
        return start, width, last

    def not_asked(self, qid, g):
        """Return how many responses of a group skip logic kept a question from (0 without it).

        Asked are those who picked the choice it shows after, or answered it anyway (answers
        given before the condition was added count as asked).
        """
        responses = self.cells.get(("responses", g), 0)
        answered = self.cells.get(("answered", qid, g), 0)
        if qid not in self.conditions:
            return 0
        asked = self.cells.get(("count", *self.conditions[qid], g), 0)
        return max(0, responses - max(asked, answered))

    def measures(self):
        """Return the measures counted in every group: responses, and each question's cells."""
        found = [("responses",)]
        for q in self.counted:
            found += [("answered", q.id), ("skipped", q.id), ("not_asked", q.id)]
            found += [("count", q.id, c[0]) for c in self.columns.get(q.id, [])]
        return found

    def margin_lines(self, measure):
        """Return the lines of one measure across the lattice: total, wards, organisations."""
        wards, orgs = self.grid
        whole = measure + (ALL,)
        lines = [
            (whole, [measure + ((w.id, None),) for w in wards]),
            (whole, [measure + ((None, o.id),) for o in orgs]),
        ]
        for w in wards:
            lines.append((measure + ((w.id, None),), [measure + ((w.id, o.id),) for o in orgs]))
        for o in orgs:
            lines.append((measure + ((None, o.id),), [measure + ((w.id, o.id),) for w in wards]))
        return lines

    def link_lines(self):
        """Work out the skipped cells and declare which cells add up to which."""
        for q in self.counted:
            ids = [c[0] for c in self.columns.get(q.id, [])]
            for g in self.group_keys():
                responses = ("responses", g)
                parts = [("answered", q.id, g), ("skipped", q.id, g), ("not_asked", q.id, g)]
                self.cells[parts[2]] = self.not_asked(q.id, g)
                self.cells[parts[1]] = (
                    self.cells[responses] - self.cells[parts[0]] - self.cells[parts[2]]
                )
                self.lines.append((responses, parts))
                if q.kind in ADDITIVE_KINDS:
                    self.lines.append((("answered", q.id, g), [("count", q.id, c, g) for c in ids]))
        for measure in self.measures():
            self.lines.extend(self.margin_lines(measure))

    def suppressed(self):
        """Return the withheld cells: small groups whole with their complements, then cells."""
        if not self.lattice:
            return set()
        hidden = self.lattice_suppressed()
        if self.filters.cross() is not None:
            return self.cross_suppressed(hidden) | hidden
        return hidden

    def lattice_suppressed(self):
        """Return the withheld cells of the lattice (the tally without a question breakdown)."""
        groups = self.group_keys()
        sizes = {g: self.cells[("responses", g)] for g in groups}
        small = {g for g in groups if 0 < sizes[g] < self.k} | self.forced
        whole = suppressed_cells(
            sizes,
            [(t[-1], [p[-1] for p in ps]) for t, ps in self.margin_lines(("responses",))],
            self.k,
            small,
        )
        withheld = {key for key in self.cells if key[-1] in whole}
        return suppressed_cells(self.cells, self.lines, self.k, withheld)


# ---------------------------------------------------------------- assembling


class _Assembler:
    """Turns counted cells into the published Tally, with withheld cells as None."""

    def __init__(self, counter, hidden):
        """Keep the counter and the withheld keys."""
        self.c, self.hidden = counter, hidden

    def group(self, ward=None, organisation=None):
        """Return the group of a row: the filters' group narrowed to a ward or organisation."""
        w, o = self.c.at
        return (ward.id if ward else w, organisation.id if organisation else o)

    def get(self, *key):
        """Return a published cell: its count, or None when withheld."""
        if key in self.hidden:
            return None
        if key[0] == "not_asked" and key not in self.c.cells:
            return self.c.not_asked(*key[1:])
        if key[0] == "skipped" and key not in self.c.cells:
            responses = self.c.cells.get(("responses", key[-1]), 0)
            answered = self.c.cells.get(("answered", *key[1:]), 0)
            return responses - answered - self.c.not_asked(*key[1:])
        return self.c.cells.get(key, 0)

    def mean(self, q, g):
        """Return a scale or number mean, withheld when any count it rests on is withheld."""
        count, amount = self.c.sums.get((q.id, g), (0, 0.0))
        keys = [("answered", q.id, g)] + [
            ("count", q.id, col[0], g) for col in self.c.columns[q.id]
        ]
        if not count or any(k in self.hidden for k in keys):
            return None
        return amount / count

    def question(self, q):
        """Return the published tally of one question."""
        if q.kind == "section":
            return QuestionTally(q)
        g = self.group()
        answered = self.get("answered", q.id, g)
        columns = []
        for cid, key, label, hidden in self.c.columns.get(q.id, []):
            count = self.get("count", q.id, cid, g)
            columns.append(Column(key, label, hidden, count, _percent(count, answered)))
        qt = QuestionTally(q, answered, self.get("skipped", q.id, g), columns)
        qt.not_asked = self.get("not_asked", q.id, g)
        qt.others = self.c.others.get(q.id, [])
        if q.kind in ("scale", "number"):
            qt.mean = self.mean(q, g)
        qt.rows = [self.group_row(q, row) for row in self.c.groups]
        return qt

    def narrowed(self, row):
        """Return the group of one breakdown row (a ward or an organisation)."""
        if self.c.filters.by == "ward":
            return self.group(ward=row)
        return self.group(organisation=row)

    def group_row(self, q, row):
        """Return one group's row of a question's breakdown."""
        if self.c.filters.cross() is not None:
            return self.cross_row(q, row)
        g = self.narrowed(row)
        answered = self.get("answered", q.id, g)
        counts = [self.get("count", q.id, cid, g) for cid, *_rest in self.c.columns.get(q.id, [])]
        return GroupRow(
            row.code, row.name, answered, counts, [_percent(n, answered) for n in counts]
        )

    def cross_row(self, q, row):
        """Return the row of one answer of the breakdown's question (counts and row shares)."""
        g = self.group()
        xg = self.c.cross_groups[self.c.groups.index(row)]

        def cell(*key):
            """Return a cross cell, withheld when its pattern (or the whole breakdown) says so."""
            if self.c.cross_withheld or key in self.hidden:
                return None
            return self.c.xcells.get(key, 0)

        answered = cell("xa", q.id, xg, g)
        counts = [cell("x", q.id, cid, xg, g) for cid, *_rest in self.c.columns.get(q.id, [])]
        return GroupRow(
            row.code, row.name, answered, counts, [_percent(n, answered) for n in counts]
        )

    def tally(self):
        """Return the whole published Tally."""
        c = self.c
        return Tally(
            questionnaire=c.questionnaire,
            filters=c.filters,
            k=c.k,
            responses=self.get("responses", self.group()),
            wards=c.wards,
            organisations=c.organisations,
            cross={
                (w.code, o.code): self.get("responses", self.group(w, o))
                for w in c.wards
                for o in c.organisations
            },
            ward_totals={w.code: self.get("responses", self.group(ward=w)) for w in c.wards},
            organisation_totals={
                o.code: self.get("responses", self.group(organisation=o)) for o in c.organisations
            },
            questions=[self.question(q) for q in c.questions],
            groups=c.groups,
            batched=c.questionnaire.anonymous,
        )


def tally(questionnaire, filters=None):
    """Count a questionnaire's answers under filters (and breakdown); return the published Tally."""
    filters = filters or Filters()
    check_period(questionnaire, filters)
    counter = _Counter(questionnaire, filters).run()
    return _Assembler(counter, counter.suppressed()).tally()


def filtered_responses(questionnaire, filters):
    """Return how many responses the filters (and scope) leave."""
    return (
        Response.select()
        .where(
            Response.questionnaire == questionnaire.id,
            Response.state == Response.COUNTED,
            *filters.conditions(Response),
        )
        .count()
    )


def lattice(questionnaire):
    """Return the whole lattice's counter and the ward × organisation cells whose count shows."""
    counter = _Counter(questionnaire, Filters()).run()
    hidden = counter.suppressed()
    wards, orgs = counter.grid if counter.lattice else (counter.wards, counter.organisations)
    return counter, {
        (w.id, o.id) for w in wards for o in orgs if ("responses", (w.id, o.id)) not in hidden
    }


def published_cells(questionnaire, question):
    """Return the (ward, organisation) cells whose answers to a question may be listed.

    With suppression, a text is listed only when its ward × organisation cell shows how many
    answered the question, so no list under any filter holds a text of a withheld group.
    """
    counter = _Counter(questionnaire, Filters()).run()
    hidden = counter.suppressed()
    wards, orgs = counter.grid
    return [
        (w.id, o.id)
        for w in wards
        for o in orgs
        if counter.cells.get(("answered", question.id, (w.id, o.id)))
        and ("answered", question.id, (w.id, o.id)) not in hidden
    ], counter


def text_answers(questionnaire, question, filters, search=""):
    """Return a text question's answers under filters, matching search (a query).

    Newest first; with suppression, only answers of the cells `published_cells` allows, in
    the order of their text (arrival order would say who answered when).
    """
    check_period(questionnaire, filters)
    query = (
        Answer.select(Answer.text, Answer.submitted_at, Ward.name, Organisation.name)
        .join_from(Answer, Ward)
        .join_from(Answer, Organisation)
        .where(
            Answer.question == question.id, Answer.text.is_null(False), *filters.conditions(Answer)
        )
    )
    if threshold(questionnaire) > 1:
        cells, counter = published_cells(questionnaire, question)
        allowed = [(Answer.ward == w) & (Answer.organisation == o) for w, o in cells]
        query = query.where(functools.reduce(operator.or_, allowed, SQL("1 = 0")))
        query = query.where(*counter.where(Answer)[1:]).order_by(Answer.text, Answer.ward)
    else:
        query = query.order_by(Answer.id.desc())
    search = (search or "").strip()
    if search:
        query = query.where(Answer.text.contains(search))
    return query
