"""Storing a checked response: its row, its receipt and its answers, all or nothing.

The unique client_uuid and the receipt's primary key decide races, not a check before the
insert: whichever insert loses rolls the whole response back, and the loser is told why.
"""

import sqlite3

from peewee import IntegrityError

from survey.db import database, is_sqlite
from survey.db.sqlite import write_transaction
from survey.models import AuditEvent, Response, SetAsideAnswer, utcnow

STORED, DUPLICATE, ALREADY_ANSWERED, UUID_TAKEN = (
    "stored",
    "duplicate",
    "already_answered",
    "uuid_taken",
)

# SQLite: three statements in one write transaction.
SQLITE_RESPONSE = (
    'INSERT INTO "response" ("questionnaire_id", "ward_id", "organisation_id", '
    '"collaborator_id", "submitted_at", "client_uuid") VALUES (?, ?, ?, ?, ?, ?)'
)
SQLITE_RECEIPT_ONE = (
    'INSERT INTO "receipt" ("questionnaire_id", "collaborator_id", "count") VALUES (?, ?, 1)'
)
SQLITE_RECEIPT_MANY = (
    'INSERT INTO "receipt" ("questionnaire_id", "collaborator_id", "count") VALUES (?, ?, 1) '
    'ON CONFLICT ("questionnaire_id", "collaborator_id") '
    'DO UPDATE SET "count" = "receipt"."count" + 1'
)
SQLITE_ANSWER = (
    'INSERT INTO "answer" ("response_id", "question_id", "choice_id", "text", "number", '
    '"first_row", "questionnaire_id", "ward_id", "organisation_id", "submitted_at") '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# PostgreSQL: one statement (one round trip) whose WITH clauses insert the response, then its
# receipt and its answers from the response's row; the answers arrive as five arrays.
POSTGRES_RESPONSE = (
    'WITH r AS (INSERT INTO "response" ("questionnaire_id", "ward_id", "organisation_id", '
    '"collaborator_id", "submitted_at", "client_uuid") VALUES (%s, %s, %s, %s, %s, %s) '
    'RETURNING "id", "questionnaire_id", "ward_id", "organisation_id", "submitted_at")'
)
POSTGRES_RECEIPT_ONE = (
    ', c AS (INSERT INTO "receipt" ("questionnaire_id", "collaborator_id", "count") '
    'SELECT "questionnaire_id", %s, 1 FROM r)'
)
POSTGRES_RECEIPT_MANY = (
    ', c AS (INSERT INTO "receipt" ("questionnaire_id", "collaborator_id", "count") '
    'SELECT "questionnaire_id", %s, 1 FROM r ON CONFLICT ("questionnaire_id", "collaborator_id") '
    'DO UPDATE SET "count" = "receipt"."count" + 1)'
)
POSTGRES_ANSWERS = (
    ', a AS (INSERT INTO "answer" ("response_id", "question_id", "choice_id", "text", "number", '
    '"first_row", "questionnaire_id", "ward_id", "organisation_id", "submitted_at") '
    'SELECT r."id", v.q, v.c, v.t, v.n, v.f, r."questionnaire_id", r."ward_id", '
    'r."organisation_id", r."submitted_at" FROM r, '
    "unnest(%s::integer[], %s::integer[], %s::text[], %s::double precision[], %s::boolean[]) "
    'AS v (q, c, t, n, f)) SELECT "id" FROM r'
)
POSTGRES_STORE = {
    None: POSTGRES_RESPONSE + POSTGRES_ANSWERS,
    "one": POSTGRES_RESPONSE + POSTGRES_RECEIPT_ONE + POSTGRES_ANSWERS,
    "many": POSTGRES_RESPONSE + POSTGRES_RECEIPT_MANY + POSTGRES_ANSWERS,
}


# Many responses at once (fake responses for demos and benchmarks): no collaborator, no receipt.
POSTGRES_MANY_RESPONSES = (
    'INSERT INTO "response" ("questionnaire_id", "ward_id", "organisation_id", '
    '"collaborator_id", "submitted_at", "client_uuid") '
    "SELECT %s, v.w, v.o, NULL, %s, v.u FROM unnest(%s::integer[], %s::integer[], "
    '%s::varchar[]) AS v (w, o, u) RETURNING "id", "client_uuid"'
)
POSTGRES_MANY_ANSWERS = (
    'INSERT INTO "answer" ("response_id", "question_id", "choice_id", "text", "number", '
    '"first_row", "questionnaire_id", "ward_id", "organisation_id", "submitted_at") '
    "SELECT v.r, v.q, v.c, v.t, v.n, v.f, %s, v.w, v.o, %s FROM unnest(%s::integer[], "
    "%s::integer[], %s::integer[], %s::text[], %s::double precision[], %s::boolean[], "
    "%s::integer[], %s::integer[]) AS v (r, q, c, t, n, f, w, o)"
)


def answer_rows(values):
    """Return (question, choice, text, number, first_row) per value; first_row: one per question."""
    rows, seen = [], set()
    for v in values:
        number = None if v.number is None else float(v.number)  # one type per array column
        rows.append((v.question_id, v.choice_id, v.text, number, v.question_id not in seen))
        seen.add(v.question_id)
    return rows


def store_sqlite(response, receipt, answers, receipt_collaborator_id):
    """Store a response in one SQLite write transaction."""
    questionnaire_id, ward_id, organisation_id, _linked, submitted_at, _uuid = response
    with write_transaction() as cursor:
        cursor.execute(SQLITE_RESPONSE, response)
        response_id = cursor.lastrowid
        if receipt is not None:
            cursor.execute(
                SQLITE_RECEIPT_ONE if receipt == "one" else SQLITE_RECEIPT_MANY,
                (questionnaire_id, receipt_collaborator_id),
            )
        cursor.executemany(
            SQLITE_ANSWER,
            [
                (response_id, *row, questionnaire_id, ward_id, organisation_id, submitted_at)
                for row in answers
            ],
        )


def store_postgres(response, receipt, answers, receipt_collaborator_id):
    """Store a response in one PostgreSQL statement (atomic on its own)."""
    columns = [list(column) for column in zip(*answers)] if answers else [[]] * 5
    params = [*response]
    if receipt is not None:
        params.append(receipt_collaborator_id)
    database.execute_sql(POSTGRES_STORE[receipt], [*params, *columns])


def store(questionnaire, ward_id, organisation_id, collaborator, client_uuid, values):
    """Store a checked response; say STORED, DUPLICATE, ALREADY_ANSWERED or UUID_TAKEN.

    An anonymous questionnaire's response carries no collaborator; the receipt alone says
    that they answered.
    """
    now = utcnow()
    linked = None if questionnaire.anonymous or collaborator is None else collaborator.id
    receipt = None if collaborator is None else questionnaire.per_collaborator
    answers = answer_rows(values)
    try:
        if is_sqlite():
            stamp = now.isoformat(" ")  # as peewee stores times in SQLite
            store_sqlite(
                (questionnaire.id, ward_id, organisation_id, linked, stamp, client_uuid),
                receipt,
                answers,
                collaborator and collaborator.id,
            )
        else:
            store_postgres(
                (questionnaire.id, ward_id, organisation_id, linked, now, client_uuid),
                receipt,
                answers,
                collaborator and collaborator.id,
            )
    except (IntegrityError, sqlite3.IntegrityError):  # peewee's, or SQLite's from its cursor
        outcome = conflict(questionnaire, collaborator, client_uuid)
        if outcome is None:
            raise
        return outcome
    return STORED


def conflict(questionnaire, collaborator, client_uuid):
    """Say why a unique key refused a response (sent, answered before, reused id), or None."""
    earlier = Response.get_or_none(Response.client_uuid == client_uuid)
    if earlier is not None:
        return DUPLICATE if earlier.questionnaire_id == questionnaire.id else UUID_TAKEN
    if collaborator is not None and questionnaire.per_collaborator == "one":
        return ALREADY_ANSWERED
    return None


def store_test(user, questionnaire, place, client_uuid, values):
    """Store a test answer sent from the preview; say STORED, DUPLICATE or UUID_TAKEN.

    Checked like any form, but stored as a TEST response whose answers go straight into
    set_aside_answer, never into `answer`, with no receipt: no figure ever counts it.
    `place` is the (ward id, organisation id) the tester picked; audited as response.test.
    """
    now = utcnow()
    ward_id, organisation_id = place
    try:
        with database.atomic():
            response = Response.create(
                questionnaire=questionnaire.id,
                ward=ward_id,
                organisation=organisation_id,
                submitted_at=now,
                client_uuid=client_uuid,
                state=Response.TEST,
            )
            rows = [
                {
                    "response": response.id,
                    "question_id": question_id,
                    "choice_id": choice_id,
                    "text": text,
                    "number": number,
                    "first_row": first_row,
                    "questionnaire_id": questionnaire.id,
                    "ward_id": ward_id,
                    "organisation_id": organisation_id,
                    "submitted_at": now,
                }
                for question_id, choice_id, text, number, first_row in answer_rows(values)
            ]
            if rows:
                SetAsideAnswer.insert_many(rows).execute()
            AuditEvent.record(user, "response.test", f"{questionnaire.slug}/{response.id}")
    except IntegrityError:
        outcome = conflict(questionnaire, None, client_uuid)
        if outcome is None:
            raise
        return outcome
    return STORED


def _index_order(row):
    """Return the key of an SQLITE_ANSWER row in the answer table's tally index."""
    return (row[1], row[7], row[8], row[2] or 0, row[4] or 0)


def store_many(questionnaire, responses):
    """Store checked responses without a collaborator, all in one transaction; return how many.

    `responses` holds (ward id, organisation id, client_uuid, rows) tuples, rows being
    answer_rows() of checked values (made once for a form stored many times). For fake
    responses at scale: one round trip for many responses instead of one each.
    """
    now = utcnow()
    if is_sqlite():
        stamp = now.isoformat(" ")
        with write_transaction() as cursor:
            rows = []
            for ward_id, organisation_id, client_uuid, answers in responses:
                cursor.execute(
                    SQLITE_RESPONSE,
                    (questionnaire.id, ward_id, organisation_id, None, stamp, client_uuid),
                )
                tail = (questionnaire.id, ward_id, organisation_id, stamp)
                rows += [(cursor.lastrowid, *row, *tail) for row in answers]
            # In the tally index's order: each insert lands beside the last (1.7x faster per
            # row, measured); a multi-choice answer's rows may then come in another order.
            rows.sort(key=_index_order)
            cursor.executemany(SQLITE_ANSWER, rows)
        return len(responses)
    wards, organisations, uuids, answers = (list(column) for column in zip(*responses))
    with database.atomic():
        ids = dict(
            (u, i)
            for i, u in database.execute_sql(
                POSTGRES_MANY_RESPONSES, (questionnaire.id, now, wards, organisations, uuids)
            )
        )
        columns = [[] for _ in range(8)]
        for ward_id, organisation_id, client_uuid, rows in zip(
            wards, organisations, uuids, answers
        ):
            for row in rows:
                for column, value in zip(
                    columns, (ids[client_uuid], *row, ward_id, organisation_id)
                ):
                    column.append(value)
        database.execute_sql(POSTGRES_MANY_ANSWERS, (questionnaire.id, now, *columns))
    return len(responses)
