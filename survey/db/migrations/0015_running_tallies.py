"""Running tallies: counts kept by the database itself, so a tally reads a few thousand rows.

`tally_answer` holds, per questionnaire, question, ward, organisation and answer (a choice, or a
scale or number value), how many answer rows there are and how many of them are a response's
first row for the question (who answered); `tally_answer_day` the same per local day for the
whole questionnaire (not per ward and organisation: a date range of a few weeks then sums a few
thousand rows, not hundreds of thousands; a range with a place is counted from `answer`);
`tally_response` the counted responses (state 0) per ward, organisation and local day. A mean
is the sum of value × rows, so no separate sum is kept.

Triggers on `answer` (insert, delete, update) and `response` (insert, delete, and an update of
its state, questionnaire, ward, organisation or time) keep them in the same transaction as the
change, whoever makes it: the phone form's raw INSERTs, bulk loads, deletes and cascades, a
void moving a response's rows to `set_aside_answer`. A row whose counts fall to 0 stays (0
counts nothing; readers skip it).

The local day is the UTC time moved by `tally_clock.offset_minutes`, the configured zone's
offset when the tallies were built (`survey rebuild-tallies` builds them again for another
zone). A reader uses the days only for a date range whose two ends, in today's zone, are
that offset from UTC; any other range is counted from `answer`, so a figure is never shifted.
"""

import datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from peewee import (
    CharField,
    CompositeKey,
    DateField,
    FloatField,
    IntegerField,
    Model,
    PostgresqlDatabase,
)

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
# The key of an answer's cell, as columns and as expressions over an answer row (NEW, OLD or
# the answer table itself): a NULL choice or number becomes 0, so the key has no NULL.
# The place comes before the question: a response's rows share a ward and an organisation, so
# its cells lie together on a page or two, and a submit's commit writes those pages alone.
ANSWER_KEY = {
    "questionnaire_id": '{r}."questionnaire_id"',
    "ward_id": '{r}."ward_id"',
    "organisation_id": '{r}."organisation_id"',
    "question_id": '{r}."question_id"',
    "choice_id": 'COALESCE({r}."choice_id", 0)',
    "valued": 'CASE WHEN {r}."number" IS NULL THEN 0 ELSE 1 END',
    "value": 'COALESCE({r}."number", 0)',
}
# tally_answer_day's key: the answer's, its place left out, the day second.
DAY_KEY = ("questionnaire_id", "day", "question_id", "choice_id", "valued", "value")
FIRST = 'CASE WHEN {r}."first_row" THEN 1 ELSE 0 END'
RESPONSE_KEY = {
    "questionnaire_id": '{r}."questionnaire_id"',
    "ward_id": '{r}."ward_id"',
    "organisation_id": '{r}."organisation_id"',
}
SQLITE_DAY = (
    'date({r}."submitted_at", (SELECT "offset_minutes" FROM "tally_clock") || \' minutes\')'
)
POSTGRES_DAY = (
    '(({r}."submitted_at" + (SELECT "offset_minutes" FROM "tally_clock") '
    "* INTERVAL '1 minute'))::date"
)
# What moves a response's or an answer's cell: the columns of the key and the state.
ANSWER_COLUMNS = 'OF "questionnaire_id", "question_id", "ward_id", "organisation_id", '
ANSWER_COLUMNS += '"choice_id", "number", "first_row", "submitted_at"'
STATE_0 = ' WHERE r."state" = 0'  # a PostgreSQL trigger's response rows that count
RESPONSE_COLUMNS = 'OF "state", "questionnaire_id", "ward_id", "organisation_id", "submitted_at"'


class TallyAnswer(Model):
    """The tally_answer table as this migration makes it."""

    questionnaire_id = IntegerField()
    ward_id = IntegerField()
    organisation_id = IntegerField()
    question_id = IntegerField()
    choice_id = IntegerField()
    valued = IntegerField()
    value = FloatField()
    answers = IntegerField()
    answered = IntegerField()

    class Meta:
        table_name = "tally_answer"
        primary_key = CompositeKey(*ANSWER_KEY)


class TallyAnswerDay(Model):
    """The tally_answer_day table: per local day, without ward and organisation."""

    questionnaire_id = IntegerField()
    day = DateField()
    question_id = IntegerField()
    choice_id = IntegerField()
    valued = IntegerField()
    value = FloatField()
    answers = IntegerField()
    answered = IntegerField()

    class Meta:
        table_name = "tally_answer_day"
        primary_key = CompositeKey(*DAY_KEY)


class TallyResponse(Model):
    """The tally_response table as this migration makes it."""

    questionnaire_id = IntegerField()
    day = DateField()
    ward_id = IntegerField()
    organisation_id = IntegerField()
    responses = IntegerField()

    class Meta:
        table_name = "tally_response"
        primary_key = CompositeKey("questionnaire_id", "day", "ward_id", "organisation_id")


class TallyClock(Model):
    """The tally_clock table: the zone (and its offset) the days were counted in; one row."""

    id = IntegerField(primary_key=True)
    zone = CharField(max_length=64)
    offset_minutes = IntegerField()

    class Meta:
        table_name = "tally_clock"


MODELS = [TallyAnswer, TallyAnswerDay, TallyResponse, TallyClock]


def zone_offset():
    """Return (zone name, its offset from UTC now in minutes): the app's zone, else the default."""
    name = current_app.config.get("TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    offset = ZoneInfo(name).utcoffset(datetime.datetime.now())
    return name, int(offset.total_seconds() // 60)


def cells(postgres, row):
    """Return the (table, {column: expression}, counts) of each cell an answer row moves."""
    key = {name: expression.format(r=row) for name, expression in ANSWER_KEY.items()}
    daily = {**key, "day": (POSTGRES_DAY if postgres else SQLITE_DAY).format(r=row)}
    counts = {"answers": "1", "answered": FIRST.format(r=row)}
    return [
        ("tally_answer", key, counts),
        ("tally_answer_day", {name: daily[name] for name in DAY_KEY}, counts),
    ]


def response_cells(postgres, row):
    """Return the (table, {column: expression}, counts) of the cell a response row moves."""
    key = {name: expression.format(r=row) for name, expression in RESPONSE_KEY.items()}
    key["day"] = (POSTGRES_DAY if postgres else SQLITE_DAY).format(r=row)
    return [("tally_response", key, {"responses": "1"})]


def add(table, key, counts):
    """Return the upsert adding counts into one cell."""
    names = ", ".join(f'"{n}"' for n in [*key, *counts])
    values = ", ".join([*key.values(), *counts.values()])
    moved = ", ".join(f'"{n}" = "{table}"."{n}" + excluded."{n}"' for n in counts)
    conflict = ", ".join(f'"{n}"' for n in key)
    return (
        f'INSERT INTO "{table}" ({names}) VALUES ({values}) '
        f"ON CONFLICT ({conflict}) DO UPDATE SET {moved}"
    )


def take(table, key, counts, guard=""):
    """Return the update taking counts out of one cell."""
    moved = ", ".join(f'"{n}" = "{n}" - {v}' for n, v in counts.items())
    where = " AND ".join(f'"{n}" = {v}' for n, v in key.items())
    return f'UPDATE "{table}" SET {moved} WHERE {where}{guard}'


def statements(make, postgres, row, verb):
    """Return the statements (add or take) of every cell a row moves, ';'-joined."""
    return "; ".join(verb(*cell) for cell in make(postgres, row)) + ";"


def grouped(table, key, counts, source, where=""):
    """Return the INSERT … SELECT adding a table of rows into the cells, a cell a line."""
    names = ", ".join(f'"{n}"' for n in [*key, *counts])
    sums = ", ".join(f"SUM({v})" for v in counts.values())
    groups = ", ".join(key.values())
    return (
        f'INSERT INTO "{table}" ({names}) SELECT {groups}, {sums} FROM {source}{where} '
        f"GROUP BY {groups}"
    )


def add_rows(table, key, counts, where):
    """Return the statement adding a trigger's new rows into the cells (in key order: locks)."""
    moved = ", ".join(f'"{n}" = "{table}"."{n}" + excluded."{n}"' for n in counts)
    conflict = ", ".join(f'"{n}"' for n in key)
    order = ", ".join(key.values())
    return (
        f"{grouped(table, key, counts, 'new_rows AS r', where)} ORDER BY {order} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {moved}"
    )


def take_rows(table, key, counts, where):
    """Return the statement taking a trigger's old rows out of the cells."""
    columns = ", ".join(f'{v} AS "{n}"' for n, v in key.items())
    sums = ", ".join(f'SUM({v}) AS "{n}"' for n, v in counts.items())
    moved = ", ".join(f'"{n}" = "t"."{n}" - "d"."{n}"' for n in counts)
    match = " AND ".join(f'"t"."{n}" = "d"."{n}"' for n in key)
    return (
        f'UPDATE "{table}" AS "t" SET {moved} FROM (SELECT {columns}, {sums} FROM old_rows AS r'
        f'{where} GROUP BY {", ".join(key.values())}) AS "d" WHERE {match}'
    )


def postgres_function(name, make, where=""):
    """Return the PL/pgSQL function of a statement-level trigger: its rows' cells, grouped.

    One call per statement (a submit is one INSERT of all its answers), each cell moved once.
    """
    old = "; ".join(take_rows(*cell, where) for cell in make(True, "r")) + ";"
    new = "; ".join(add_rows(*cell, where) for cell in make(True, "r")) + ";"
    return f"""
CREATE FUNCTION "{name}"() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN {old} END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {new} END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


POSTGRES_EVENTS = {
    "insert": ("INSERT", 'NEW TABLE AS "new_rows"'),
    "delete": ("DELETE", 'OLD TABLE AS "old_rows"'),
    "update": ("UPDATE", 'OLD TABLE AS "old_rows" NEW TABLE AS "new_rows"'),
}


def sqlite_triggers(table, make, columns, old_when="", new_when=""):
    """Return the SQLite triggers (insert, delete, update's old and new) of one table."""
    old = statements(make, False, "OLD", take)
    new = statements(make, False, "NEW", add)
    events = (
        ("insert", "INSERT", new_when, new),
        ("delete", "DELETE", old_when, old),
        ("update_old", f"UPDATE {columns}", old_when, old),
        ("update_new", f"UPDATE {columns}", new_when, new),
    )
    return [
        f'CREATE TRIGGER "{table}_{name}_tally" AFTER {event} ON "{table}" {when} BEGIN {body} END'
        for name, event, when, body in events
    ]


def build(db, postgres):
    """Fill the tallies from the rows already stored (a GROUP BY of each cell's key)."""
    for make, source, where in (
        (cells, "answer", ""),
        (response_cells, "response", ' WHERE "response"."state" = 0'),
    ):
        for cell in make(postgres, f'"{source}"'):
            db.execute_sql(grouped(*cell, f'"{source}"', where))


def create_triggers(db, postgres):
    """Create the triggers that keep the tallies (bench/tallies.py --submit also calls it)."""
    if postgres:
        db.execute_sql(postgres_function("survey_answer_tally", cells))
        db.execute_sql(postgres_function("survey_response_tally", response_cells, STATE_0))
        for table in ("answer", "response"):
            for name, (event, rows) in POSTGRES_EVENTS.items():
                db.execute_sql(
                    f'CREATE TRIGGER "{table}_{name}_tally" AFTER {event} ON "{table}" '
                    f"REFERENCING {rows} FOR EACH STATEMENT "
                    f'EXECUTE FUNCTION "survey_{table}_tally"()'
                )
        return
    for sql in sqlite_triggers("answer", cells, ANSWER_COLUMNS) + sqlite_triggers(
        "response",
        response_cells,
        RESPONSE_COLUMNS,
        'WHEN OLD."state" = 0',
        'WHEN NEW."state" = 0',
    ):
        db.execute_sql(sql)


def drop_triggers(db, postgres):
    """Drop the triggers that keep the tallies."""
    for table in ("answer", "response"):
        if postgres:
            for name in POSTGRES_EVENTS:
                db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_{name}_tally" ON "{table}"')
            db.execute_sql(f'DROP FUNCTION IF EXISTS "survey_{table}_tally"()')
            continue
        for event in ("insert", "delete", "update_old", "update_new"):
            db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_{event}_tally"')


def up(migrator, db):
    """Create the tallies, their triggers, and build them from the answers already stored."""
    postgres = isinstance(db, PostgresqlDatabase)
    if postgres:  # no answer may arrive between the build's snapshot and its triggers
        db.execute_sql('LOCK TABLE "answer", "response" IN SHARE ROW EXCLUSIVE MODE')
    for model in MODELS:
        model._meta.without_rowid = not postgres and model is not TallyClock
    with db.bind_ctx(MODELS):
        db.create_tables(MODELS)
        zone, offset = zone_offset()
        TallyClock.create(id=1, zone=zone, offset_minutes=offset)
    build(db, postgres)
    create_triggers(db, postgres)


def down(migrator, db):
    """Drop the triggers and the tallies."""
    drop_triggers(db, isinstance(db, PostgresqlDatabase))
    with db.bind_ctx(MODELS):
        db.drop_tables(MODELS)
