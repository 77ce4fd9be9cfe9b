"""Drop single-column indexes a composite index already covers, or that guard rows never deleted.

Every index costs each submission an update; the answer table had ten. What stays serves a
query: the tallies' covering indexes, (questionnaire, submitted_at), the response and choice
lookups, and the unique keys.
"""

REDUNDANT = {
    # covered by (questionnaire, submitted_at) and (question, choice, ward, organisation)
    "answer": [
        "answer_questionnaire_id",
        "answer_question_id",
        # wards and organisations are deactivated, never deleted
        "answer_ward_id",
        "answer_organisation_id",
    ],
    "response": ["response_questionnaire_id", "response_ward_id", "response_organisation_id"],
    # covered by the primary key (questionnaire, collaborator)
    "receipt": ["receipt_questionnaire_id"],
    # covered by the unique (question, key) and (questionnaire, key)
    "choice": ["choice_question_id"],
    "question": ["question_questionnaire_id"],
}


def up(migrator, db):
    """Drop the redundant indexes."""
    for table, indexes in REDUNDANT.items():
        for name in indexes:
            migrator.migrate(migrator.drop_index(table, name))


def down(migrator, db):
    """Put the single-column indexes back."""
    for table, indexes in REDUNDANT.items():
        for name in indexes:
            column = name[len(table) + 1 :]
            migrator.migrate(migrator.add_index(table, [column], False))
