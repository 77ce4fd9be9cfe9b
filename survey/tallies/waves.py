"""The earlier wave's figures set beside a repeat's: per question, overall and by group.

The earlier questionnaire is counted by `tally` itself under the same ward, organisation,
scope and ward or organisation breakdown (never dates: each wave has its own period), so
its own suppression and anonymity rules decide what shows: a withheld cell stays withheld,
and a change against a withheld cell is withheld too. Questions compare when
`questionnaires.waves.matched` pairs them (same key and kind, a scale's bounds); shares
change in percentage points, means by their difference. A number question's ranges are
drawn from each wave's own answers, so only its mean compares.
"""

from dataclasses import dataclass, field

from flask_babel import format_decimal

from survey.questionnaires.waves import COUNTED_KINDS, matched
from survey.tallies.counting import BREAKDOWNS, Filters, tally

NO_COLUMNS = ("number",)  # kinds whose columns are not the same from one wave to the next


def format_change(value, digits=1):
    """Write a change with its sign and `digits` decimals, always as many ("+12,5", "−3,0",
    "0,0"), in the page's language; "–" if None. A column of changes reads alike row by row."""
    if value is None:
        return "–"
    decimals = "." + "0" * digits if digits else ""
    if round(value, digits) == 0:
        return format_decimal(0, format="0" + decimals)
    text = format_decimal(abs(value), format="#,##0" + decimals)
    return ("+" if value > 0 else "\u2212") + text


def difference(now, before):
    """Return now − before, or None when either is withheld or undefined."""
    if now is None or before is None:
        return None
    return now - before


@dataclass
class PreviousQuestion:
    """The earlier wave's tally of one question, looked up by choice key and group code."""

    tally: object  # the earlier QuestionTally
    columns: dict = field(default_factory=dict)  # choice key -> earlier Column
    rows: dict = field(default_factory=dict)  # group code -> {choice key: (count, percent)}
    answered_by: dict = field(default_factory=dict)  # group code -> answered or None

    @property
    def answered(self):
        """Return how many answered the question in the earlier wave (None: withheld)."""
        return self.tally.answered

    @property
    def mean(self):
        """Return the earlier wave's mean (None: withheld or no answer)."""
        return self.tally.mean

    def column(self, key):
        """Return the earlier Column of a choice key, or None when the earlier wave had none."""
        return self.columns.get(key)

    def percent(self, key):
        """Return the earlier share of a choice (None: withheld or not asked)."""
        column = self.columns.get(key)
        return column.percent if column else None

    def change(self, column):
        """Return a current Column's change in percentage points (None: not comparable)."""
        return difference(column.percent, self.percent(column.key))

    def mean_change(self, mean):
        """Return the difference of a current mean from the earlier one."""
        return difference(mean, self.mean)

    def row_percent(self, code, key):
        """Return the earlier share of a choice within one group (None: withheld or none)."""
        return self.rows.get(code, {}).get(key, (None, None))[1]

    def api(self, by):
        """Return the tallies API's "previous" object of this question."""
        item = {
            "responses": self.answered,
            "choices": [{"key": c.key, "count": c.count} for c in self.columns.values()],
        }
        if self.tally.kind in ("scale", "number"):
            item["mean"] = self.mean
        if by:
            item["by"] = {
                code: {key: count for key, (count, _p) in cells.items()}
                for code, cells in self.rows.items()
            }
        return item


@dataclass
class Comparison:
    """A repeat's earlier wave: its questionnaire, its published Tally, and its questions."""

    earlier: object
    tally: object
    questions: dict  # current question key -> PreviousQuestion

    def responses_change(self, now):
        """Return the change in the number of responses (None: either withheld)."""
        return difference(now, self.tally.responses)

    def ward_total(self, code):
        """Return the earlier wave's responses in a ward (None: withheld or not counted)."""
        return self.tally.ward_totals.get(code)

    def organisation_total(self, code):
        """Return the earlier wave's responses in an organisation (None: withheld)."""
        return self.tally.organisation_totals.get(code)

    def get(self, key):
        """Return the PreviousQuestion of a current question's key, or None."""
        return self.questions.get(key)

    def compares(self, kind):
        """Return whether a question of this kind has figures to set beside the earlier wave's.

        Written answers and dates are listed, never counted, so they have none: saying they
        were "not asked the same way" would be false.
        """
        return kind in COUNTED_KINDS


def earlier_filters(filters):
    """Return the filters the earlier wave is counted under: same place and breakdown, no dates."""
    filters = filters or Filters()
    return Filters(
        ward=filters.ward,
        organisation=filters.organisation,
        scope=filters.scope,
        by=filters.by if filters.by in BREAKDOWNS else None,
    )


def _previous(qt):
    """Return the PreviousQuestion of an earlier QuestionTally."""
    columns = [] if qt.kind in NO_COLUMNS else qt.columns
    previous = PreviousQuestion(qt, {c.key: c for c in columns})
    for row in qt.rows:
        previous.rows[row.code] = {
            c.key: (count, percent) for c, count, percent in zip(columns, row.counts, row.percents)
        }
        previous.answered_by[row.code] = row.answered
    return previous


def compare(questionnaire, current, filters=None):
    """Return the Comparison of a repeat with its earlier wave, or None when it repeats none.

    current is the repeat's published Tally (its questions are the ones compared).
    """
    earlier = questionnaire.repeat_of if questionnaire.repeat_of_id else None
    if earlier is None:
        return None
    before = tally(earlier, earlier_filters(filters))
    now = [qt.question for qt in current.questions if qt.kind in COUNTED_KINDS]
    pairs = matched(now, [qt.question for qt in before.questions if qt.kind in COUNTED_KINDS])
    by_id = {qt.question.id: qt for qt in before.questions}
    questions = {key: _previous(by_id[q.id]) for key, q in pairs.items() if q.id in by_id}
    return Comparison(earlier, before, questions)


def api(document, comparison, by=None):
    """Add each compared question's "previous" object to a tallies API document."""
    if comparison is None:
        return document
    for item in document["questions"]:
        previous = comparison.get(item["key"])
        if previous is not None:
            item["previous"] = previous.api(by if by in BREAKDOWNS else None)
    return document
