"""PostgreSQL: no foreign-key checks on the answer's copies of its response's columns.

An answer row carries its response's questionnaire, ward and organisation so that a tally is one
GROUP BY without a join (0004). They are copied from the response's own row as it is inserted,
in the same statement, and the response's foreign keys check those very values: the answer's
three checks found nothing new. They cost each answer row three trigger calls, each taking a
KEY SHARE lock on the same few hot rows (the questionnaire, a ward, an organisation) that every
concurrent submission locks too (PostgreSQL's CPU per submission: bench/submit.py).
SQLite keeps them: its checks are cheap in-process index lookups, and dropping a constraint
there rebuilds the table, which is the biggest one.
"""

from peewee import PostgresqlDatabase

COPIES = (
    ("questionnaire_id", "questionnaire"),
    ("ward_id", "ward"),
    ("organisation_id", "organisation"),
)


def up(migrator, db):
    """Drop the three foreign keys of the answer's copied columns (PostgreSQL only)."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            'ALTER TABLE "answer" '
            + ", ".join(f'DROP CONSTRAINT IF EXISTS "answer_{column}_fkey"' for column, _ in COPIES)
        )


def down(migrator, db):
    """Put the three foreign keys back (PostgreSQL only)."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            'ALTER TABLE "answer" '
            + ", ".join(
                f'ADD CONSTRAINT "answer_{column}_fkey" FOREIGN KEY ("{column}") '
                f'REFERENCES "{table}" ("id")'
                for column, table in COPIES
            )
        )
