"""The forms of questionnaire authoring (the rules themselves live in authoring.py)."""

import datetime

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from survey.fields import CHOICE, REQUIRED, MultiCheckboxField
from survey.i18n import lazy_gettext as _l
from survey.i18n import to_utc
from survey.models import KEY_PATTERN, KINDS, SLUG_PATTERN, Questionnaire
from survey.numbers import parse_number
from survey.questionnaires import rules

SLUG_RULES = [
    Optional(),
    Length(max=80, message=_l("At most 80 characters.")),
    Regexp(
        SLUG_PATTERN,
        message=_l("Use lower-case letters, digits and -, starting with a letter or digit."),
    ),
]
TITLE_RULES = [
    DataRequired(message=REQUIRED),
    Length(max=300, message=_l("At most 300 characters.")),
]


def parse_local(text):
    """Parse a local date and time ('2025-07-01 08:00' or '2025-07-01T08:00'); None if empty."""
    text = (text or "").strip()
    return datetime.datetime.fromisoformat(text) if text else None


def local_datetime(form, field):
    """Check a local date-time field, within the years a questionnaire may run."""
    try:
        moment = parse_local(field.data)
    except ValueError:
        raise ValidationError(
            _l("Enter a date and time as year-month-day hour:minute, for example 2025-07-01 08:00.")
        ) from None
    problem = rules.year_problem(moment)
    if problem:
        raise ValidationError(problem)


def a_number(form, field):
    """Check an optional number field."""
    try:
        parse_number(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def a_whole_number(form, field):
    """Check an optional whole number of at least 0 (a count of picks)."""
    text = (field.data or "").strip()
    if text and not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise ValidationError(_l("Enter a whole number, such as 2."))


def _whole(text):
    """Return a checked whole-number field's value, or None when empty."""
    text = (text or "").strip()
    return int(text) if text else None


class QuestionnaireForm(FlaskForm):
    """A questionnaire's settings: wording, address, lifecycle, privacy and targets."""

    title = StringField(_l("Title"), validators=TITLE_RULES)
    description = TextAreaField(
        _l("Description"), validators=[Length(max=5000, message=_l("At most 5000 characters."))]
    )
    slug = StringField(_l("Address (slug)"), validators=SLUG_RULES)
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("draft", _l("Draft")),
            SelectChoice("open", _l("Open")),
            SelectChoice("closed", _l("Closed")),
        ],
        invalid_choice_message=CHOICE,
    )
    opens_at = StringField(
        _l("Opens at"), validators=[local_datetime], render_kw={"type": "datetime-local"}
    )
    closes_at = StringField(
        _l("Closes at"), validators=[local_datetime], render_kw={"type": "datetime-local"}
    )
    anonymous = BooleanField(_l("Anonymous: responses are not linked to the collaborator"))
    per_collaborator = RadioField(
        _l("Responses per collaborator"),
        default="one",
        choices=[
            SelectChoice("one", _l("One (they answer themselves)")),
            SelectChoice("many", _l("Many (they interview residents)")),
        ],
        invalid_choice_message=CHOICE,
    )
    open_link = BooleanField(_l("Open link: anyone with the link or poster QR may answer"))
    suppress_below = StringField(
        _l("Hide counts below"),
        validators=[
            Optional(),
            Regexp(r"^\s*\d{1,4}\s*$", message=_l("Enter a whole number, 0 or more.")),
        ],
    )
    organisations = MultiCheckboxField(_l("Organisations"), invalid_choice_message=CHOICE)
    wards = MultiCheckboxField(_l("Wards"), invalid_choice_message=CHOICE)
    repeat_of = SelectField(
        _l("A new wave of"), default="", invalid_choice_message=CHOICE, validate_choice=True
    )

    def __init__(self, *args, organisations=(), wards=(), questionnaire=None, earlier=(), **kwargs):
        """Offer the organisations, wards and earlier waves; remember the questionnaire edited."""
        super().__init__(*args, **kwargs)
        self.organisations.choices = [
            SelectChoice(o.code, f"{o.code} · {o.name}") for o in organisations
        ]
        self.wards.choices = [SelectChoice(w.code, f"{w.code} · {w.name}") for w in wards]
        self.repeat_of.choices = [SelectChoice("", _l("None: not a repeat"))] + [
            SelectChoice(q.slug, f"{q.title} ({q.slug})") for q in earlier
        ]
        self.questionnaire = questionnaire

    def validate_slug(self, field):
        """Refuse an address another questionnaire already has (empty: one is proposed)."""
        if not (field.data or "").strip():
            return
        taken = Questionnaire.select().where(Questionnaire.slug == field.data)
        if self.questionnaire is not None:
            taken = taken.where(Questionnaire.id != self.questionnaire.id)
        if taken.exists():
            raise ValidationError(_l("Another questionnaire already has this address."))

    def validate_closes_at(self, field):
        """Refuse a closing time at or before the opening time."""
        try:
            opens, closes = parse_local(self.opens_at.data), parse_local(field.data)
        except ValueError:
            return  # the date-time check itself reports it
        if opens and closes and closes <= opens:
            raise ValidationError(_l("The closing time must be after the opening time."))

    def settings(self):
        """Return the settings as stored: times in UTC, suppression None when left empty."""
        values = {
            "title": self.title.data.strip(),
            "description": self.description.data or "",
            "slug": (self.slug.data or "").strip(),
            "opens_at": to_utc(parse_local(self.opens_at.data)),
            "closes_at": to_utc(parse_local(self.closes_at.data)),
            "anonymous": self.anonymous.data,
            "per_collaborator": self.per_collaborator.data,
            "open_link": self.open_link.data,
            "suppress_below": int(self.suppress_below.data)
            if (self.suppress_below.data or "").strip()
            else None,
        }
        if "status" in self:
            values["status"] = self.status.data
        values["repeat_of"] = Questionnaire.by_slug(self.repeat_of.data or "")
        return values


class QuestionForm(FlaskForm):
    """One question: key, kind, wording, bounds, show-if and (when new) its choices."""

    key = StringField(
        _l("Key"),
        validators=[
            Optional(),
            Length(max=64, message=_l("At most 64 characters.")),
            Regexp(KEY_PATTERN, message=_l("Use letters, digits and _, starting with a letter.")),
        ],
    )
    kind = SelectField(_l("Kind"), invalid_choice_message=CHOICE)
    prompt = TextAreaField(
        _l("Question"), validators=[Length(max=2000, message=_l("At most 2000 characters."))]
    )
    help = TextAreaField(
        _l("Help text"), validators=[Length(max=2000, message=_l("At most 2000 characters."))]
    )
    required = BooleanField(_l("An answer is required"))
    minimum = StringField(_l("Minimum"), validators=[a_number])
    maximum = StringField(_l("Maximum"), validators=[a_number])
    show_if = SelectField(_l("Show only if"), default="", invalid_choice_message=CHOICE)
    low_label = StringField(
        _l("Label of the lowest value"),
        validators=[Length(max=500, message=_l("At most 500 characters."))],
    )
    high_label = StringField(
        _l("Label of the highest value"),
        validators=[Length(max=500, message=_l("At most 500 characters."))],
    )
    min_picks = StringField(_l("Fewest choices"), validators=[a_whole_number])
    max_picks = StringField(_l("Most choices"), validators=[a_whole_number])
    add_other = BooleanField(_l("End with a “Khác (ghi rõ)” choice (other, please specify)"))
    choices = TextAreaField(
        _l("Choices, one per line (optionally “key = label”)"),
        validators=[Length(max=10000, message=_l("At most 10000 characters."))],
    )

    def __init__(self, *args, kind_labels=None, show_if_options=(), numbers=None, **kwargs):
        """Offer the kinds and the earlier choices a show-if may name, by number and label."""
        super().__init__(*args, **kwargs)
        kind_labels, numbers = kind_labels or {}, numbers or {}
        self.kind.choices = [SelectChoice(k, kind_labels.get(k, k)) for k in KINDS]
        self.show_if.choices = [SelectChoice("", _l("Always"))] + [
            SelectChoice(
                f"{q.key}:{c.key}",
                _l(
                    "Question %(number)s is “%(choice)s”",
                    number=numbers.get(q.key, "?"),
                    choice=c.label,
                ),
            )
            for q, c in show_if_options
        ]

    def validate_prompt(self, field):
        """Require the question's wording (a section heading may stay empty)."""
        if self.kind.data != "section" and not (field.data or "").strip():
            raise ValidationError(REQUIRED)

    def values(self):
        """Return the question's values: bounds as numbers, show_if as (question, choice)."""
        show_if = tuple(self.show_if.data.split(":", 1)) if self.show_if.data else None
        return {
            "key": (self.key.data or "").strip(),
            "kind": self.kind.data,
            "prompt": (self.prompt.data or "").strip(),
            "help": (self.help.data or "").strip(),
            "required": self.required.data,
            "minimum": parse_number(self.minimum.data),
            "maximum": parse_number(self.maximum.data),
            "show_if": show_if,
            "low_label": (self.low_label.data or "").strip() or None,
            "high_label": (self.high_label.data or "").strip() or None,
            "min_picks": _whole(self.min_picks.data),
            "max_picks": _whole(self.max_picks.data),
            "add_other": self.add_other.data,
        }


class ChoiceForm(FlaskForm):
    """One choice of a question: its key (made from the label when left empty) and label."""

    key = StringField(
        _l("Key"),
        validators=[
            Optional(),
            Length(max=64, message=_l("At most 64 characters.")),
            Regexp(KEY_PATTERN, message=_l("Use letters, digits and _, starting with a letter.")),
        ],
    )
    label = StringField(
        _l("Label"),
        validators=[
            DataRequired(message=REQUIRED),
            Length(max=500, message=_l("At most 500 characters.")),
        ],
    )
    other = BooleanField(_l("Other, please specify: picking it asks for a written answer"))


class DuplicateForm(FlaskForm):
    """The new address and title of a copy, and whether it is a new wave of the original."""

    slug = StringField(_l("New address (slug)"), validators=SLUG_RULES)
    title = StringField(_l("New title"), validators=TITLE_RULES)
    repeat = BooleanField(_l("A new wave: show this questionnaire's figures beside the copy's"))

    def validate_slug(self, field):
        """Refuse an address another questionnaire already has (empty: one is proposed)."""
        if (field.data or "").strip() and Questionnaire.select().where(
            Questionnaire.slug == field.data
        ).exists():
            raise ValidationError(_l("Another questionnaire already has this address."))


class ImportForm(FlaskForm):
    """A questionnaire file (JSON) to import."""

    file = FileField(
        _l("Questionnaire file (JSON)"),
        validators=[FileRequired(message=_l("Choose a file to import."))],
    )
