"""Builder options ("Khác (ghi rõ)", a scale's end labels, picks on a multiple choice), and
usernames unique whatever their case.

- `choice.other`: a choice whose selection asks for a written text, kept on its answer row;
- `question.low_label`, `high_label`: the words under a scale's two ends (none by default);
- `question.min_picks`, `max_picks`: how many choices a multiple-choice answer takes (none: any).

Usernames: a unique index on lower(username), so `DOAN_Q10` and `doan_q10` cannot both exist.
A database may already hold such twins; the migration does not fail on them: in each set of
twins the oldest account (lowest id) keeps its name, and every other one is renamed to its name
followed by "-" and its id (`doan_q10-7`), its password, role and sessions unchanged, with an
audit entry `user.rename` saying from what to what, so the admin can tell its owner.
"""

import datetime
import json

from peewee import SQL, BooleanField, IntegerField, TextField

INDEX = "user_username_lower"
NAME_LENGTH = 80  # the username column's size


def _renamed(name, user_id, taken):
    """Return a new name for a twin: name-id, shortened to fit, never one already taken."""
    suffix = f"-{user_id}"
    candidate = name[: NAME_LENGTH - len(suffix)] + suffix
    while candidate.lower() in taken:
        suffix += "x"
        candidate = name[: NAME_LENGTH - len(suffix)] + suffix
    return candidate


def rename_twins(db):
    """Rename every account whose lowercased name an older account already has; return them."""
    rows = list(db.execute_sql('SELECT "id", "username" FROM "user" ORDER BY "id"'))
    lowered = [r[0] for r in db.execute_sql('SELECT lower("username") FROM "user" ORDER BY "id"')]
    taken, renamed = set(lowered), []
    seen = set()
    for (user_id, name), low in zip(rows, lowered):
        if low not in seen:
            seen.add(low)
            continue
        new = _renamed(name, user_id, taken)
        taken.add(new.lower())
        seen.add(new.lower())
        db.execute_sql(
            f'UPDATE "user" SET "username" = {db.param} WHERE "id" = {db.param}', [new, user_id]
        )
        detail = json.dumps({"from": name, "to": new, "twin_of": low}, ensure_ascii=False)
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # stored as naive UTC
        marks = ", ".join([db.param] * 3)
        db.execute_sql(
            'INSERT INTO "audit_event" ("user_id", "action", "target", "detail", "at") '
            f"VALUES (NULL, 'user.rename', {marks})",
            [new, detail, now],
        )
        renamed.append((name, new))
    return renamed


def up(migrator, db):
    """Add the builder's columns, rename case twins, then index usernames case-insensitively."""
    migrator.migrate(
        # NOT NULL with a default in the table's own definition: a plain ADD COLUMN, so SQLite
        # does not rebuild the choice table (which would drop migration 0010's triggers).
        migrator.add_column(
            "choice",
            "other",
            BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")]),
            allow_not_null=True,
        ),
        migrator.add_column("question", "low_label", TextField(null=True)),
        migrator.add_column("question", "high_label", TextField(null=True)),
        migrator.add_column("question", "min_picks", IntegerField(null=True)),
        migrator.add_column("question", "max_picks", IntegerField(null=True)),
    )
    rename_twins(db)
    db.execute_sql(f'CREATE UNIQUE INDEX "{INDEX}" ON "user" (lower("username"))')


def down(migrator, db):
    """Drop the case-insensitive index and the builder's columns (renamed twins stay renamed)."""
    db.execute_sql(f'DROP INDEX IF EXISTS "{INDEX}"')
    migrator.migrate(
        migrator.drop_column("question", "max_picks"),
        migrator.drop_column("question", "min_picks"),
        migrator.drop_column("question", "high_label"),
        migrator.drop_column("question", "low_label"),
        migrator.drop_column("choice", "other"),
    )
