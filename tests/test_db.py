"""The database lifecycle: migrations, a connection per request, SQLite settings."""

import contextlib
import shutil
import sqlite3
import time

import pytest

from survey.db import database, is_sqlite, migrate
from survey.db.sqlite import write_transaction
from survey.models import TABLES, Organisation, Ward
from tests.helpers import EXPRESSION_INDEXES, store_answers


def test_migrate_creates_every_table_and_is_idempotent(app, db):
    """init-db creates all tables once; running it again applies nothing."""
    for model in TABLES:
        assert model.table_exists(), model.__name__
    assert migrate() == []


def test_init_db_command(runner):
    """`survey init-db` reports that the database is up to date."""
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "Applied 0 migration(s)" in result.output


def test_connection_per_request(client):
    """A request opens a connection and hands it back when it ends."""
    client.get("/login")
    assert database.is_closed()


def test_sqlite_pragmas(app, db):
    """SQLite runs in WAL mode with foreign keys and a busy timeout."""
    if not is_sqlite():
        return
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_data_survives_reconnect(app):
    """What is written in one connection is read in the next (a real file, not :memory:)."""
    with database.connection_context():
        Organisation.create(code="X", name="Tổ chức X")
    database.obj.close_all()
    with database.connection_context():
        assert Organisation.get(Organisation.code == "X").name == "Tổ chức X"


def test_migrated_schema_matches_the_models(app, db):
    """After all migrations the tables, columns and indexes are exactly what models.py declares."""
    from playhouse.schema_diff import diff_models

    diff = diff_models(database.obj, TABLES)
    # An index on an expression is made by its migration alone (no model can declare it).
    expression = [d for d in diff.drop_indexes if EXPRESSION_INDEXES.get(d.name) == d.table]
    assert sorted(d.name for d in expression) == sorted(EXPRESSION_INDEXES)
    diff.drop_indexes[:] = [d for d in diff.drop_indexes if d not in expression]
    assert not diff, str(diff)


def test_redundant_indexes_are_gone(app, db):
    """The answer table keeps only the indexes a query uses (each one costs every submission)."""
    indexes = {tuple(index.columns) for index in database.get_indexes("answer")} - {("id",)}
    assert indexes == {
        ("response_id",),
        (
            "question_id",
            "ward_id",
            "organisation_id",
            "choice_id",
            "number",
            "first_row",
            "submitted_at",
        ),
    }


@pytest.mark.parametrize("seconds", [0, 0.05])
def test_checkpointer_moves_committed_answers_into_the_database_file(
    app, sample, tmp_path, monkeypatch, seconds
):
    """With SQLITE_CHECKPOINT_SECONDS a thread copies the WAL into the file; with 0 it stays out."""
    if not is_sqlite():
        pytest.skip("the WAL and its checkpoints are SQLite's")
    monkeypatch.setattr(database.obj, "checkpoint_seconds", seconds)
    path = database.obj.database
    with app.app_context(), database.connection_context():
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # start with an empty WAL
        store_answers(sample, Ward.get(code="P1"), Organisation.get(code="MTTQ"), {"agree": "yes"})

    def responses_in_the_file_alone():
        """Count the responses in a copy of the database file without its WAL."""
        copy = tmp_path / "file-alone.sqlite3"
        shutil.copyfile(path, copy)
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            return conn.execute("SELECT COUNT(*) FROM response").fetchone()[0]

    deadline = time.monotonic() + 1.0
    while responses_in_the_file_alone() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert responses_in_the_file_alone() == (1 if seconds else 0)


def test_a_failed_write_transaction_leaves_nothing_behind(app, db):
    """SQLite's write transaction: a failing statement undoes the ones before it, and says why."""
    if not is_sqlite():
        pytest.skip("write_transaction is SQLite's (PostgreSQL stores a response in one statement)")
    with pytest.raises(sqlite3.IntegrityError), write_transaction() as cursor:
        cursor.execute("INSERT INTO ward (code, name, active) VALUES ('X9', 'x', 1)")
        cursor.execute("INSERT INTO ward (code, name, active) VALUES ('X9', 'x', 1)")
    assert not database.connection().in_transaction
    assert database.execute_sql("SELECT count(*) FROM ward WHERE code = 'X9'").fetchone() == (0,)
