"""Keep the personal links that stopped opening pages, so answers kept on a phone still arrive.

A link is retired when the coordinator makes a new one or deactivates its holder; for
TOKEN_GRACE_DAYS after that, answers sent under it are still taken. Nothing is retired before.
"""

from peewee import CharField, DateTimeField, ForeignKeyField, Model


class Collaborator(Model):
    """The collaborator table as this migration refers to it."""

    class Meta:
        table_name = "collaborator"


class RetiredToken(Model):
    """The retired_token table as this migration makes it."""

    collaborator = ForeignKeyField(Collaborator, field=Collaborator.id, on_delete="CASCADE")
    token = CharField(max_length=64, unique=True)
    retired_at = DateTimeField()

    class Meta:
        table_name = "retired_token"


def up(migrator, db):
    """Create the retired_token table with its indexes."""
    with db.bind_ctx([Collaborator, RetiredToken]):
        db.create_tables([RetiredToken])


def down(migrator, db):
    """Drop the retired_token table."""
    with db.bind_ctx([Collaborator, RetiredToken]):
        db.drop_tables([RetiredToken])
