"""`survey backup`: a consistent copy (SQLite) or dump (PostgreSQL) restoring the same data."""

import sqlite3
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from survey.cli import backup as backups
from survey.cli import fake
from survey.db import database, is_sqlite
from survey.models import TABLES


@pytest.fixture(autouse=True)
def english(app):
    """Print command messages in English, so these tests read the msgids."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


def table_counts(count):
    """Return {table: row count} for every table, counted by `count(table name)`."""
    return {m._meta.table_name: count(m._meta.table_name) for m in TABLES}


def live_counts():
    """Count the rows of every table in the application's database."""
    return table_counts(lambda t: database.execute_sql(f'SELECT count(*) FROM "{t}"').fetchone()[0])


def restored_counts(path, app):
    """Restore a backup somewhere else and count its rows (SQLite: open it; PostgreSQL: psql)."""
    if is_sqlite():
        with sqlite3.connect(path) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            counts = table_counts(
                lambda t: copy.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            )
        copy.close()
        return counts
    url = app.config["DATABASE_URL"].replace("+pool", "")
    name = f"survey_restore_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    target = url.rsplit("/", 1)[0] + "/" + name
    try:
        with open(path, "rb") as dump:
            subprocess.run(
                ["psql", "-q", "-v", "ON_ERROR_STOP=1", target],
                stdin=dump,
                check=True,
                capture_output=True,
            )
        with psycopg2.connect(target) as conn, conn.cursor() as cur:

            def count(table):
                cur.execute(f'SELECT count(*) FROM "{table}"')
                return cur.fetchone()[0]

            counts = table_counts(count)
        conn.close()
    finally:
        admin.cursor().execute(f"DROP DATABASE {name}")
        admin.close()
    return counts


def test_backup_restores_the_same_rows(runner, sample, app, tmp_path):
    fake.generate(sample, 60, seed=5)
    assert (
        runner.invoke(
            args=["create-user", "an", "--role", "admin"], input="river-lamp-41\nriver-lamp-41\n"
        ).exit_code
        == 0
    )
    target = tmp_path / "backup.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    expected = live_counts()
    expected["audit_event"] -= 1  # the backup's own audit entry comes after the copy
    assert expected["response"] == 60 and expected["answer"] > 60
    assert restored_counts(target, app) == expected


def test_backup_is_consistent_while_responses_arrive(runner, sample, app, tmp_path):
    if not is_sqlite():
        pytest.skip("pg_dump's snapshot consistency is PostgreSQL's; this checks the SQLite path")

    def write():
        """Store responses from another thread, as a running app would."""
        with database.connection_context():
            return fake.generate(sample, 300, seed=9)

    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(write)
        copies = []
        for i in range(3):
            copies.append(tmp_path / f"copy{i}.db")
            assert runner.invoke(args=["backup", str(copies[-1])]).exit_code == 0
        assert writer.result() == 300  # re-raises whatever the writer hit
    for copy_path in copies:
        with sqlite3.connect(copy_path) as copy:
            # every copied response has its required answer: no half-written response
            orphans = copy.execute(
                "SELECT count(*) FROM response r WHERE NOT EXISTS (SELECT 1 FROM answer a "
                "JOIN question q ON q.id = a.question_id WHERE a.response_id = r.id "
                "AND q.key = 'agree')"
            ).fetchone()[0]
            assert orphans == 0
        copy.close()


def test_backup_refusals(runner, db, tmp_path, monkeypatch):
    missing = runner.invoke(args=["backup", str(tmp_path / "no" / "such" / "b.db")])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    if is_sqlite():
        itself = runner.invoke(args=["backup", database.obj.database])
        assert itself.exit_code == 1 and "database itself" in itself.stderr
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backups.BackupError, match="pg_dump was not found"):
        backups._pg_dump("postgresql://postgres@127.0.0.1/test", tmp_path / "dump.sql")
    assert not (tmp_path / "dump.sql").exists()
