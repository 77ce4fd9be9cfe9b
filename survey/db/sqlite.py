"""SQLite: pooled connections with WAL, and short write transactions queued on a file lock."""

import atexit
import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from urllib.parse import quote

from playhouse import db_url

from survey.collation import compare
from survey.db import database


def pragmas(synchronous):
    """Return the pragmas every SQLite connection gets."""
    return {
        # WAL lets readers run beside the writer.
        "journal_mode": "wal",
        # FULL syncs the log at every commit, so an acknowledged answer survives an OS crash.
        "synchronous": synchronous,
        # The checkpointer thread moves the WAL into the database; a commit only does it past 40 MB.
        "wal_autocheckpoint": 10000,
        "foreign_keys": 1,
        # Concurrent writers wait for the lock instead of failing.
        "busy_timeout": 10000,
        "cache_size": -16000,
    }


# A bulk load's cache (KiB, negative as SQLite reads it): the pages of every group of the answer
# index it appends to stay in memory (16 MB re-read them: 1.6x slower per row, measured).
BULK_CACHE = -256000


def open_pool(url, max_connections, synchronous="full", checkpoint_seconds=0):
    """Open a pooled SQLite database for a sqlite+pool:// URL."""
    # BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails
    # half-way with "database is locked" when it upgrades from read to write.
    opened = db_url.connect(
        url,
        pragmas=pragmas(synchronous),
        lock_type="IMMEDIATE",
        max_connections=max_connections,
        stale_timeout=3600,
        check_same_thread=False,
    )
    opened.checkpoint_seconds = checkpoint_seconds
    # Names sort the Vietnamese way through survey.db.vietnamese (PostgreSQL uses ICU's).
    opened.register_collation(compare, "vi")
    return opened


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
    """Copy the SQLite WAL into the database file every SQLITE_CHECKPOINT_SECONDS, off the requests.

    A checkpoint ends with an fsync; when the commits of requests ran it, each submission
    paid for it and writers queued behind it; here it waits in its own thread,
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
    """Yield a raw cursor in one short SQLite write transaction; writers first queue on a file lock.

    SQLite's busy handler retries after sleeps of 1, 2, 5, 10 ms and more, each longer than
    a whole submission's transaction, so writers from several worker processes lost more
    time waiting there than writing. flock wakes the next writer the moment the lock is
    free; SQLite's own lock still guards the data, this only orders the queue.
    The statements go straight to the driver's cursor: peewee's atomic() and execute_sql()
    bookkeeping, which nothing here needs, was a large share of the transaction. The
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
