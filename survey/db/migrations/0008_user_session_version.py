"""Give each account a session version, part of every session's id: moving it on ends them all.

Logout, a password change or reset and deactivation move it on, so a copied cookie stops
working. Existing accounts start at 0; sessions made before this carry no version and end.
"""

from peewee import IntegerField


def up(migrator, db):
    """Add the accounts' session version column, 0 for every existing account."""
    migrator.migrate(migrator.add_column("user", "session_version", IntegerField(default=0)))


def down(migrator, db):
    """Drop the accounts' session version column."""
    migrator.migrate(migrator.drop_column("user", "session_version"))
