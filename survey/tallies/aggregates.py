"""Tallies read from the running counts the database keeps (migration 0015), not from `answer`.

`source()` says whether the counts answer a tally exactly: they do for the whole period and
for a date range whose ends are local midnights at the offset the days were counted in; they
do not for an anonymous questionnaire's published cut (a moment inside a day), which counting
then reads from `answer` as before, as it does for a breakdown by a question's answers and for
text answers. The rows given back have the shape of counting's own GROUP BY over `answer`, so
everything after the query (columns, suppression, batches) is the same code either way.
"""

import dataclasses
import datetime

from flask import current_app, has_app_context
from peewee import SQL, Case, fn

from survey.db import database, is_sqlite
from survey.i18n import to_utc, zone
from survey.models import (
    TALLY_CELL,
    TALLY_DAY_CELL,
    Answer,
    Response,
    TallyAnswer,
    TallyAnswerDay,
    TallyClock,
    TallyResponse,
    utcnow,
)


def clock_offset():
    """Return the offset (minutes east of UTC) the days were counted in, or None when unknown."""
    return TallyClock.select(TallyClock.offset_minutes).where(TallyClock.id == 1).scalar()


def _at_offset(day, offset):
    """Tell whether a local day's midnight, in today's zone, is `offset` minutes from UTC."""
    midnight = datetime.datetime.combine(day, datetime.time())
    return to_utc(midnight) == midnight - datetime.timedelta(minutes=offset)


def day_range(filters):
    """Return (first day, last day) of a date filter the day counts answer exactly, else None."""
    offset = clock_offset()
    if offset is None:
        return None
    if filters.start is not None and not _at_offset(filters.start, offset):
        return None
    if filters.end is not None and not _at_offset(filters.end + datetime.timedelta(1), offset):
        return None
    return filters.start, filters.end


class Counts:
    """The running counts of one questionnaire under a tally's ward, organisation and days."""

    def __init__(self, questionnaire, filters=None, days=None):
        """Keep the questionnaire and the filters that go into the SQL (None: the whole lattice)."""
        self.questionnaire, self.filters, self.days = questionnaire, filters, days

    def where(self, model):
        """Return the WHERE terms of a running-count table under the filters (days as days)."""
        terms = [model.questionnaire == self.questionnaire.id]
        if self.filters is not None:
            terms += dataclasses.replace(self.filters, start=None, end=None).conditions(model)
        if self.days is not None:
            first, last = self.days
            if first is not None:
                terms.append(model.day >= first)
            if last is not None:
                terms.append(model.day <= last)
        return terms

    def responses(self):
        """Return (ward id, organisation id, counted responses) rows, as counting's own query."""
        total = fn.SUM(TallyResponse.responses)
        return (
            TallyResponse.select(TallyResponse.ward, TallyResponse.organisation, total)
            .where(*self.where(TallyResponse))
            .group_by(TallyResponse.ward, TallyResponse.organisation)
            .having(total > 0)
            .tuples()
        )

    def places(self):
        """Return the columns the tally adds up by: both for the lattice, else its breakdown's."""
        if self.filters is None:
            return ["ward", "organisation"]
        return [self.filters.by] if self.filters.by in ("ward", "organisation") else []

    def answer_groups(self, question_ids):
        """Return (question, ward, organisation, choice, number, answers, respondents) rows.

        Summed in SQL to the grain the tally adds up (ward and organisation None where it does
        not), so Python sees a row per answer and group, a few hundred without a breakdown:
        the whole period from tally_answer, a date range from tally_answer_day's days. A cell
        whose count fell back to 0 is left out, as a GROUP BY of the answers would.
        """
        model = TallyAnswer if self.days is None else TallyAnswerDay
        places = self.places()
        cell = TALLY_CELL if self.days is None else TALLY_DAY_CELL
        # Grouped in the key's order, so the whole lattice is read along the key, unsorted.
        names = [name for name in cell if name not in BREAKDOWNS or name in places]
        answers = fn.SUM(model.answers)
        query = (
            model.select(*(getattr(model, name) for name in names), answers, fn.SUM(model.answered))
            .where(*self.where(model), model.question_id.in_(question_ids))
            .group_by(*(getattr(model, name) for name in names))
            .having(answers > 0)
        )
        found = []
        # The driver's own tuples: peewee's conversion of each value cost more than the query.
        for row in database.execute_sql(*query.sql()):
            at = dict(zip(names, row))
            number = at["value"] if at["valued"] else None
            place = (at.get("ward"), at.get("organisation"))
            found.append((at["question_id"], *place, at["choice_id"] or None, number))
            found[-1] += (int(row[-2]), int(row[-1]))
        return found


BREAKDOWNS = ("ward", "organisation")


def _enabled():
    """Tell whether RUNNING_TALLIES lets tallies read the running counts (yes outside an app)."""
    return current_app.config.get("RUNNING_TALLIES", True) if has_app_context() else True


def source(questionnaire, filters, cut, lattice):
    """Return the Counts that give this tally exactly, or None to count from `answer`.

    `cut` is an anonymous questionnaire's published moment (None: every response counts);
    with suppression (`lattice`) the filters never go into the SQL.
    """
    if cut is not None or not _enabled():
        return None
    if lattice:
        return Counts(questionnaire)
    days = None
    if filters.start is not None or filters.end is not None:
        days = day_range(filters)
        placed = filters.ward or filters.organisation or filters.scope or filters.by in BREAKDOWNS
        if days is None or placed:  # the days are counted for the whole questionnaire only
            return None
    return Counts(questionnaire, filters, days)


def responded(questionnaire, column):
    """Return the ids of the wards (or organisations) with a counted response, as a subquery."""
    return TallyResponse.select(getattr(TallyResponse, column)).where(
        TallyResponse.questionnaire == questionnaire.id, TallyResponse.responses > 0
    )


# ---------------------------------------------------------------- rebuilding


def _day(column, offset):
    """Return the SQL of a stored UTC time's local day at an offset (as the triggers count it)."""
    if is_sqlite():
        return fn.date(column, f"{int(offset)} minutes")
    return (column + SQL(f"INTERVAL '{int(offset)} minutes'")).cast("date")


def _answer_keys(names, offset):
    """Return the expressions over the answer table of a running answer count's key fields."""
    found = {
        "day": _day(Answer.submitted_at, offset),
        "ward": Answer.ward,
        "organisation": Answer.organisation,
        "question_id": Answer.question,
        "choice_id": fn.COALESCE(Answer.choice, 0),
        "valued": Case(None, [(Answer.number.is_null(), 0)], 1),
        "value": fn.COALESCE(Answer.number, 0),
    }
    return [Answer.questionnaire] + [found[name] for name in names]


def _positions(keys):
    """Return GROUP BY 1, 2, …: PostgreSQL takes an expression's parameters as other values."""
    return [SQL(str(n)) for n in range(1, len(keys) + 1)]


def rebuild():
    """Count every running tally again from `answer` and `response`, days in today's zone.

    For `survey rebuild-tallies`, after SURVEY_TIMEZONE changed: until then a date range is
    counted from `answer` whenever its ends are not midnights at the offset the days hold.
    """
    name = zone().key
    offset = int(zone().utcoffset(utcnow()).total_seconds() // 60)
    counted = (fn.COUNT(SQL("*")), fn.SUM(Case(None, [(Answer.first_row, 1)], 0)))
    with database.atomic():
        if not is_sqlite():  # no answer may move its counts while they are counted again
            database.execute_sql('LOCK TABLE "answer", "response" IN SHARE ROW EXCLUSIVE MODE')
        for model in (TallyAnswer, TallyAnswerDay, TallyResponse, TallyClock):
            model.delete().execute()
        TallyClock.create(id=1, zone=name, offset_minutes=offset)
        for model, names in ((TallyAnswer, TALLY_CELL), (TallyAnswerDay, ("day", *TALLY_DAY_CELL))):
            keys = _answer_keys(names, offset)
            fields = [model.questionnaire] + [getattr(model, name) for name in names]
            fields += [model.answers, model.answered]
            query = Answer.select(*keys, *counted).group_by(*_positions(keys))
            model.insert_from(query, fields).execute()
        keys = [
            Response.questionnaire,
            Response.ward,
            Response.organisation,
            _day(Response.submitted_at, offset),
        ]
        query = (
            Response.select(*keys, fn.COUNT(SQL("*")))
            .where(Response.state == Response.COUNTED)
            .group_by(*_positions(keys))
        )
        fields = [TallyResponse.questionnaire, TallyResponse.ward, TallyResponse.organisation]
        fields += [TallyResponse.day, TallyResponse.responses]
        TallyResponse.insert_from(query, fields).execute()
    return name, offset
