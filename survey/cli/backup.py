"""Backups of the whole database, safe to take while the application runs.

SQLite: the sqlite3 online backup API copies a consistent snapshot (WAL included) into a
new SQLite file. To restore, stop the application and copy the file back over the
database file (SURVEY_DATABASE_URL), removing any leftover `-wal` and `-shm` files beside it.

PostgreSQL: `pg_dump` writes a plain SQL dump. To restore, create an empty database and
run `psql postgresql://user@host/newdb < PATH`, then point SURVEY_DATABASE_URL at it.

Receipts (who answered) are written in the order of their key on both databases, never in the
order they were stored: set beside responses in id order, that order would tie each receipt
of an anonymous questionnaire to its response. SQLite: the copy's receipt table is rebuilt in
key order, then the copy is vacuumed (no freed page keeps the old rows). PostgreSQL: pg_dump
writes tables in their physical order, so it leaves the receipts' rows out and they are
appended, sorted, from the same snapshot.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from survey.db import database, is_sqlite

# The receipts appended to a PostgreSQL dump (pg_dump empties search_path: names are qualified).
RECEIPTS_COPY_IN = (
    b'\nCOPY public."receipt" ("questionnaire_id", "collaborator_id", "count") FROM stdin;\n'
)


class BackupError(RuntimeError):
    """A backup that could not be made, with the reason to show."""


def backup(path):
    """Write a backup of the bound database to `path` (replaced atomically if it exists)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} does not exist")
    if is_sqlite():
        _sqlite(Path(database.obj.database), path)
    else:
        _pg_dump(database.obj.survey_url, path)
    return path


def _sqlite(source, path):
    """Copy the SQLite file `source` into `path` through the online backup API."""
    if path.exists() and path.resolve() == source.resolve():
        raise BackupError("the backup cannot overwrite the database itself")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)
        _sort_receipts(dst)
    finally:
        dst.close()
        src.close()
    os.replace(partial, path)


def _sort_receipts(copy):
    """Rewrite a SQLite copy's receipts in key order (new rowids too), then vacuum the copy."""
    with copy:
        copy.execute(
            "CREATE TEMP TABLE sorted_receipt AS SELECT * FROM receipt "
            "ORDER BY questionnaire_id, collaborator_id"
        )
        copy.execute("DELETE FROM receipt")
        copy.execute(
            "INSERT INTO receipt SELECT * FROM sorted_receipt "
            "ORDER BY questionnaire_id, collaborator_id"
        )
        copy.execute("DROP TABLE sorted_receipt")
    copy.execute("VACUUM")


def _pg_dump(url, path):
    """Dump the PostgreSQL database at `url` into `path` as plain SQL with pg_dump."""
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupError(
            "pg_dump was not found: install the PostgreSQL client "
            "(Debian: apt install postgresql-client)"
        )
    import psycopg  # the postgres extra's driver: a SQLite install has none

    url = "postgresql://" + url.partition("://")[2]
    partial = path.with_name(path.name + ".partial")
    with psycopg.connect(url, autocommit=True) as conn:
        # One snapshot for pg_dump and the sorted receipts: exported by a transaction kept open.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        done = subprocess.run(
            [
                program,
                "--no-owner",
                "--no-privileges",
                "--snapshot",
                snapshot,
                "--exclude-table-data",
                "receipt",
                "--file",
                str(partial),
                url,
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupError("pg_dump failed: " + done.stderr.strip())
        with open(partial, "ab") as out:
            out.write(RECEIPTS_COPY_IN)
            sorted_rows = (
                'COPY (SELECT "questionnaire_id", "collaborator_id", "count" FROM "receipt" '
                'ORDER BY "questionnaire_id", "collaborator_id") TO STDOUT'
            )
            with conn.cursor().copy(sorted_rows) as copy:
                out.writelines(copy)
            out.write(b"\\.\n")
        conn.execute("COMMIT")
    os.replace(partial, path)
