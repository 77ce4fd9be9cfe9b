"""Database binding: one DatabaseProxy opened from SURVEY_DATABASE_URL, request hooks, migrations."""
import atexit
import contextlib
import fcntl
import itertools
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from urllib.parse import quote

import click
from flask import g
from peewee import DatabaseProxy, Model, OperationalError, SqliteDatabase
from playhouse import db_url
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase

database = DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Pragmas every SQLite connection gets: WAL lets readers run beside the writer,
# the busy timeout makes concurrent writers wait instead of failing.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    # The checkpointer thread (below) moves the WAL into the database every second; a
    # request's commit only does it past 40 MB, should that thread not run.
    "wal_autocheckpoint": 10000,
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
    if scheme.startswith("postgres"):
        return RestingPostgresPool(**db_url.parse(url), max_connections=32, stale_timeout=600)
    return db_url.connect(url, max_connections=32, stale_timeout=600)


class RestingPostgresPool(PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool, pinging a connection it hands out only after it has rested.

    The stock pool sends `SELECT 1` before every checkout: a round trip on every request.
    A connection given back less than PING_AFTER_SECONDS ago is trusted as it is; one that
    rested longer (a server restart, a firewall's idle cut) is still pinged before use.
    """
    PING_AFTER_SECONDS = 5.0

    def __init__(self, *args, **kwargs):
        """Open the pool with no connection given back yet."""
        super().__init__(*args, **kwargs)
        self._given_back_at = {}
        # Per driver connection, {statement text: the EXECUTE that runs it}, or None once it
        # lost one; weak, so a connection's entry goes with it however the pool lets it go.
        self._prepared = weakref.WeakKeyDictionary()
        # Names never repeat in a process: a name is never prepared twice on a connection.
        self._statement_numbers = itertools.count(1)

    def _can_reuse(self, conn):
        """Tell whether a connection given back may be pooled (peewee's check), noting when."""
        reusable = super()._can_reuse(conn)
        if reusable:
            self._given_back_at[self.conn_key(conn)] = time.monotonic()
        return reusable

    def _close_raw(self, conn):
        """Close a connection for good, forgetting when it was given back."""
        self._given_back_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn):
        """Tell whether a pooled connection is dead, asking the server only after a rest."""
        key = self.conn_key(conn)
        rested = time.monotonic() - self._given_back_at.get(key, float("-inf"))
        if rested < self.PING_AFTER_SECONDS and not conn.closed \
                and self._adapter.txn_status(conn) == self._adapter.txn_idle:
            return False
        closed = super()._is_closed(conn)
        if closed:  # the pool drops it without closing it: forget it here
            self._given_back_at.pop(key, None)
        return closed

    # Statements prepared per connection at most; past that, a statement runs unprepared.
    # The submit path has a few shapes: one per count of answer rows, guard and receipt.
    MAX_PREPARED = 200

    def execute_prepared(self, text, params):
        """Run a statement (%s placeholders) that is parsed and planned once per connection.

        psycopg2 sends every statement as text, which PostgreSQL parses, analyses and plans
        anew: half of the server's CPU for the submit's one statement (README, Measurements).
        PREPARE outlives a rolled-back transaction; should a statement be gone anyway
        (DISCARD ALL, a pooler in transaction mode), it is run unprepared, and so is every
        statement on that connection from then on: a pooler that loses them would otherwise
        gather statements prepared on its server connections and cost three round trips a call.
        """
        conn = self.connection()
        prepared = self._prepared.setdefault(conn, {})
        if prepared is None:  # this connection lost a prepared statement once
            return self.execute_sql(text, params)
        execute = prepared.get(text)
        if execute is None:
            if len(prepared) >= self.MAX_PREPARED:
                return self.execute_sql(text, params)
            name = f"survey_{next(self._statement_numbers)}"
            pieces = text.split("%s")
            self.execute_sql(f"PREPARE {name} AS " + "".join(
                piece + (f"${number}" if number < len(pieces) else "")
                for number, piece in enumerate(pieces, 1)))
            execute = prepared[text] = (f"EXECUTE {name} ({', '.join(['%s'] * (len(pieces) - 1))})"
                                        if len(pieces) > 1 else f"EXECUTE {name}")
        try:
            return self.execute_sql(execute, params)
        except OperationalError as error:
            if getattr(error.__context__, "pgcode", None) != INVALID_STATEMENT_NAME:  # the driver's error
                raise
            self._prepared[conn] = None
            return self.execute_sql(text, params)


# PostgreSQL's SQLSTATE for "prepared statement does not exist".
INVALID_STATEMENT_NAME = "26000"


def execute_prepared(text, params):
    """Run one of the app's often repeated statements: prepared once per connection on PostgreSQL.

    SQLite's driver keeps its own cache of prepared statements already.
    """
    obj = database.obj
    if isinstance(obj, RestingPostgresPool):
        return obj.execute_prepared(text, params)
    return obj.execute_sql(text, params)


def is_sqlite():
    """Tell whether the bound database is SQLite."""
    return isinstance(database.obj, SqliteDatabase)


# This process's writer lock for each SQLite database: a file lock for the other processes
# and a thread lock for this one's threads (flock belongs to the open file, which threads
# share, and which a forked worker would share with its parent: so opened again by pid).
_writer_locks = {}
_writer_locks_made = threading.Lock()


@atexit.register
def _close_lock_files():
    """Close the lock files this process opened, as it exits."""
    for key, (lock_file, _thread_lock) in list(_writer_locks.items()):
        if key[0] == os.getpid():
            lock_file.close()


def _writer_lock(path):
    """Return this process's (open lock file, thread lock) for a SQLite database file.

    The first write of a process starts its checkpointer (SQLITE_CHECKPOINT_SECONDS, 0: none).
    """
    key = (os.getpid(), path)
    if key in _writer_locks:
        return _writer_locks[key]
    with _writer_locks_made:  # threads arriving together must not open two
        if key not in _writer_locks:
            lock_file = open(path + "-writer.lock", "a+b")  # noqa: SIM115 (kept open: it is the lock)
            seconds = getattr(database.obj, "checkpoint_seconds", 0)
            if seconds:
                Checkpointer(path, seconds).start()
            _writer_locks[key] = (lock_file, threading.Lock())
        return _writer_locks[key]


class Checkpointer(threading.Thread):
    """Copies the SQLite WAL into the database file every SQLITE_CHECKPOINT_SECONDS, off the request path.

    A checkpoint ends with an fsync that took ~0.5 ms per submission on average when the
    commits of requests ran it, and writers queued behind it; here it waits in its own thread,
    without the GIL. PASSIVE never blocks a reader or a writer.
    """

    def __init__(self, path, seconds):
        """Keep the database path and the pause between checkpoints."""
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.path, self.seconds = path, seconds

    def run(self):
        """Checkpoint until the database can no longer be opened or checkpointed."""
        try:  # mode=rw: never create a database that is gone
            conn = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=0)
        except sqlite3.Error:
            return
        with contextlib.closing(conn):
            while os.path.exists(self.path):
                time.sleep(self.seconds)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    return


@contextlib.contextmanager
def write_transaction():
    """Yield a raw cursor inside one short SQLite write transaction; writers first queue on a file lock.

    SQLite's busy handler retries after sleeps of 1, 2, 5, 10 ms and more, each longer than
    a whole submission's transaction, so writers from several worker processes lost more
    time waiting there than writing. flock wakes the next writer the moment the lock is
    free; SQLite's own lock still guards the data, this only orders the queue.
    The statements go straight to the driver's cursor: peewee's atomic() and execute_sql()
    bookkeeping, which nothing here needs, was a fifth of the transaction's time. The
    driver's own errors come out (sqlite3.IntegrityError, not peewee's).
    """
    path = database.obj.database
    if path == ":memory:" or path.startswith("file:") or database.in_transaction():
        # No file to lock beside, or inside a caller's transaction (a batch): a savepoint then.
        with database.atomic():
            yield database.cursor()
        return
    lock_file, thread_lock = _writer_lock(path)
    with thread_lock:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            cursor = database.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                if cursor.connection.in_transaction:  # SQLite ends some failed ones itself
                    cursor.execute("ROLLBACK")
                raise
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
    opened.checkpoint_seconds = app.config.get("SQLITE_CHECKPOINT_SECONDS", 0)
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
