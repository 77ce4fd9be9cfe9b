"""A questionnaire's schema version, moved on by the database itself whenever its form changes.

Every answer is checked against the questionnaire's questions, choices and targets; reading them
was most of a submission's work. A worker keeps them for a questionnaire while its
`schema_version` is the one read with the questionnaire's row in the same request. Triggers on
the question, choice and target tables move the version on in the same transaction as any
change, whether made by the app or in SQL behind its back, so the kept form is never stale.
"""

from peewee import IntegerField, PostgresqlDatabase

BUMP = 'UPDATE "questionnaire" SET "schema_version" = "schema_version" + 1 WHERE "id" IN '
# The tables whose rows make a questionnaire's form: each names its questionnaire directly,
# but a choice, through its question.
TABLES = ("question", "questionnaire_organisation", "questionnaire_ward", "choice")
EVENTS = {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}


def sqlite_targets(table, rows):
    """Return the SQLite list of the questionnaires a trigger's NEW and/or OLD row belong to."""
    if table == "choice":
        ids = ", ".join(f'{row}."question_id"' for row in rows)
        return f'(SELECT "questionnaire_id" FROM "question" WHERE "id" IN ({ids}))'
    return "(" + ", ".join(f'{row}."questionnaire_id"' for row in rows) + ")"


POSTGRES_FUNCTION = """
CREATE FUNCTION "survey_schema_changed"() RETURNS trigger AS $$
BEGIN
  IF TG_TABLE_NAME = 'choice' THEN
    UPDATE "questionnaire" SET "schema_version" = "schema_version" + 1 WHERE "id" IN (
      SELECT "questionnaire_id" FROM "question"
      WHERE "id" IN (NEW."question_id", OLD."question_id"));
  ELSE
    UPDATE "questionnaire" SET "schema_version" = "schema_version" + 1
    WHERE "id" IN (NEW."questionnaire_id", OLD."questionnaire_id");
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def up(migrator, db):
    """Add the version column and the triggers that move it on."""
    migrator.migrate(
        migrator.add_column("questionnaire", "schema_version", IntegerField(default=0))
    )
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(POSTGRES_FUNCTION)
        for table in TABLES:
            db.execute_sql(
                f'CREATE TRIGGER "{table}_schema_changed" AFTER INSERT OR UPDATE OR DELETE '
                f'ON "{table}" FOR EACH ROW EXECUTE FUNCTION "survey_schema_changed"()'
            )
        return
    for table in TABLES:
        for event, rows in EVENTS.items():
            db.execute_sql(
                f'CREATE TRIGGER "{table}_{event.lower()}_schema_changed" AFTER {event} '
                f'ON "{table}" BEGIN {BUMP}{sqlite_targets(table, rows)}; END'
            )


def down(migrator, db):
    """Drop the triggers and the version column."""
    if isinstance(db, PostgresqlDatabase):
        for table in TABLES:
            db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_schema_changed" ON "{table}"')
        db.execute_sql('DROP FUNCTION IF EXISTS "survey_schema_changed"()')
    else:
        for table in TABLES:
            for event in EVENTS:
                db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_{event.lower()}_schema_changed"')
    migrator.migrate(migrator.drop_column("questionnaire", "schema_version"))
