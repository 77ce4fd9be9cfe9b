"""The tables of survey and the queries that belong to them."""
import datetime
import secrets
import sqlite3

from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
    fn,
)

from survey.db import BaseModel, database, execute_prepared, is_sqlite, write_transaction

KINDS = ("single", "multi", "scale", "number", "text", "longtext", "date", "section")
CHOICE_KINDS = ("single", "multi")
ROLES = ("admin", "coordinator", "viewer")
STATUSES = ("draft", "open", "closed")


def sql(text):
    """Return hand-written SQL (with ? placeholders) in the bound database's parameter style.

    The submit path runs a few statements thousands of times; writing them once here
    spares peewee rebuilding the same SQL on every request.
    """
    return text if database.obj.param == "?" else text.replace("?", database.obj.param)


def columns_of(model, alias):
    """Return the SELECT list of a model's columns in field order, qualified by a table alias."""
    return ", ".join(f'{alias}."{f.column_name}"' for f in model._meta.sorted_fields)


def from_values(model, values):
    """Return a model instance from its columns' values in field order (its id first), or None for a NULL id.

    Built straight from the row: peewee's Model.raw resolves its columns again on every
    call, twice the cost of the query itself on the submit path. A NULL id is the missing
    side of a LEFT JOIN.
    """
    fields = model._meta.sorted_fields
    if values[0] is None:
        return None
    # __no_default__, as peewee's own row reader: defaults (a new token, the time) are not
    # computed for fields the row fills anyway.
    instance = model(__no_default__=True, **{field.name: field.python_value(value)
                                             for field, value in zip(fields, values)})
    instance._dirty.clear()  # as loaded from the database: nothing to save
    return instance


def utcnow():
    """Return the current UTC time without tzinfo, as every timestamp is stored."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def new_token():
    """Return a fresh personal-link secret with 192 bits from `secrets`."""
    return secrets.token_urlsafe(24)


class Organisation(BaseModel):
    """One of the district's organisations (MTTQ, Đoàn, LĐLĐ, ...)."""
    code = CharField(max_length=20, unique=True)
    name = CharField(max_length=200)
    active = BooleanField(default=True)

    @classmethod
    def ordered(cls):
        """Return the active organisations in code order."""
        return cls.select().where(cls.active).order_by(cls.code)


class Ward(BaseModel):
    """A ward (phường) of the district: data, never code."""
    code = CharField(max_length=20, unique=True)
    name = CharField(max_length=200)
    active = BooleanField(default=True)

    @classmethod
    def ordered(cls):
        """Return the active wards in code order."""
        return cls.select().where(cls.active).order_by(cls.code)


class Collaborator(BaseModel):
    """A public-opinion collaborator who answers through a personal link."""
    name = CharField(max_length=200)
    phone = CharField(max_length=30, null=True, index=True)
    organisation = ForeignKeyField(Organisation, backref="collaborators")
    ward = ForeignKeyField(Ward, backref="collaborators")
    token = CharField(max_length=64, unique=True, default=new_token)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def by_token(cls, token):
        """Return the active collaborator holding this token, or None."""
        row = execute_prepared(sql(COLLABORATOR_BY_TOKEN), (token,)).fetchone()
        return None if row is None else from_values(cls, row)

    def rotate_token(self):
        """Give the collaborator a new link; the old one stops working at once."""
        self.token = new_token()
        self.save(only=[Collaborator.token])


class User(BaseModel):
    """A coordinator, viewer or admin account."""
    username = CharField(max_length=80, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=20, default="coordinator")
    organisation = ForeignKeyField(Organisation, null=True, backref="users")
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    # Flask-Login's user interface.
    is_anonymous = False

    @property
    def is_authenticated(self):
        """Tell Flask-Login this is a real account."""
        return True

    @property
    def is_active(self):
        """Tell Flask-Login whether the account may log in."""
        return self.active

    def get_id(self):
        """Return the id Flask-Login keeps in the session."""
        return str(self.id)


class Questionnaire(BaseModel):
    """A questionnaire sent to (part of) the collaborator network."""
    slug = CharField(max_length=80, unique=True)
    title = CharField(max_length=300)
    description = TextField(default="")
    status = CharField(max_length=10, default="draft")
    opens_at = DateTimeField(null=True)
    closes_at = DateTimeField(null=True)
    anonymous = BooleanField(default=False)
    per_collaborator = CharField(max_length=10, default="one")
    open_link = BooleanField(default=False)
    suppress_below = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def by_slug(cls, slug):
        """Return the questionnaire with this slug, or None."""
        row = execute_prepared(sql(QUESTIONNAIRE_BY_SLUG), (slug,)).fetchone()
        return None if row is None else from_values(cls, row)

    def is_accepting(self, now=None):
        """Tell whether answers are accepted now: open, and within opens_at/closes_at."""
        now = now or utcnow()
        if self.status != "open":
            return False
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)

    def ordered_questions(self, include_hidden=False):
        """Return the questions in position order (hidden ones only on request)."""
        query = self.questions.order_by(Question.position, Question.id)
        if not include_hidden:
            query = query.where(~Question.hidden)
        return query

    def target_organisations(self):
        """Return the organisations this questionnaire is sent to (empty: all)."""
        return (Organisation.select().join(QuestionnaireOrganisation)
                .where(QuestionnaireOrganisation.questionnaire == self).order_by(Organisation.code))

    def target_wards(self):
        """Return the wards this questionnaire is sent to (empty: all)."""
        return (Ward.select().join(QuestionnaireWard)
                .where(QuestionnaireWard.questionnaire == self).order_by(Ward.code))

    def targeted_collaborators(self):
        """Return the active collaborators this questionnaire is sent to."""
        query = Collaborator.select().where(Collaborator.active)
        orgs = QuestionnaireOrganisation.select(QuestionnaireOrganisation.organisation).where(
            QuestionnaireOrganisation.questionnaire == self)
        wards = QuestionnaireWard.select(QuestionnaireWard.ward).where(
            QuestionnaireWard.questionnaire == self)
        if orgs.exists():
            query = query.where(Collaborator.organisation.in_(orgs))
        if wards.exists():
            query = query.where(Collaborator.ward.in_(wards))
        return query

    def has_responses(self):
        """Tell whether any response has been stored, which freezes kinds and keys."""
        return Response.select().where(Response.questionnaire == self).exists()


class QuestionnaireOrganisation(BaseModel):
    """An organisation a questionnaire is sent to."""
    questionnaire = ForeignKeyField(Questionnaire, backref="organisation_targets",
                                    on_delete="CASCADE")
    organisation = ForeignKeyField(Organisation)

    class Meta:
        indexes = ((("questionnaire", "organisation"), True),)


class QuestionnaireWard(BaseModel):
    """A ward a questionnaire is sent to."""
    questionnaire = ForeignKeyField(Questionnaire, backref="ward_targets", on_delete="CASCADE")
    ward = ForeignKeyField(Ward)

    class Meta:
        indexes = ((("questionnaire", "ward"), True),)


# The phone form's lookups, written once: a personal form needs both rows, so one query.
COLLABORATOR_BY_TOKEN = (f'SELECT {columns_of(Collaborator, "c")} FROM "collaborator" AS c '
                         'WHERE c."token" = ? AND c."active"')
QUESTIONNAIRE_BY_SLUG = (f'SELECT {columns_of(Questionnaire, "q")} FROM "questionnaire" AS q '
                         'WHERE q."slug" = ?')
QUESTIONNAIRE_AND_COLLABORATOR = (
    f'SELECT {columns_of(Questionnaire, "q")}, {columns_of(Collaborator, "c")} '
    'FROM "questionnaire" AS q LEFT JOIN "collaborator" AS c ON c."token" = ? AND c."active" '
    'WHERE q."slug" = ?')


def questionnaire_and_collaborator(slug, token):
    """Return (questionnaire with this slug, active collaborator with this token), None where missing.

    One query instead of two: on PostgreSQL every query is a round trip. With no such
    questionnaire, the collaborator is not looked for (None too).
    """
    row = execute_prepared(sql(QUESTIONNAIRE_AND_COLLABORATOR), (token, slug)).fetchone()
    if row is None:
        return None, None
    split = len(Questionnaire._meta.sorted_fields)
    return from_values(Questionnaire, row[:split]), from_values(Collaborator, row[split:])


class Question(BaseModel):
    """A question (or a section heading) of a questionnaire."""
    questionnaire = ForeignKeyField(Questionnaire, backref="questions", on_delete="CASCADE",
                                    index=False)
    key = CharField(max_length=64)
    position = IntegerField(default=0)
    kind = CharField(max_length=10)
    prompt = TextField()
    help = TextField(default="")
    required = BooleanField(default=False)
    minimum = FloatField(null=True)
    maximum = FloatField(null=True)
    show_if_question = CharField(max_length=64, null=True)
    show_if_choice = CharField(max_length=64, null=True)
    hidden = BooleanField(default=False)

    class Meta:
        indexes = ((("questionnaire", "key"), True),)

    def ordered_choices(self, include_hidden=False):
        """Return the choices in position order (hidden ones only on request)."""
        query = self.choices.order_by(Choice.position, Choice.id)
        if not include_hidden:
            query = query.where(~Choice.hidden)
        return query


class Choice(BaseModel):
    """One choice of a single- or multi-choice question."""
    question = ForeignKeyField(Question, backref="choices", on_delete="CASCADE", index=False)
    key = CharField(max_length=64)
    position = IntegerField(default=0)
    label = TextField()
    hidden = BooleanField(default=False)

    class Meta:
        indexes = ((("question", "key"), True),)


class Response(BaseModel):
    """One submitted form, recorded by ward and organisation."""
    questionnaire = ForeignKeyField(Questionnaire, backref="responses", index=False)
    ward = ForeignKeyField(Ward, index=False)
    organisation = ForeignKeyField(Organisation, index=False)
    # Not indexed: nothing reads responses by collaborator (receipts count who answered; migration 0005).
    collaborator = ForeignKeyField(Collaborator, null=True, backref="responses", index=False)
    submitted_at = DateTimeField(default=utcnow)
    client_uuid = CharField(max_length=36, unique=True)

    class Meta:
        # Counts by ward × organisation read this index in order (migration 0004).
        indexes = ((("questionnaire", "ward", "organisation", "submitted_at"), False),)

    STORED, DUPLICATE, ALREADY_ANSWERED = "stored", "duplicate", "already_answered"
    CHANGED = "changed"  # only with if_unchanged: nothing was stored

    @classmethod
    def store(cls, questionnaire, ward_id, organisation_id, collaborator, client_uuid, values,
              if_unchanged=False):
        """Store a checked response in one short transaction; say stored, duplicate, already_answered or changed.

        The unique client_uuid and the receipt's primary key decide races, not a
        check-then-insert: whichever insert loses rolls the whole response back.
        With if_unchanged, the questionnaire and collaborator (or place) were read by an earlier
        request: the insert itself checks that they are still as read (unchanged_guard), and
        stores nothing, saying changed, when they are not.
        """
        now = utcnow()
        collaborator_id = None if questionnaire.anonymous or collaborator is None else collaborator.id
        place = (questionnaire.id, ward_id, organisation_id)
        receipt = None if collaborator is None else receipt_insert(questionnaire)
        guard, guard_params = (unchanged_guard(questionnaire, collaborator, ward_id, organisation_id)
                               if if_unchanged else ("", ()))
        # (question, choice, text, number, first_row): first_row marks one row per question.
        answers, seen = [], set()
        for v in values:
            answers.append((v.question_id, v.choice_id, v.text, v.number, v.question_id not in seen))
            seen.add(v.question_id)
        try:
            if is_sqlite():
                stamp = now.isoformat(" ")  # SQLite stores times as text
                with write_transaction() as cursor:
                    row = cursor.execute(RESPONSE_INSERT.format(guard=guard), (
                        *place, collaborator_id, stamp, client_uuid, *guard_params)).fetchone()
                    if row is None:  # the guard found a row changed: nothing inserted
                        return cls.CHANGED
                    if receipt:
                        cursor.execute(receipt, (questionnaire.id, collaborator.id))
                    if answers:  # one statement for all rows
                        cursor.execute(ANSWER_INSERT + ", ".join([ANSWER_ROW] * len(answers)),
                                       [value for answer in answers
                                        for value in (row[0], *answer, *place, stamp)])
            elif execute_prepared(*one_statement_store(
                    (*place, collaborator_id, now, client_uuid), guard, guard_params,
                    receipt, receipt and (questionnaire.id, collaborator.id),
                    answers)).fetchone() is None:
                return cls.CHANGED
        except (IntegrityError, sqlite3.IntegrityError):  # peewee's, or SQLite's from its cursor
            if cls.select().where(cls.client_uuid == client_uuid).exists():
                return cls.DUPLICATE
            if collaborator is not None and questionnaire.per_collaborator == "one":
                return cls.ALREADY_ANSWERED
            raise
        return cls.STORED


# {guard} is empty, or the WHERE of unchanged_guard: SELECT without FROM inserts one row or none.
RESPONSE_INSERT = (
    'INSERT INTO "response" ("questionnaire_id", "ward_id", "organisation_id", '
    '"collaborator_id", "submitted_at", "client_uuid") SELECT ?, ?, ?, ?, ?, ?{guard} RETURNING "id"')
# A questionnaire and a collaborator as an earlier request read them, and still taking answers.
QUESTIONNAIRE_UNCHANGED = (
    'EXISTS (SELECT 1 FROM "questionnaire" WHERE "id" = ? AND "updated_at" = ? '
    'AND "status" = \'open\')')
COLLABORATOR_UNCHANGED = (
    'EXISTS (SELECT 1 FROM "collaborator" WHERE "id" = ? AND "token" = ? AND "active" '
    'AND "ward_id" = ? AND "organisation_id" = ?)')
# An open-link or poster form: its link still open, its ward and organisation still active.
OPEN_LINK_UNCHANGED = QUESTIONNAIRE_UNCHANGED.replace("'open')", "'open' AND \"open_link\")")
PLACE_ACTIVE = ('EXISTS (SELECT 1 FROM "ward" WHERE "id" = ? AND "active") '
                'AND EXISTS (SELECT 1 FROM "organisation" WHERE "id" = ? AND "active")')


def unchanged_guard(questionnaire, collaborator, ward_id, organisation_id):
    """Return (WHERE clause, params) under which the response insert finds its rows as they were read.

    Every change of a questionnaire (its status, dates, questions, targets, open link)
    stamps its updated_at; a collaborator's form depends on its token, active flag, ward and
    organisation; an open-link or poster form on its ward and organisation being active.
    """
    stamp = questionnaire.updated_at.isoformat(" ") if is_sqlite() else questionnaire.updated_at
    if collaborator is None:
        return (" WHERE " + OPEN_LINK_UNCHANGED + " AND " + PLACE_ACTIVE,
                (questionnaire.id, stamp, ward_id, organisation_id))
    return (" WHERE " + QUESTIONNAIRE_UNCHANGED + " AND " + COLLABORATOR_UNCHANGED,
            (questionnaire.id, stamp, collaborator.id, collaborator.token,
             collaborator.ward_id, collaborator.organisation_id))


RECEIPT_ONE = ('INSERT INTO "receipt" ("questionnaire_id", "collaborator_id", "count") '
               'VALUES (?, ?, 1)')
RECEIPT_MANY = (RECEIPT_ONE + ' ON CONFLICT ("questionnaire_id", "collaborator_id") '
                'DO UPDATE SET "count" = "receipt"."count" + 1')


def receipt_insert(questionnaire):
    """Return the INSERT that counts one more response of a collaborator to this questionnaire.

    A second receipt for a one-response questionnaire breaks the primary key: that is the rule.
    """
    return RECEIPT_ONE if questionnaire.per_collaborator == "one" else RECEIPT_MANY


ANSWER_INSERT = (
    'INSERT INTO "answer" ("response_id", "question_id", "choice_id", "text", "number", '
    '"first_row", "questionnaire_id", "ward_id", "organisation_id", "submitted_at") VALUES ')
ANSWER_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# PostgreSQL: the response's row hands its id, place and time to its answers in the statement.
ONE_STATEMENT_ANSWERS = (
    'INSERT INTO "answer" ("response_id", "question_id", "choice_id", "text", "number", '
    '"first_row", "questionnaire_id", "ward_id", "organisation_id", "submitted_at") '
    'SELECT r."id", v.q, v.c, v.t, v.n, v.f, r."questionnaire_id", r."ward_id", '
    'r."organisation_id", r."submitted_at" FROM r, (VALUES {rows}) AS v (q, c, t, n, f)')
ONE_STATEMENT_RESPONSE = RESPONSE_INSERT.replace(
    'RETURNING "id"', 'RETURNING "id", "questionnaire_id", "ward_id", "organisation_id", "submitted_at"')
# The receipt too is counted only when the response's row was inserted.
ONE_STATEMENT_RECEIPT = ("VALUES (?, ?, 1)", "SELECT ?, ?, 1 FROM r")
# Typed, so that a column of NULLs in VALUES is not taken for text.
ONE_STATEMENT_ROW = "(?::integer, ?::integer, ?::text, ?::double precision, ?::boolean)"


def one_statement_store(response, guard, guard_params, receipt, receipt_params, answers):
    """Return (SQL, params) storing a response, its receipt and its answers in one PostgreSQL statement.

    Data-modifying WITH clauses make one statement, which is atomic on its own: one round
    trip to the server instead of BEGIN, three INSERTs and COMMIT. It returns the response's
    id, or no row when a guard (unchanged_guard) let nothing be inserted.
    """
    parts = ["WITH r AS (" + ONE_STATEMENT_RESPONSE.format(guard=guard) + ")"]
    params = [*response, *guard_params]
    if receipt:
        parts.append(", c AS (" + receipt.replace(*ONE_STATEMENT_RECEIPT) + ")")
        params += receipt_params
    if answers:
        parts.append(", a AS (" + ONE_STATEMENT_ANSWERS.format(
            rows=", ".join([ONE_STATEMENT_ROW] * len(answers))) + ")")
        params += [value for answer in answers for value in answer]
    parts.append(' SELECT "id" FROM r')
    return sql("".join(parts)), params


class Answer(BaseModel):
    """One answered value; a multi-choice answer has a row per chosen choice.

    The response's questionnaire, ward, organisation and time are copied here so a
    tally or breakdown is one GROUP BY over an index, with no join.
    """
    response = ForeignKeyField(Response, backref="answers", on_delete="CASCADE")
    question = ForeignKeyField(Question, index=False)
    choice = ForeignKeyField(Choice, null=True, index=False)  # migration 0004 says why
    text = TextField(null=True)
    number = FloatField(null=True)
    # Copies of the response's own (checked there): PostgreSQL checks no foreign key on them (0006).
    questionnaire = ForeignKeyField(Questionnaire, index=False)
    ward = ForeignKeyField(Ward, index=False)
    organisation = ForeignKeyField(Organisation, index=False)
    submitted_at = DateTimeField()
    # True on one row per (response, question): summing it counts who answered a multi-choice
    # question (a row per chosen choice) without a DISTINCT over response ids.
    first_row = BooleanField(default=True)

    class Meta:
        # Every tally is one GROUP BY read in this index's order (migration 0004 says why).
        indexes = ((("question", "ward", "organisation", "choice", "number", "first_row",
                     "submitted_at"), False),)


class Receipt(BaseModel):
    """That a collaborator answered a questionnaire (and how often), kept apart from responses.

    No id or timestamp: nothing here orders or dates a receipt, so for an anonymous
    questionnaire no receipt can be matched to its response.
    """
    questionnaire = ForeignKeyField(Questionnaire, backref="receipts", index=False)
    collaborator = ForeignKeyField(Collaborator, backref="receipts")
    count = IntegerField(default=1)

    class Meta:
        primary_key = CompositeKey("questionnaire", "collaborator")

    @classmethod
    def has_answered(cls, questionnaire, collaborator):
        """Tell whether the collaborator has answered this questionnaire."""
        return cls.select().where((cls.questionnaire == questionnaire)
                                  & (cls.collaborator == collaborator)).exists()


class AuditEvent(BaseModel):
    """A change made by a coordinator or admin: who, what, when."""
    user = ForeignKeyField(User, null=True, backref="audit_events")
    action = CharField(max_length=60)
    target = CharField(max_length=300, default="")
    detail = TextField(default="")
    at = DateTimeField(default=utcnow, index=True)

    @classmethod
    def record(cls, user, action, target="", detail=""):
        """Write one audit entry."""
        user_id = user.id if user is not None and getattr(user, "is_authenticated", False) else None
        return cls.create(user=user_id, action=action, target=str(target)[:300], detail=detail)


class ApiToken(BaseModel):
    """A token with which another tool reads tallies as a given user, without a browser."""
    user = ForeignKeyField(User, backref="api_tokens")
    name = CharField(max_length=100)
    token_hash = CharField(max_length=128, unique=True)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)


TABLES = [Organisation, Ward, Collaborator, User, Questionnaire, QuestionnaireOrganisation,
          QuestionnaireWard, Question, Choice, Response, Answer, Receipt, AuditEvent, ApiToken]


def response_count(questionnaire):
    """Return how many responses a questionnaire has."""
    return Response.select(fn.COUNT(Response.id)).where(
        Response.questionnaire == questionnaire).scalar()
