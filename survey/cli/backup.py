"""Backups of the whole database, safe to take while the application runs.

SQLite: the sqlite3 online backup API copies a consistent snapshot (WAL included) into a
new SQLite file. To restore, stop the application and copy the file back over the
database file (SURVEY_DATABASE_URL), removing any leftover `-wal` and `-shm` files beside it.

PostgreSQL: `pg_dump` writes a plain SQL dump. To restore, create an empty database and
run `psql postgresql://user@host/newdb < PATH`, then point SURVEY_DATABASE_URL at it.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from survey.db import database, is_sqlite


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
    finally:
        dst.close()
        src.close()
    os.replace(partial, path)


def _pg_dump(url, path):
    """Dump the PostgreSQL database at `url` into `path` as plain SQL with pg_dump."""
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupError(
            "pg_dump was not found: install the PostgreSQL client "
            "(Debian: apt install postgresql-client)"
        )
    rest = url.partition("://")[2]
    partial = path.with_name(path.name + ".partial")
    done = subprocess.run(
        [program, "--no-owner", "--no-privileges", "--file", str(partial), "postgresql://" + rest],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError("pg_dump failed: " + done.stderr.strip())
    os.replace(partial, path)
