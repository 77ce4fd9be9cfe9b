"""Responses over time: per local day, or per ISO week (its Monday) for anonymous questionnaires.

Counted in SQL by hour (UTC), then each hour's group is added to its local day, so days follow
SURVEY_TIMEZONE, daylight saving included. With suppression the periods are counted in every
group of the tally's lattice and join its lines: a period under k is withheld (None), and so is
one more whenever the total less the others would give it away, in any ward or organisation.
"""

import datetime
from dataclasses import dataclass

from peewee import SQL, fn

from survey.db import is_sqlite
from survey.i18n import local_time
from survey.models import Response
from survey.tallies.counting import ALL, Filters, _Counter, check_period, suppressed_cells


@dataclass
class Period:
    """One day (or week) and its responses, None when withheld."""

    start: datetime.date
    responses: int | None


def _hour():
    """Return the SQL expression of a response's hour (UTC)."""
    if is_sqlite():
        return fn.strftime("%Y-%m-%d %H:00:00", Response.submitted_at)
    # A literal, not a parameter: PostgreSQL matches the grouped expression to the selected one.
    return fn.date_trunc(SQL("'hour'"), Response.submitted_at)


def _period(hour, weekly):
    """Return the local day (or the Monday of the local week) of an hour group."""
    if isinstance(hour, str):
        hour = datetime.datetime.fromisoformat(hour)
    day = local_time(hour).date()
    return day - datetime.timedelta(days=day.weekday()) if weekly else day


def timeline(questionnaire, filters=None):
    """Return the Periods of a questionnaire's responses under filters, oldest first."""
    filters = filters or Filters()
    check_period(questionnaire, filters)
    weekly = bool(questionnaire.anonymous)
    # The whole tally is counted, so the periods take the very pattern the pages show.
    counter = _Counter(questionnaire, filters).run()
    hour = _hour()
    places = [Response.ward, Response.organisation] if counter.lattice else []
    query = (
        Response.select(*places, hour, fn.COUNT(Response.id))
        .where(*counter.where(Response))
        .group_by(*places, hour)
        .tuples()
    )
    cells = {}
    for row in query:
        w, o = (row[0], row[1]) if counter.lattice else ALL
        period = _period(row[-2], weekly)
        for g in {(w, o), (w, None), (None, o), ALL} if counter.lattice else {ALL}:
            cells[(period, g)] = cells.get((period, g), 0) + row[-1]
    periods = sorted({p for p, _g in cells})
    if not counter.lattice:
        return [Period(p, cells.get((p, ALL), 0)) for p in periods]
    hidden = _withheld(counter, periods, cells)
    return [
        Period(p, None if ("t", p, counter.at) in hidden else cells.get((p, counter.at), 0))
        for p in periods
    ]


def _withheld(counter, periods, counted):
    """Return the withheld period cells, the lattice's own pattern kept; all if it cannot be."""
    shown = counter.suppressed()
    cells = dict(counter.cells)
    lines = []
    start = set(shown)
    for g in counter.group_keys():
        parts = [("t", p, g) for p in periods]
        for p in periods:
            cells[("t", p, g)] = counted.get((p, g), 0)
            if ("responses", g) in shown:
                start.add(("t", p, g))  # a withheld group is withheld whole
        lines.append((("responses", g), parts))
    for p in periods:
        lines.extend(counter.margin_lines(("t", p)))
    found = suppressed_cells(cells, lines, counter.k, start)
    if any(key not in shown for key in found if key in counter.cells):
        return {("t", p, g) for p in periods for g in counter.group_keys()}
    return found


def api(periods):
    """Return the timeline's JSON document: [{"period": ISO date, "responses": n or null}]."""
    return [{"period": p.start.isoformat(), "responses": p.responses} for p in periods]
