"""Covering indexes for the tallies' two costly counts, so they read no table rows.

Who answered a multi-choice question (DISTINCT question, response) and the scale and
number values (GROUP BY question, number) used to look up every answer row, most of a
tally's time on SQLite.
"""

INDEXES = {
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


def up(migrator, db):
    """Add the two covering indexes."""
    for columns in INDEXES.values():
        migrator.migrate(migrator.add_index("answer", columns, False))


def down(migrator, db):
    """Drop them again."""
    for name in INDEXES:
        migrator.migrate(migrator.drop_index("answer", name))
