"""Database binding: a DatabaseProxy opened from SURVEY_DATABASE_URL, request hooks, migrations."""

from pathlib import Path

import click
from flask import g
from peewee import DatabaseProxy, Model, SqliteDatabase
from playhouse import db_url
from playhouse.migrations import Runner

database = DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Connections a worker process keeps open at most; each request borrows one and hands it back.
MAX_CONNECTIONS = 32


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
