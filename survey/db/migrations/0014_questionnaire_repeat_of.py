"""Let a questionnaire be a repeat (a new wave) of an earlier one, whose figures it is set beside.

The column is empty by default; deleting the earlier questionnaire empties it.
"""

from peewee import ForeignKeyField, Model
from playhouse.migrate import make_index_name


class Questionnaire(Model):
    """The questionnaire table as this migration refers to it."""

    class Meta:
        table_name = "questionnaire"


def up(migrator, db):
    """Add the questionnaire's nullable repeat_of column, with its index."""
    earlier = ForeignKeyField(
        Questionnaire, null=True, field=Questionnaire.id, on_delete="SET NULL"
    )
    migrator.migrate(migrator.add_column("questionnaire", "repeat_of_id", earlier))


def down(migrator, db):
    """Drop the repeat_of column and its index."""
    migrator.migrate(
        migrator.drop_index("questionnaire", make_index_name("questionnaire", ["repeat_of_id"])),
        migrator.drop_column("questionnaire", "repeat_of_id"),
    )
