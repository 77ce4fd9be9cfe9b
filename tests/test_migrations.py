"""Upgrades keep data: a database filled at any migration's schema reaches the head intact.

The rows are made from what the database says about its own tables (columns, types, foreign
keys), so a new migration is covered without touching this file.
"""

import datetime

import pytest
from playhouse.migrations import Migration, Runner

from survey import create_app
from survey.db import MIGRATIONS_DIR, database, migrate
from survey.models import (
    TABLES,
    CollaboratorCode,
    ExportJob,
    RetiredToken,
    SetAsideAnswer,
    TallyAnswer,
    TallyAnswerDay,
    TallyClock,
    TallyResponse,
)
from tests.helpers import EXPRESSION_INDEXES

MIGRATIONS = [m.name for m in Migration.load_directory(str(MIGRATIONS_DIR))]
ROWS = 3
HISTORY = "schema_migration"
# Columns a later migration rewrites on purpose, (table, column) -> why; their old values are
# not compared (their rows still are counted).
REWRITTEN = {}
# Tables a later migration makes: a database filled before it has none of their rows.
MADE_BY = {
    RetiredToken: "0009_retired_tokens",
    SetAsideAnswer: "0012_response_state",
    CollaboratorCode: "0017_cards_and_contacts",
    ExportJob: "0016_export_jobs",
}
# Tables the database keeps from others (0015's running tallies, built and moved by triggers):
# never filled by hand here, nor compared; tests/test_running_tallies.py checks their rows.
DERIVED = {TallyAnswer, TallyAnswerDay, TallyResponse, TallyClock}
DERIVED_NAMES = {m._meta.table_name for m in DERIVED}


@pytest.fixture
def empty(database_url):
    """Bind the database proxy to an empty database (no migration applied)."""
    create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x"})
    yield database.obj
    database.obj.close_all()


def value(column, i):
    """Return a plain value for row i of a column, from its declared type."""
    kind = column.data_type.lower()
    if "bool" in kind:
        return i % 2 == 0
    if "int" in kind:
        return i + 1
    if any(word in kind for word in ("real", "float", "double", "numeric", "decimal")):
        return i + 0.5
    if "date" in kind or "time" in kind:
        return datetime.datetime(2025, 7, 1, 10, i, 30)
    return f"{column.name[:3]}ư{i}"  # short (fits any VARCHAR here), unique by row, not ASCII


def dependency_order(tables, foreign_keys):
    """Return the tables ordered so that every table comes after the tables it refers to."""
    done, order = set(), []
    while len(order) < len(tables):
        ready = [
            t
            for t in tables
            if t not in done and all(d in done or d == t for d in foreign_keys[t].values())
        ]
        assert ready, f"foreign keys form a cycle among {set(tables) - done}"
        for table in sorted(ready):
            done.add(table)
            order.append(table)
    return order


def fill(db):
    """Insert ROWS rows into every table, each foreign key pointing at a row of its table.

    A column referring to its own table (a questionnaire's repeat_of) stays empty.
    """
    tables = [t for t in db.get_tables() if t != HISTORY and t not in DERIVED_NAMES]
    foreign_keys = {t: {fk.column: fk.dest_table for fk in db.get_foreign_keys(t)} for t in tables}
    ids = {}
    for table in dependency_order(tables, foreign_keys):
        columns = db.get_columns(table)
        keys = [c for c in columns if c.primary_key]
        auto = keys[0].name if len(keys) == 1 and keys[0].name not in foreign_keys[table] else None
        for i in range(ROWS):
            row = {
                c.name: ids[foreign_keys[table][c.name]][i % ROWS]
                if c.name in foreign_keys[table]
                else value(c, i)
                for c in columns
                if c.name != auto and foreign_keys[table].get(c.name) != table
            }
            names = ", ".join(f'"{n}"' for n in row)
            marks = ", ".join([db.param] * len(row))
            db.execute_sql(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(row.values()))
        if auto:
            query = f'SELECT "{auto}" FROM "{table}" ORDER BY 1'
            ids[table] = [r[0] for r in db.execute_sql(query)]


def snapshot(db):
    """Return every table's rows as a sorted list of {column: value}, history left out."""
    tables = {}
    for table in db.get_tables():
        if table == HISTORY or table in DERIVED_NAMES:
            continue
        cursor = db.execute_sql(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cursor.description]
        tables[table] = sorted((dict(zip(names, row)) for row in cursor), key=repr)
    return tables


def kept(rows, columns, table):
    """Return rows reduced to the columns both schemas have (and no migration rewrites)."""
    keep = [c for c in columns if (table, c) not in REWRITTEN]
    return sorted(({c: r[c] for c in keep} for r in rows), key=repr)


def test_every_migration_file_is_numbered_and_loads():
    """Migration files are numbered in order from 0001, each with an up() the runner can call."""
    assert MIGRATIONS and MIGRATIONS[0] == "0001_initial"
    numbers = [int(name[:4]) for name in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    for migration in Migration.load_directory(str(MIGRATIONS_DIR)):
        assert callable(migration.load().up), migration.name


@pytest.mark.parametrize("start", MIGRATIONS)
def test_upgrade_to_head_keeps_every_row(empty, start):
    """Fill every table at `start`'s schema, upgrade to the head: every row and value is kept."""
    with database.connection_context():
        assert Runner(empty, str(MIGRATIONS_DIR)).up(target=start)[-1] == start
        fill(empty)
        before = snapshot(empty)
    assert before and all(len(rows) == ROWS for rows in before.values()), before.keys()
    assert migrate() == MIGRATIONS[MIGRATIONS.index(start) + 1 :]
    with database.connection_context():
        after = snapshot(empty)
        for table, rows in before.items():
            assert table in after, f"table {table} was lost"
            common = [c for c in rows[0] if c in after[table][0]]
            assert kept(after[table], common, table) == kept(rows, common, table), table
        for model in set(TABLES) - DERIVED:  # today's models read every upgraded row
            made_later = MADE_BY.get(model, "") > start
            assert len(list(model.select())) == (0 if made_later else ROWS), model.__name__
    assert migrate() == []


def test_head_schema_has_every_column_the_models_use(empty):
    """After all migrations, each model's table has each of its fields' columns (no drift)."""
    migrate()
    with database.connection_context():
        for model in TABLES:
            table = model._meta.table_name
            columns = {c.name for c in empty.get_columns(table)}
            fields = {f.column_name for f in model._meta.sorted_fields}
            assert fields <= columns, f"{table} lacks {fields - columns}: add a migration"


def test_first_row_marks_one_row_per_answer_after_upgrade(empty):
    """Migration 0004 marks the first row of each answer; a multi-choice answer's others are not."""
    with database.connection_context():
        Runner(empty, str(MIGRATIONS_DIR)).up(target="0003_tally_covering_indexes")
        fill(empty)
        first = empty.execute_sql(
            'SELECT "response_id", "question_id", "choice_id", '
            '"questionnaire_id", "ward_id", "organisation_id", '
            '"submitted_at" FROM "answer" ORDER BY "id"'
        ).fetchone()
        for _ in range(2):  # two more choices of that same multi-choice answer
            empty.execute_sql(
                'INSERT INTO "answer" ("response_id", "question_id", "choice_id", '
                '"questionnaire_id", "ward_id", "organisation_id", "submitted_at") VALUES '
                f"({', '.join([empty.param] * 7)})",
                first,
            )
    migrate()
    with database.connection_context():
        rows = empty.execute_sql(
            'SELECT "response_id", "question_id", "first_row" FROM "answer" ORDER BY "id"'
        ).fetchall()
    assert [bool(r[2]) for r in rows] == [True] * ROWS + [False, False]
    assert rows[-1][:2] == rows[0][:2]


def test_head_schema_has_the_indexes_the_models_declare(empty):
    """After all migrations, each table has exactly the indexes its model declares."""
    migrate()
    with database.connection_context():
        for model in TABLES:
            table = model._meta.table_name
            declared = {
                (tuple(f.column_name for f in index._expressions), index._unique)
                for index in model._meta.fields_to_index()
            }
            primary = tuple(f.column_name for f in model._meta.get_primary_keys())
            indexes = empty.get_indexes(table)
            present = {
                (tuple(index.columns), index.unique)
                for index in indexes
                if tuple(index.columns) != primary and index.name not in EXPRESSION_INDEXES
            }
            names = {index.name for index in indexes}
            assert {n for n, t in EXPRESSION_INDEXES.items() if t == table} <= names, table
            assert present == declared, (
                f"{table}: migrations {present - declared}, models {declared - present}"
            )


def foreign_keys(table):
    """Return the {column: referenced table} foreign keys the database holds for a table."""
    return {fk.column: fk.dest_table for fk in database.get_foreign_keys(table)}


def test_head_schema_has_the_foreign_keys_the_models_declare(empty):
    """Every declared foreign key is in the database, save the answer's copies on PostgreSQL."""
    from peewee import ForeignKeyField, PostgresqlDatabase

    migrate()
    copies = {"questionnaire_id", "ward_id", "organisation_id"}
    with database.connection_context():
        for model in TABLES:
            table = model._meta.table_name
            declared = {
                f.column_name: f.rel_model._meta.table_name
                for f in model._meta.sorted_fields
                if isinstance(f, ForeignKeyField)
            }
            if table == "answer" and isinstance(empty, PostgresqlDatabase):
                declared = {c: t for c, t in declared.items() if c not in copies}
            assert foreign_keys(table) == declared, table


def test_answer_copies_foreign_keys_come_back_on_downgrade(empty):
    """0006 goes down and up again: PostgreSQL's three constraints return, then go."""
    from peewee import PostgresqlDatabase

    migrate()
    runner = Runner(empty, str(MIGRATIONS_DIR))
    with database.connection_context():
        undone = runner.down(target="0006_answer_copies_without_foreign_keys")
        assert undone[-1] == "0006_answer_copies_without_foreign_keys"
        assert set(foreign_keys("answer")) == {
            "response_id",
            "question_id",
            "choice_id",
            "questionnaire_id",
            "ward_id",
            "organisation_id",
        }
        assert runner.up() == undone[::-1]
        kept = {"response_id", "question_id", "choice_id"}
        assert set(foreign_keys("answer")) == (
            kept
            if isinstance(empty, PostgresqlDatabase)
            else kept | {"questionnaire_id", "ward_id", "organisation_id"}
        )
