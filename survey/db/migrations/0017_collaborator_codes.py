"""Keep each collaborator's QR code once drawn, so card sheets of thousands read them back.

Drawing a code costs milliseconds (choosing its mask); a sheet of 5,000 cards drew each again.
The table starts empty: the card sheet draws and keeps the codes it lacks.
"""

from peewee import ForeignKeyField, Model, TextField


class Collaborator(Model):
    """The collaborator table as this migration refers to it."""

    class Meta:
        table_name = "collaborator"


class CollaboratorCode(Model):
    """The collaborator_code table as this migration makes it."""

    collaborator = ForeignKeyField(
        Collaborator, field=Collaborator.id, primary_key=True, on_delete="CASCADE"
    )
    link = TextField()
    svg = TextField()

    class Meta:
        table_name = "collaborator_code"


def up(migrator, db):
    """Create the collaborator_code table."""
    with db.bind_ctx([Collaborator, CollaboratorCode]):
        db.create_tables([CollaboratorCode])


def down(migrator, db):
    """Drop the collaborator_code table."""
    with db.bind_ctx([Collaborator, CollaboratorCode]):
        db.drop_tables([CollaboratorCode])
