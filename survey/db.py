"""Database binding: one DatabaseProxy opened from SURVEY_DATABASE_URL, request hooks, migrations."""
import contextlib
import fcntl
import os
import threading
from pathlib import Path

import click
from flask import g
from peewee import DatabaseProxy, Model, SqliteDatabase
from playhouse import db_url
from playhouse.migrations import Runner

database = DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Pragmas every SQLite connection gets: WAL lets readers run beside the writer,
# the busy timeout makes concurrent writers wait instead of failing.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -16000,
}


class BaseModel(Model):
    """Base of every table, bound to the application's database."""

    class Meta:
        database = database
        legacy_table_names = False


def default_url(instance_path):
    """Return the SQLite URL of the default database file in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "survey.sqlite3")


def connect_url(url):
    """Open a peewee database for a URL, pooled, so a request's close returns the connection."""
    scheme, _, rest = url.partition("://")
    if scheme in ("sqlite", "postgres", "postgresql"):
        scheme += "+pool"
    url = scheme + "://" + rest
    if scheme.startswith("sqlite"):
        # BEGIN IMMEDIATE takes the write lock up front, so a transaction never
        # fails half-way with "database is locked" when it upgrades from read to write.
        return db_url.connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                              max_connections=32, stale_timeout=3600, check_same_thread=False)
    return db_url.connect(url, max_connections=32, stale_timeout=600)


def is_sqlite():
    """Tell whether the bound database is SQLite."""
    return isinstance(database.obj, SqliteDatabase)


# This process's writer lock for each SQLite database: a file lock for the other processes
# and a thread lock for this one's threads (flock belongs to the open file, which threads
# share, and which a forked worker would share with its parent: so opened again by pid).
_writer_locks = {}
_writer_locks_made = threading.Lock()


def _writer_lock(path):
    """Return this process's (open lock file, thread lock) for a SQLite database file."""
    key = (os.getpid(), path)
    with _writer_locks_made:  # threads arriving together must not open two
        if key not in _writer_locks:
            lock_file = open(path + "-writer.lock", "a+b")  # noqa: SIM115 (kept open: it is the lock)
            _writer_locks[key] = (lock_file, threading.Lock())
        return _writer_locks[key]


@contextlib.contextmanager
def write_transaction():
    """Run one short write transaction; on SQLite, writers first queue on a file lock.

    SQLite's busy handler retries after sleeps of 1, 2, 5, 10 ms and more, each longer than
    a whole submission's transaction, so writers from several worker processes lost more
    time waiting there than writing. flock wakes the next writer the moment the lock is
    free; SQLite's own lock still guards the data, this only orders the queue.
    """
    path = database.obj.database if is_sqlite() else ":memory:"
    if path == ":memory:" or path.startswith("file:"):
        with database.atomic():
            yield
        return
    lock_file, thread_lock = _writer_lock(path)
    with thread_lock:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            with database.atomic():
                yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def open_database(app):
    """Bind the proxy to the database named by the app's DATABASE_URL (reused if already bound)."""
    url = app.config.get("DATABASE_URL") or default_url(app.instance_path)
    app.config["DATABASE_URL"] = url
    current = database.obj
    if current is not None and getattr(current, "survey_url", None) == url:
        return current
    if current is not None:
        current.close_all()
    opened = connect_url(url)
    opened.survey_url = url
    database.initialize(opened)
    return opened


def migrate():
    """Apply every pending migration; return the names applied."""
    with database.connection_context():
        return Runner(database.obj, str(MIGRATIONS_DIR)).up()


def _connect():
    """Take a connection for this request (reusing one the caller already holds)."""
    g.db_opened_here = database.connect(reuse_if_open=True)


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
