"""What an answer may be: validation per kind, show_if, lifecycle, the one-response rule.

The phone form, the open link, the importer and the fake-response generator all ask here.
"""

import collections
import datetime
import threading
import uuid
from dataclasses import dataclass, field

from survey import text as text_rules
from survey.db import database
from survey.i18n import gettext as _
from survey.models import Choice, Organisation, Questionnaire, Ward, utcnow
from survey.numbers import NumberError, format_number, parse_number

TEXT_LIMIT = 500
LONGTEXT_LIMIT = 5000
OTHER_LIMIT = 300  # the text written beside a “Khác (ghi rõ)” choice
DEFAULT_SCALE = (1, 5)


@dataclass
class Value:
    """One answer row to store: a chosen choice, a text or a number."""

    question_id: int
    choice_id: int | None = None
    text: str | None = None
    number: float | None = None


@dataclass
class Outcome:
    """The result of checking a submitted form: the values to store, or messages by question key."""

    values: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)

    @property
    def ok(self):
        """Tell whether the form may be stored."""
        return not self.errors


@dataclass
class Schema:
    """A questionnaire's visible questions, their choices and its targets, read in four queries."""

    questions: list
    choices: dict  # question id -> list of Choice
    organisation_ids: frozenset = frozenset()  # targeted organisations (empty: all)
    ward_ids: frozenset = frozenset()  # targeted wards (empty: all)
    by_key: dict = field(default_factory=dict)  # question id -> {choice key: Choice}
    others: dict = field(default_factory=dict)  # question id -> keys of its “other” choices

    @classmethod
    def load(cls, questionnaire):
        """Load the visible questions, choices and targets of a questionnaire."""
        questions = list(questionnaire.ordered_questions())
        choices = {q.id: [] for q in questions}
        if questions:
            query = (
                Choice.select()
                .where(Choice.question.in_([q.id for q in questions]) & ~Choice.hidden)
                .order_by(Choice.position, Choice.id)
            )
            for choice in query:
                choices[choice.question_id].append(choice)
        return cls(
            questions,
            choices,
            *questionnaire.target_ids(),
            {qid: {c.key: c for c in items} for qid, items in choices.items()},
            {qid: {c.key for c in items if c.other} for qid, items in choices.items()},
        )

    def choice_by_key(self, question):
        """Return a question's choices by key."""
        return self.by_key.get(question.id, {})

    def targets(self, collaborator):
        """Tell whether the questionnaire is sent to this collaborator's organisation and ward."""
        return (
            not self.organisation_ids or collaborator.organisation_id in self.organisation_ids
        ) and (not self.ward_ids or collaborator.ward_id in self.ward_ids)


# Schemas by (database, questionnaire id and creation time: SQLite may give a deleted
# questionnaire's id to the next one), each with the schema_version it was read at. The
# database's triggers move the version on with every change of questions, choices or targets
# (migration 0010), and the version is read with the questionnaire's row in the same request,
# so a kept schema is used only while it is the current one.
_SCHEMAS = collections.OrderedDict()
_SCHEMAS_LOCK = threading.Lock()
SCHEMAS_KEPT = 256


def schema_of(questionnaire):
    """Return the questionnaire's Schema as of its schema_version, read again when that moved."""
    key = (database.obj, questionnaire.id, questionnaire.created_at)
    with _SCHEMAS_LOCK:
        kept = _SCHEMAS.get(key)
        if kept is not None and kept[0] == questionnaire.schema_version:
            _SCHEMAS.move_to_end(key)
            return kept[1]
    schema = Schema.load(questionnaire)
    with _SCHEMAS_LOCK:
        _SCHEMAS[key] = (questionnaire.schema_version, schema)
        _SCHEMAS.move_to_end(key)
        while len(_SCHEMAS) > SCHEMAS_KEPT:
            _SCHEMAS.popitem(last=False)
    return schema


def scale_bounds(question):
    """Return the (min, max) of a scale question, 1–5 unless set."""
    low = int(question.minimum) if question.minimum is not None else DEFAULT_SCALE[0]
    high = int(question.maximum) if question.maximum is not None else DEFAULT_SCALE[1]
    return low, high


def shown_keys(schema, form):
    """Return the keys of the questions shown for this form, following show_if in order."""
    shown = set()
    chosen = {}
    for question in schema.questions:
        if question.show_if_question:
            parent = question.show_if_question
            if parent not in shown or question.show_if_choice not in chosen.get(parent, ()):
                continue
        shown.add(question.key)
        if question.kind in ("single", "multi"):
            chosen[question.key] = set(form.getlist(question.key))
    return shown


def other_field(question, choice_key):
    """Return the form field of the text written beside an “other” choice: key.choice."""
    return f"{question.key}.{choice_key}"  # keys have no dot: never a question's own field


def picks_hint(question):
    """Say how many choices a multiple choice takes ("Chọn từ 1 đến 3 mục."), or None."""
    low, high = question.min_picks, question.max_picks
    if question.kind != "multi" or (low is None and high is None):
        return None
    if low == high:
        return _("Choose exactly %(n)s answers.", n=low)
    if low is not None and high is not None:
        return _("Choose from %(low)s to %(high)s answers.", low=low, high=high)
    if low is not None:
        return _("Choose at least %(low)s answers.", low=low)
    return _("Choose at most %(high)s answers.", high=high)


def picks_message(question, count):
    """Say why a number of picks breaks a multiple choice's limits, or None."""
    low, high = question.min_picks, question.max_picks
    if (low is None or count >= low) and (high is None or count <= high):
        return None
    return picks_hint(question)


def _other_text(question, choice, form):
    """Check the text written beside a picked “other” choice; return (text, message)."""
    raw = form.getlist(other_field(question, choice.key)) if form is not None else []
    if len(raw) > 1:
        return None, _("Give only one answer.")
    text = text_rules.clean(raw[0]) if raw else ""
    if text is None:
        return None, _("The answer contains characters that are not allowed.")
    if not text:
        return None, _("Please write your answer beside “%(label)s”.", label=choice.label)
    if len(text) > OTHER_LIMIT:
        return None, _("Keep the answer under %(limit)s characters.", limit=OTHER_LIMIT)
    return text, None


def _check_choices(question, raw, by_key, form=None, others=()):
    """Validate a single or multi answer (and any “other” text); return (values, message)."""
    keys = list(dict.fromkeys(raw))
    if question.kind == "single" and len(keys) > 1:
        return [], _("Choose only one answer.")
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        return [], _("Choose one of the answers offered.")
    if question.kind == "multi":
        message = picks_message(question, len(keys))
        if message:
            return [], message
    values = []
    for k in keys:
        text = None
        if k in others:
            text, message = _other_text(question, by_key[k], form)
            if message:
                return [], message
        values.append(Value(question.id, choice_id=by_key[k].id, text=text))
    return values, None


def _check_number(question, raw):
    """Validate a scale or number answer; return (values, message)."""
    try:
        number = parse_number(raw, question.minimum, question.maximum)
    except NumberError as error:
        return [], str(error)
    if number is None:
        return [], _("Enter a number.")
    if question.kind == "scale":
        low, high = scale_bounds(question)
        if number != int(number) or not low <= number <= high:
            return [], _("Choose a value from %(low)s to %(high)s.", low=low, high=high)
        return [Value(question.id, number=int(number))], None
    if question.minimum is not None and number < question.minimum:
        return [], _("Enter a number of at least %(min)s.", min=format_number(question.minimum))
    if question.maximum is not None and number > question.maximum:
        return [], _("Enter a number of at most %(max)s.", max=format_number(question.maximum))
    return [Value(question.id, number=number)], None


def _check_text(question, raw):
    """Validate a text, longtext or date answer; return (values, message)."""
    text = text_rules.clean(raw)
    if text is None:
        return [], _("The answer contains characters that are not allowed.")
    if question.kind == "date":
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            return [], _("Enter a date as year-month-day, for example 2025-07-01.")
        return [Value(question.id, text=text)], None
    limit = TEXT_LIMIT if question.kind == "text" else LONGTEXT_LIMIT
    if len(text) > limit:
        return [], _("Keep the answer under %(limit)s characters.", limit=limit)
    return [Value(question.id, text=text)], None


def check_question(question, raw, by_key, form=None, others=()):
    """Validate the submitted strings of one question; return (values, message).

    `form` holds the texts of its “other” choices (`others`, their keys).
    """
    if question.kind in ("single", "multi"):
        return _check_choices(question, raw, by_key, form, others)
    if len(raw) > 1:
        return [], _("Give only one answer.")
    if question.kind in ("scale", "number"):
        return _check_number(question, raw[0])
    return _check_text(question, raw[0])


def check_answers(schema, form):
    """Check a submitted form (a MultiDict keyed by question key) against a questionnaire.

    Answers to questions hidden by show_if are discarded, not refused; `required`
    applies only to questions shown.
    """
    outcome = Outcome()
    shown = shown_keys(schema, form)
    for question in schema.questions:
        if question.kind == "section" or question.key not in shown:
            continue
        raw = [v for v in form.getlist(question.key) if not text_rules.is_blank(v)]
        if not raw:
            if question.required:
                outcome.errors[question.key] = _("Please answer this question.")
            continue
        values, message = check_question(
            question, raw, schema.choice_by_key(question), form, schema.others.get(question.id, ())
        )
        if message:
            outcome.errors[question.key] = message
        else:
            outcome.values.extend(values)
    return outcome


def dropped_answers(schema, form):
    """Return the keys of the questions answered in the form that show_if hides (discarded)."""
    shown = shown_keys(schema, form)
    return [
        q.key
        for q in schema.questions
        if q.kind != "section"
        and q.key not in shown
        and any(not text_rules.is_blank(v) for v in form.getlist(q.key))
    ]


def refusal(questionnaire, collaborator=None, now=None, schema=None):
    """Say why this questionnaire takes no answer now (from this collaborator), or None."""
    if not questionnaire.is_accepting(now):
        if (
            questionnaire.status == "open"
            and questionnaire.opens_at
            and ((now or utcnow()) < questionnaire.opens_at)
        ):
            return _("This questionnaire is not open yet.")
        return _("This questionnaire is closed and no longer takes answers.")
    if collaborator is not None and not (schema or schema_of(questionnaire)).targets(collaborator):
        return _("This questionnaire was not sent to you.")
    return None


def places(questionnaire):
    """Return the active wards and organisations a respondent of the open link may pick."""
    wards = list(questionnaire.target_wards().where(Ward.active)) or list(Ward.ordered())
    orgs = list(questionnaire.target_organisations().where(Organisation.active)) or list(
        Organisation.ordered()
    )
    return wards, orgs


def single(form, name):
    """Return a field sent exactly once, else None (a repeated field is not guessed at)."""
    values = form.getlist(name)
    return values[0] if len(values) == 1 else None


def chosen_place(choose, form, errors):
    """Return the (ward id, organisation id) picked on the open link, noting errors by field."""
    wards, orgs = choose
    ward = {w.code: w for w in wards}.get(single(form, "ward"))
    organisation = {o.code: o for o in orgs}.get(single(form, "organisation"))
    if ward is None:
        errors["ward"] = _("Choose your ward.")
    if organisation is None:
        errors["organisation"] = _("Choose your organisation.")
    return (ward.id if ward else None, organisation.id if organisation else None)


def offered_to(collaborator, now=None):
    """Return the questionnaires open now and sent to this collaborator, newest first."""
    candidates = (
        Questionnaire.select()
        .where(Questionnaire.status == "open")
        .order_by(Questionnaire.created_at.desc())
    )
    return [q for q in candidates if q.is_accepting(now) and schema_of(q).targets(collaborator)]


def valid_client_uuid(value):
    """Tell whether a client_uuid is a well-formed UUID string."""
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except (ValueError, AttributeError, TypeError):
        return False
