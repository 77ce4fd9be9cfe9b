"""Give each response a state, and a table for the answers of responses that are not counted.

A response is counted (0), voided by a coordinator (1) or a test answer sent from the preview
(2). The answers of a response that is not counted live in `set_aside_answer`, never in
`answer`: every tally, breakdown and export reads `answer` alone, so none of them needs to
know about voids or tests, and a restored response's answers move back unchanged. The
response row itself stays, so its `client_uuid` still refuses a second copy of it.
"""

from peewee import (
    SQL,
    BooleanField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


class Response(Model):
    """The response table as this migration refers to it."""

    class Meta:
        table_name = "response"


class SetAsideAnswer(Model):
    """The set_aside_answer table as this migration makes it: the answer table's columns."""

    response = ForeignKeyField(Response, field=Response.id, on_delete="CASCADE")
    question_id = IntegerField()
    choice_id = IntegerField(null=True)
    text = TextField(null=True)
    number = FloatField(null=True)
    questionnaire_id = IntegerField()
    ward_id = IntegerField()
    organisation_id = IntegerField()
    submitted_at = DateTimeField()
    first_row = BooleanField(default=True)

    class Meta:
        table_name = "set_aside_answer"


def up(migrator, db):
    """Add the state and void-reason columns and create the set_aside_answer table."""
    migrator.migrate(
        # A default in the database too: the submit path's INSERTs name only what they set.
        migrator.add_column(
            "response", "state", IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
        ),
        migrator.add_column("response", "void_reason", TextField(null=True)),
    )
    with db.bind_ctx([Response, SetAsideAnswer]):
        db.create_tables([SetAsideAnswer])


def down(migrator, db):
    """Drop the set_aside_answer table and the response's state columns."""
    with db.bind_ctx([Response, SetAsideAnswer]):
        db.drop_tables([SetAsideAnswer])
    migrator.migrate(
        migrator.drop_column("response", "void_reason"),
        migrator.drop_column("response", "state"),
    )
