"""The tables of survey and the queries that belong to them."""

import datetime
import re
import secrets

from peewee import (
    SQL,
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from survey.db import BaseModel, database

KINDS = ("single", "multi", "scale", "number", "text", "longtext", "date", "section")
CHOICE_KINDS = ("single", "multi")
ROLES = ("admin", "coordinator", "viewer")
STATUSES = ("draft", "open", "closed")
# The shapes of a questionnaire's address and of a question's or choice's key.
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Personal tokens come from secrets.token_urlsafe: anything else is never looked up.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class Lookup:
    """A query run on every phone request, its SQL written by peewee once per database.

    peewee builds a query's SQL anew each time it runs, which cost more than running it: these
    lookups keep the text peewee wrote for the bound database and pass the value as a parameter.
    """

    def __init__(self, build):
        """Keep the function that builds the query, with "" where the looked-up value goes."""
        self.build, self.texts = build, {}

    def text(self):
        """Return the query's SQL for the bound database."""
        db = database.obj
        if db not in self.texts:
            text, params = self.build().sql()
            assert params == [""], params  # the looked-up value is the only parameter
            self.texts[db] = text
        return self.texts[db]


def utcnow():
    """Return the current UTC time without tzinfo, as every timestamp is stored."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def new_token():
    """Return a fresh personal-link secret with 192 bits from `secrets`."""
    return secrets.token_urlsafe(24)


class Organisation(BaseModel):
    """One of the district's organisations (MTTQ, Đoàn, LĐLĐ, ...)."""

    code = CharField(max_length=20, unique=True)
    name = CharField(max_length=200)
    active = BooleanField(default=True)
    # Whom its collaborators ask for a new card (migration 0017); empty: SURVEY_PHONE_CONTACT.
    contact = CharField(max_length=200, default="")

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
        if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
            return (
                None  # never send a malformed value (a NUL byte breaks PostgreSQL) to the database
            )
        return next(iter(cls.raw(BY_TOKEN.text(), token)), None)

    def rotate_token(self):
        """Give the collaborator a new link; the old one stops opening pages at once."""
        self.retire_token()
        self.token = new_token()
        self.save(only=[Collaborator.token])

    def retire_token(self):
        """Note that the current link stops opening pages (rotated, or its holder deactivated)."""
        RetiredToken.delete().where(RetiredToken.token == self.token).execute()
        RetiredToken.create(collaborator=self, token=self.token)

    def revive_token(self):
        """Forget that the current link was retired: the collaborator was reactivated."""
        RetiredToken.delete().where(RetiredToken.token == self.token).execute()

    @classmethod
    def by_retired_token(cls, token, since=None):
        """Return the collaborator whose link this was (retired at or after `since`), or None."""
        if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
            return None
        query = (
            cls.select()
            .join(RetiredToken, on=RetiredToken.collaborator == cls.id)
            .where(RetiredToken.token == token)
        )
        if since is not None:
            query = query.where(RetiredToken.retired_at >= since)
        return query.first()


class RetiredToken(BaseModel):
    """A personal link that no longer opens pages; answers kept on a phone under it may still
    arrive for a grace period (TOKEN_GRACE_DAYS, migration 0009)."""

    collaborator = ForeignKeyField(Collaborator, backref="retired_tokens", on_delete="CASCADE")
    token = CharField(max_length=64, unique=True)
    retired_at = DateTimeField(default=utcnow)


class CollaboratorCode(BaseModel):
    """The QR code of a collaborator's personal link, drawn once and kept (migration 0017), so a
    card sheet of thousands reads codes instead of drawing them; `link` is the text it holds."""

    collaborator = ForeignKeyField(Collaborator, primary_key=True, on_delete="CASCADE")
    link = TextField()
    svg = TextField()


BY_TOKEN = Lookup(
    lambda: Collaborator.select().where((Collaborator.token == "") & Collaborator.active)
)


class User(BaseModel):
    """A coordinator, viewer or admin account."""

    username = CharField(max_length=80, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=20, default="coordinator")
    organisation = ForeignKeyField(Organisation, null=True, backref="users")
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    # Part of every session's id: moving it on ends all the account's sessions (0007).
    session_version = IntegerField(default=0)

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
        """Return the id Flask-Login keeps in the session: the account and its session version."""
        return f"{self.id}:{self.session_version}"

    @classmethod
    def named(cls, username):
        """Return the account with this name in any case (unique so, migration 0013), or None."""
        if not isinstance(username, str) or not username:
            return None
        return cls.get_or_none(fn.LOWER(cls.username) == fn.LOWER(username))

    @classmethod
    def name_taken(cls, username, other_than=None):
        """Tell whether another account has this name, in any case."""
        query = cls.select().where(fn.LOWER(cls.username) == fn.LOWER(username))
        if other_than is not None:
            query = query.where(cls.id != other_than)
        return query.exists()


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
    # The owner, whose coordinators edit it; none means the district (migration 0007).
    organisation = ForeignKeyField(Organisation, null=True, backref="owned_questionnaires")
    # Moved on by the database's triggers at every change of its questions, choices or targets
    # (migration 0010): what a worker's kept form is checked against.
    schema_version = IntegerField(default=0)
    # The earlier questionnaire this one repeats (a new wave), whose figures are set beside its
    # own (migration 0014); deleting the earlier one empties it.
    repeat_of = ForeignKeyField("self", null=True, backref="repeats", on_delete="SET NULL")

    @classmethod
    def by_slug(cls, slug):
        """Return the questionnaire with this slug, or None."""
        if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
            return None  # never send a malformed value to the database
        return next(iter(cls.raw(BY_SLUG.text(), slug)), None)

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
        return (
            Organisation.select()
            .join(QuestionnaireOrganisation)
            .where(QuestionnaireOrganisation.questionnaire == self)
            .order_by(Organisation.code)
        )

    def target_wards(self):
        """Return the wards this questionnaire is sent to (empty: all)."""
        return (
            Ward.select()
            .join(QuestionnaireWard)
            .where(QuestionnaireWard.questionnaire == self)
            .order_by(Ward.code)
        )

    def target_ids(self):
        """Return the ids of the organisations and of the wards it is sent to (empty: all)."""
        organisations = QuestionnaireOrganisation.select(QuestionnaireOrganisation.organisation)
        wards = QuestionnaireWard.select(QuestionnaireWard.ward)
        return (
            frozenset(
                t.organisation_id
                for t in organisations.where(QuestionnaireOrganisation.questionnaire == self)
            ),
            frozenset(t.ward_id for t in wards.where(QuestionnaireWard.questionnaire == self)),
        )

    def targeted_collaborators(self):
        """Return the active collaborators this questionnaire is sent to."""
        query = Collaborator.select().where(Collaborator.active)
        orgs = QuestionnaireOrganisation.select(QuestionnaireOrganisation.organisation).where(
            QuestionnaireOrganisation.questionnaire == self
        )
        wards = QuestionnaireWard.select(QuestionnaireWard.ward).where(
            QuestionnaireWard.questionnaire == self
        )
        if orgs.exists():
            query = query.where(Collaborator.organisation.in_(orgs))
        if wards.exists():
            query = query.where(Collaborator.ward.in_(wards))
        return query

    def has_responses(self):
        """Tell whether any response has been stored, which freezes kinds and keys.

        A voided response counts (it may be restored); a test answer from the preview does not.
        """
        return (
            Response.select()
            .where((Response.questionnaire == self) & (Response.state != Response.TEST))
            .exists()
        )


BY_SLUG = Lookup(lambda: Questionnaire.select().where(Questionnaire.slug == ""))


class QuestionnaireOrganisation(BaseModel):
    """An organisation a questionnaire is sent to."""

    questionnaire = ForeignKeyField(
        Questionnaire, backref="organisation_targets", on_delete="CASCADE"
    )
    organisation = ForeignKeyField(Organisation)

    class Meta:
        indexes = ((("questionnaire", "organisation"), True),)


class QuestionnaireWard(BaseModel):
    """A ward a questionnaire is sent to."""

    questionnaire = ForeignKeyField(Questionnaire, backref="ward_targets", on_delete="CASCADE")
    ward = ForeignKeyField(Ward)

    class Meta:
        indexes = ((("questionnaire", "ward"), True),)


class Question(BaseModel):
    """A question (or a section heading) of a questionnaire."""

    questionnaire = ForeignKeyField(
        Questionnaire, backref="questions", on_delete="CASCADE", index=False
    )
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
    concern = TextField(null=True)  # JSON: {"choices": [...]} or {"at_most"|"at_least": n}
    # A scale's words under its two ends; how many choices a multiple choice takes (0013).
    low_label = TextField(null=True)
    high_label = TextField(null=True)
    min_picks = IntegerField(null=True)
    max_picks = IntegerField(null=True)

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
    # "Khác (ghi rõ)": picking it asks for a text, kept on its answer row (migration 0013).
    other = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])

    class Meta:
        indexes = ((("question", "key"), True),)


class Response(BaseModel):
    """One submitted form, recorded by ward and organisation."""

    questionnaire = ForeignKeyField(Questionnaire, backref="responses", index=False)
    ward = ForeignKeyField(Ward, index=False)
    organisation = ForeignKeyField(Organisation, index=False)
    # Not indexed: nothing reads responses by collaborator (receipts count who answered; 0005).
    collaborator = ForeignKeyField(Collaborator, null=True, backref="responses", index=False)
    submitted_at = DateTimeField(default=utcnow)
    client_uuid = CharField(max_length=36, unique=True)
    # COUNTED, VOIDED or TEST (migration 0012): only a counted response has rows in `answer`.
    state = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    void_reason = TextField(null=True)

    COUNTED, VOIDED, TEST = 0, 1, 2

    class Meta:
        # Counts by ward × organisation read the first in order (migration 0004); exports read
        # a questionnaire's counted responses a chunk at a time along the second (0016).
        indexes = (
            (("questionnaire", "ward", "organisation", "submitted_at"), False),
            (("questionnaire", "state", "id"), False),
        )


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
        indexes = (
            (
                (
                    "question",
                    "ward",
                    "organisation",
                    "choice",
                    "number",
                    "first_row",
                    "submitted_at",
                ),
                False,
            ),
        )


class SetAsideAnswer(BaseModel):
    """An answer of a voided or test response, kept out of `answer` so no figure counts it.

    The answer table's columns, moved here and back whole; only the response is a foreign
    key, so a set-aside copy never stands in the way of editing the questionnaire.
    """

    response = ForeignKeyField(Response, backref="set_aside_answers", on_delete="CASCADE")
    question_id = IntegerField()
    choice_id = IntegerField(null=True)
    text = TextField(null=True)
    number = FloatField(null=True)
    questionnaire_id = IntegerField()
    ward_id = IntegerField()
    organisation_id = IntegerField()
    submitted_at = DateTimeField()
    first_row = BooleanField(default=True)


# A running answer count's cell within its questionnaire: the key of its table, the place first
# so that a response's cells lie together (migration 0015).
TALLY_CELL = ("ward", "organisation", "question_id", "choice_id", "valued", "value")
TALLY_DAY_CELL = ("question_id", "choice_id", "valued", "value")  # a day's: no place


class TallyAnswer(BaseModel):
    """The running count of one answer (choice, or scale or number value) in a ward × organisation.

    Kept by the database's triggers on `answer` (migration 0015 says how): `answers` counts
    its rows, `answered` those that are a response's first row for the question. A choice or
    number the answer does not have is 0 (`valued` tells a number 0 from none).
    """

    questionnaire = IntegerField(column_name="questionnaire_id")
    ward = IntegerField(column_name="ward_id")
    organisation = IntegerField(column_name="organisation_id")
    question_id = IntegerField()
    choice_id = IntegerField()
    valued = IntegerField()
    value = FloatField()
    answers = IntegerField()
    answered = IntegerField()

    class Meta:
        primary_key = CompositeKey("questionnaire", *TALLY_CELL)


class TallyAnswerDay(BaseModel):
    """TallyAnswer per local day (at TallyClock's offset) for the whole questionnaire (0015)."""

    questionnaire = IntegerField(column_name="questionnaire_id")
    day = DateField()
    question_id = IntegerField()
    choice_id = IntegerField()
    valued = IntegerField()
    value = FloatField()
    answers = IntegerField()
    answered = IntegerField()

    class Meta:
        primary_key = CompositeKey("questionnaire", "day", *TALLY_DAY_CELL)


class TallyResponse(BaseModel):
    """The running count of counted responses per ward × organisation and local day (0015)."""

    questionnaire = IntegerField(column_name="questionnaire_id")
    day = DateField()
    ward = IntegerField(column_name="ward_id")
    organisation = IntegerField(column_name="organisation_id")
    responses = IntegerField()

    class Meta:
        primary_key = CompositeKey("questionnaire", "day", "ward", "organisation")


class TallyClock(BaseModel):
    """The zone the running tallies' days were counted in, and its offset from UTC; one row."""

    id = IntegerField(primary_key=True)
    zone = CharField(max_length=64)
    offset_minutes = IntegerField()


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
        return (
            cls.select()
            .where((cls.questionnaire == questionnaire) & (cls.collaborator == collaborator))
            .exists()
        )


# Every action the audit log records, named object.verb.
AUDIT_ACTIONS = frozenset(
    {
        "user.login",
        "user.login_failed",
        "user.logout",
        "user.password_change",
        "user.create",
        "user.update",
        "user.password_reset",
        "user.rename",
        "api_token.create",
        "api_token.revoke",
        "ward.create",
        "ward.rename",
        "ward.deactivate",
        "ward.reactivate",
        "organisation.create",
        "organisation.rename",
        "organisation.contact",
        "organisation.deactivate",
        "organisation.reactivate",
        "collaborator.create",
        "collaborator.update",
        "collaborator.deactivate",
        "collaborator.reactivate",
        "collaborator.rotate",
        "collaborator.import",
        "collaborator.export",
        "questionnaire.create",
        "questionnaire.update",
        "questionnaire.status",
        "questionnaire.delete",
        "questionnaire.duplicate",
        "questionnaire.import",
        "question.create",
        "question.update",
        "question.delete",
        "question.hide",
        "question.show",
        "question.move",
        "choice.create",
        "choice.update",
        "choice.delete",
        "choice.hide",
        "choice.show",
        "choice.move",
        "responses.export",
        "export_job.create",
        "response.fake",
        "response.test",
        "response.test_clear",
        "response.void",
        "response.restore",
        "database.backup",
        "tallies.rebuild",
        "demo.seed",
        "reminder.sent",
        "reminder.export",
    }
)


class AuditEvent(BaseModel):
    """A change made by a coordinator or admin: who, what, when."""

    user = ForeignKeyField(User, null=True, backref="audit_events")
    action = CharField(max_length=60)
    target = CharField(max_length=300, default="")
    detail = TextField(default="")
    at = DateTimeField(default=utcnow, index=True)

    @classmethod
    def record(cls, user, action, target="", detail=""):
        """Write one audit entry; an action not in AUDIT_ACTIONS is a programming error."""
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        user_id = user.id if user is not None and getattr(user, "is_authenticated", False) else None
        return cls.create(user=user_id, action=action, target=str(target)[:300], detail=detail)


class ExportJob(BaseModel):
    """A large export prepared in a process of its own (survey/tallies/jobs.py, migration 0016).

    `params` (JSON) holds the request it stands for: query string, codes variant, language and
    the viewer's organisation scope; `updated_at` is the job's heartbeat.
    """

    user = ForeignKeyField(User, backref="export_jobs", on_delete="CASCADE")
    questionnaire = ForeignKeyField(Questionnaire, backref="export_jobs", on_delete="CASCADE")
    token = CharField(max_length=64, unique=True)
    kind = CharField(max_length=10)  # csv or xlsx
    params = TextField()
    state = CharField(max_length=10)  # running, done or failed
    progress = FloatField()  # 0..1
    rows = IntegerField()
    file = TextField()
    error = TextField()
    created_at = DateTimeField()
    updated_at = DateTimeField()


class ApiToken(BaseModel):
    """A token with which another tool reads tallies as a given user, without a browser."""

    user = ForeignKeyField(User, backref="api_tokens")
    name = CharField(max_length=100)
    token_hash = CharField(max_length=128, unique=True)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)


TABLES = [
    Organisation,
    Ward,
    Collaborator,
    RetiredToken,
    CollaboratorCode,
    User,
    Questionnaire,
    QuestionnaireOrganisation,
    QuestionnaireWard,
    Question,
    Choice,
    Response,
    Answer,
    SetAsideAnswer,
    TallyAnswer,
    TallyAnswerDay,
    TallyResponse,
    TallyClock,
    Receipt,
    AuditEvent,
    ApiToken,
    ExportJob,
]


def response_count(questionnaire):
    """Return how many counted responses a questionnaire has (neither voided nor test)."""
    return (
        Response.select(fn.COUNT(Response.id))
        .where((Response.questionnaire == questionnaire) & (Response.state == Response.COUNTED))
        .scalar()
    )
