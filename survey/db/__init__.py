"""Database binding: a DatabaseProxy opened from SURVEY_DATABASE_URL, request hooks, migrations."""

import contextlib
import os
from pathlib import Path

import click
from flask import g
from peewee import DatabaseProxy, Model, OperationalError, SqliteDatabase
from playhouse import db_url
from playhouse.migrations import Runner

database = DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Connections a worker process keeps open at most; each request borrows one and hands it back.
MAX_CONNECTIONS = 32
# Rows SQLite's ANALYZE reads per index: enough for the planner, milliseconds at any size.
ANALYSIS_LIMIT = 1000
_started = set()  # (process id, database URL) whose statistics were refreshed at start


class BaseModel(Model):
    """Base of every table, bound to the application's database."""

    class Meta:
        database = database
        legacy_table_names = False


def default_url(instance_path):
    """Return the SQLite URL of the default database file in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "survey.sqlite3")


def connect_url(url, sqlite_options):
    """Open a pooled peewee database for a URL, so a request's close hands the connection back."""
    from survey.db import postgres, sqlite  # the two engines' own modules import this one

    scheme, _, rest = url.partition("://")
    if scheme in ("sqlite", "sqlite+pool"):
        return sqlite.open_pool("sqlite+pool://" + rest, MAX_CONNECTIONS, **sqlite_options)
    if scheme in ("postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        return postgres.open_pool("postgresql+pool://" + rest, MAX_CONNECTIONS)
    return db_url.connect(url)


def is_sqlite():
    """Tell whether the bound database is SQLite."""
    return isinstance(database.obj, SqliteDatabase)


def vietnamese(field):
    """Return a field to order by in Vietnamese order (ICU on PostgreSQL, our key on SQLite)."""
    return field.collate("vi" if is_sqlite() else '"vi-x-icu"')


def open_database(app):
    """Bind the proxy to the database named by the app's DATABASE_URL (reused if already bound)."""
    url = app.config.get("DATABASE_URL") or default_url(app.instance_path)
    app.config["DATABASE_URL"] = url
    current = database.obj
    if current is not None and getattr(current, "survey_url", None) == url:
        return current
    if current is not None:
        current.close_all()
    opened = connect_url(
        url,
        {
            "synchronous": app.config.get("SQLITE_SYNCHRONOUS", "full"),
            "checkpoint_seconds": app.config.get("SQLITE_CHECKPOINT_SECONDS", 0),
        },
    )
    opened.survey_url = url
    database.initialize(opened)
    return opened


def migrate():
    """Apply every pending migration; return the names applied."""
    with database.connection_context():
        return Runner(database.obj, str(MIGRATIONS_DIR)).up()


def refresh_statistics(bulk=False):
    """Give the query planner statistics: at a process's start, and after a bulk load (bulk).

    SQLite keeps none until ANALYZE runs, and without them it may read a whole index and sort
    it for each chunk of an export. ANALYZE samples ANALYSIS_LIMIT rows per index, so it takes
    milliseconds on millions of rows; otherwise PRAGMA optimize analyses what needs it.
    PostgreSQL's autovacuum analyses on its own, but only some time after a bulk load.
    """
    if is_sqlite():
        database.execute_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        analysed = database.execute_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()
        database.execute_sql("ANALYZE" if bulk or not analysed else "PRAGMA optimize")
    elif bulk:
        database.execute_sql("ANALYZE")


@contextlib.contextmanager
def bulk_load():
    """Wrap a bulk load: SQLite keeps more index pages in memory meanwhile; statistics after."""
    from survey.db.sqlite import BULK_CACHE, pragmas  # sqlite.py imports this module

    if is_sqlite():
        database.execute_sql(f"PRAGMA cache_size={BULK_CACHE}")
    try:
        yield
    finally:
        if is_sqlite():
            database.execute_sql(f"PRAGMA cache_size={pragmas('normal')['cache_size']}")
    refresh_statistics(bulk=True)


def _connect():
    """Take a connection for this request (reusing one the caller already holds).

    The first request of a process on a database refreshes the planner's statistics.
    """
    g.db_opened_here = database.connect(reuse_if_open=True)
    started = (os.getpid(), database.obj.survey_url)
    if started not in _started:
        _started.add(started)
        try:
            refresh_statistics()
        except OperationalError:  # a writer held the lock past the busy timeout: next process
            pass


def _close(exc):
    """Hand this request's connection back to the pool, if the request opened it."""
    if g.pop("db_opened_here", False) and not database.is_closed():
        database.close()


@click.command("init-db")
def init_db_command():
    """Create the database or upgrade it to the current schema (safe to repeat)."""
    applied = migrate()
    click.echo(f"Applied {len(applied)} migration(s); the database is up to date.")


def init_app(app):
    """Open the database for the app and register its request hooks and command."""
    open_database(app)
    app.before_request(_connect)
    app.teardown_request(_close)
    app.cli.add_command(init_db_command)
