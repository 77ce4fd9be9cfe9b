"""One covering index for every tally, and `first_row`, so a tally is one GROUP BY.

The answer table had eight indexes, six of them for tallies; each submission paid for all of
them; two are left, this and answer.response_id. The tally now reads
every count at the finest grain (question, ward, organisation, choice, number) in this
index's order, and folds the few thousand groups into totals and breakdowns.

`first_row` is true on one answer row per (response, question): a multi-choice answer has a
row per chosen choice, and summing `first_row` counts the responses that answered it without
a DISTINCT over response ids.

The responses' (questionnaire, submitted_at) index becomes (questionnaire, ward, organisation,
submitted_at): the same one index per row, but the count by ward × organisation reads it in
order, sorting nothing and reading no table row.

On PostgreSQL, which hashes the groups instead, the planner took ward, choice and number for
independent, expected far more groups than there are, and chose to sort every row on disk.
Statistics on the columns together set it right.
"""

from peewee import BooleanField, PostgresqlDatabase
from playhouse.migrate import make_index_name

DROPPED = {
    # Only deleting a choice looked answers up by choice, and a choice is deleted only while
    # its questionnaire has no answers: that rare check may scan, so every submission
    # need not keep this index (it was 40% of the inserts' cost with the two others).
    "answer_choice_id": ["choice_id"],
    "answer_question_id_choice_id_ward_id_organisation_id": [
        "question_id",
        "choice_id",
        "ward_id",
        "organisation_id",
    ],
    "answer_question_id_ward_id_choice_id": ["question_id", "ward_id", "choice_id"],
    "answer_question_id_organisation_id_choice_id": ["question_id", "organisation_id", "choice_id"],
    "answer_questionnaire_id_submitted_at": ["questionnaire_id", "submitted_at"],
    "answer_question_id_response_id_ward_id_organisation_id": [
        "question_id",
        "response_id",
        "ward_id",
        "organisation_id",
    ],
    "answer_question_id_number_ward_id_organisation_id": [
        "question_id",
        "number",
        "ward_id",
        "organisation_id",
    ],
}
TALLY_INDEX = [
    "question_id",
    "ward_id",
    "organisation_id",
    "choice_id",
    "number",
    "first_row",
    "submitted_at",
]
RESPONSE_DROPPED = ["questionnaire_id", "submitted_at"]
RESPONSE_INDEX = ["questionnaire_id", "ward_id", "organisation_id", "submitted_at"]
GROUP_STATISTICS = (
    'CREATE STATISTICS IF NOT EXISTS "answer_tally_groups" (ndistinct) ON "question_id", '
    '"ward_id", "organisation_id", "choice_id", "number" FROM "answer"'
)
# Every row but the second and later choices of a multi-choice answer is its answer's first.
MARK_LATER_ROWS = (
    'UPDATE "answer" SET "first_row" = FALSE WHERE EXISTS (SELECT 1 FROM "answer" AS "earlier" '
    'WHERE "earlier"."response_id" = "answer"."response_id" '
    'AND "earlier"."question_id" = "answer"."question_id" AND "earlier"."id" < "answer"."id")'
)


def up(migrator, db):
    """Add and fill first_row, swap seven answer indexes for one, widen the responses' index."""
    migrator.migrate(migrator.add_column("answer", "first_row", BooleanField(default=True)))
    db.execute_sql(MARK_LATER_ROWS)
    for name in DROPPED:
        migrator.migrate(migrator.drop_index("answer", name))
    migrator.migrate(migrator.add_index("answer", TALLY_INDEX, False))
    migrator.migrate(migrator.drop_index("response", make_index_name("response", RESPONSE_DROPPED)))
    migrator.migrate(migrator.add_index("response", RESPONSE_INDEX, False))
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(GROUP_STATISTICS)
        db.execute_sql('ANALYZE "answer"')


def down(migrator, db):
    """Put the eight indexes back and drop first_row (and the statistics)."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('DROP STATISTICS IF EXISTS "answer_tally_groups"')
    migrator.migrate(migrator.drop_index("response", make_index_name("response", RESPONSE_INDEX)))
    migrator.migrate(migrator.add_index("response", RESPONSE_DROPPED, False))
    migrator.migrate(migrator.drop_index("answer", make_index_name("answer", TALLY_INDEX)))
    for columns in DROPPED.values():
        migrator.migrate(migrator.add_index("answer", columns, False))
    migrator.migrate(migrator.drop_column("answer", "first_row"))
