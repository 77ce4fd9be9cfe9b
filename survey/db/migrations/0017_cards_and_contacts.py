"""Keep each collaborator's QR code once drawn, and give each organisation a contact.

Drawing a code costs milliseconds (choosing its mask); a sheet of 5,000 cards drew each again.
The collaborator_code table starts empty: the card sheet draws and keeps the codes it lacks.
An organisation's contact (empty at first) is whom its collaborators ask for a new card: the
phone's page for a card that no longer works and the printed cards show it.
"""

from peewee import SQL, CharField, ForeignKeyField, Model, TextField


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


def contact_column():
    """Return the organisation's contact column, empty by default in the database too."""
    return CharField(max_length=200, default="", constraints=[SQL("DEFAULT ''")])


def up(migrator, db):
    """Create the collaborator_code table; add the organisations' contact column."""
    with db.bind_ctx([Collaborator, CollaboratorCode]):
        db.create_tables([CollaboratorCode])
    migrator.migrate(migrator.add_column("organisation", "contact", contact_column()))


def down(migrator, db):
    """Drop the organisations' contact column and the collaborator_code table."""
    migrator.migrate(migrator.drop_column("organisation", "contact"))
    with db.bind_ctx([Collaborator, CollaboratorCode]):
        db.drop_tables([CollaboratorCode])
