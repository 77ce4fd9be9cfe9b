"""Give each question its concern: the answers that signal a hotspot, as JSON (none by default)."""

from peewee import TextField


def up(migrator, db):
    """Add the questions' nullable concern column."""
    migrator.migrate(migrator.add_column("question", "concern", TextField(null=True)))


def down(migrator, db):
    """Drop the questions' concern column."""
    migrator.migrate(migrator.drop_column("question", "concern"))
