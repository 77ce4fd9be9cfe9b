"""Export jobs, and the index an export reads responses along.

A large export is prepared as a job in a process of its own; `export_job` keeps who asked for
what (the questionnaire, the filters and the viewer's organisation scope, the language), how
far it got and where its file is, so the download link still works after a worker restarts.
The index (questionnaire, state, id) lets an export read a questionnaire's counted responses
in id order a chunk at a time, each chunk starting where the last ended.
"""

from peewee import (
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


class User(Model):
    """The user table as this migration refers to it."""

    class Meta:
        table_name = "user"


class Questionnaire(Model):
    """The questionnaire table as this migration refers to it."""

    class Meta:
        table_name = "questionnaire"


class ExportJob(Model):
    """The export_job table as this migration makes it."""

    user = ForeignKeyField(User, field=User.id, on_delete="CASCADE")
    questionnaire = ForeignKeyField(Questionnaire, field=Questionnaire.id, on_delete="CASCADE")
    token = CharField(max_length=64, unique=True)
    kind = CharField(max_length=10)
    params = TextField()
    state = CharField(max_length=10)
    progress = FloatField()
    rows = IntegerField()
    file = TextField()
    error = TextField()
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        table_name = "export_job"


INDEX = "response_questionnaire_id_state_id"


def up(migrator, db):
    """Create the export_job table and the response index exports read along."""
    with db.bind_ctx([User, Questionnaire, ExportJob]):
        db.create_tables([ExportJob])
    migrator.migrate(migrator.add_index("response", ("questionnaire_id", "state", "id")))


def down(migrator, db):
    """Drop the index and the export_job table."""
    migrator.migrate(migrator.drop_index("response", INDEX))
    with db.bind_ctx([User, Questionnaire, ExportJob]):
        db.drop_tables([ExportJob])
