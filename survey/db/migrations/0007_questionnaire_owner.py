"""Give each questionnaire an owner: an organisation, whose coordinators edit it, or the district.

Existing questionnaires go to the district (no organisation): admins and coordinators without an
organisation edit them.
"""

from peewee import ForeignKeyField, Model
from playhouse.migrate import make_index_name


class Organisation(Model):
    """The organisation table as this migration refers to it."""

    class Meta:
        table_name = "organisation"


def up(migrator, db):
    """Add the questionnaire's owner column (empty: the district), with its index."""
    owner = ForeignKeyField(Organisation, null=True, field=Organisation.id)
    migrator.migrate(migrator.add_column("questionnaire", "organisation_id", owner))


def down(migrator, db):
    """Drop the questionnaire's owner column and its index."""
    migrator.migrate(
        migrator.drop_index("questionnaire", make_index_name("questionnaire", ["organisation_id"])),
        migrator.drop_column("questionnaire", "organisation_id"),
    )
