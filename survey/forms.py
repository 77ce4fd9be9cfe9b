"""FlaskForm classes of the coordinator screens; every validator message is given explicitly."""
import datetime
import math

from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from survey.i18n import lazy_gettext as _l
from survey.i18n import to_utc
from survey.models import KINDS, Questionnaire
from survey.questionnaire_json import KEY_PATTERN, SLUG_PATTERN
from survey.security import check_password

REQUIRED = _l("This field is required.")
CHOICE = _l("Choose one of the options offered.")


class LoginForm(FlaskForm):
    """Username and password."""
    username = StringField(_l("Username"), validators=[
        DataRequired(message=REQUIRED), Length(max=80, message=_l("At most 80 characters."))])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(message=REQUIRED), Length(max=200, message=_l("At most 200 characters."))])


# --- Accounts (auth) ---
PASSWORD_RULES = [DataRequired(message=REQUIRED),
                  Length(min=8, max=200, message=_l("Use 8 to 200 characters."))]


class UserForm(FlaskForm):
    """An account as an admin edits it."""
    username = StringField(_l("Username"), validators=[
        DataRequired(message=REQUIRED), Length(max=80, message=_l("At most 80 characters.")),
        Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dot, dash or underscore."))])
    role = SelectField(_l("Role"), choices=[SelectChoice("viewer", _l("Viewer")),
                                            SelectChoice("coordinator", _l("Coordinator")),
                                            SelectChoice("admin", _l("Admin"))],
                       invalid_choice_message=CHOICE)
    organisation = SelectField(_l("Organisation"), choices=[], invalid_choice_message=CHOICE)
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, organisations=(), **kwargs):
        """Offer the organisations as choices ('' = all organisations)."""
        super().__init__(*args, **kwargs)
        self.organisation.choices = [SelectChoice("", _l("All organisations"))] + [
            SelectChoice(o.code, f"{o.code} · {o.name}") for o in organisations]


class NewUserForm(UserForm):
    """A new account, with its first password."""
    password = PasswordField(_l("Password"), validators=PASSWORD_RULES)


class PasswordResetForm(FlaskForm):
    """A new password set by an admin."""
    password = PasswordField(_l("New password"), validators=PASSWORD_RULES)


class PasswordChangeForm(FlaskForm):
    """A user's change of their own password."""
    current = PasswordField(_l("Current password"), validators=[DataRequired(message=REQUIRED)])
    password = PasswordField(_l("New password"), validators=PASSWORD_RULES)
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(message=REQUIRED),
        EqualTo("password", message=_l("The two passwords differ."))])

    def validate_current(self, field):
        """Check the current password of the logged-in user."""
        if not check_password(current_user, field.data or ""):
            raise ValidationError(_l("The current password is wrong."))



# --- Questionnaire authoring (questionnaires blueprint, rules in survey/authoring.py) ---



NOT_OFFERED = _l("Choose one of the options offered.")
SLUG_RULES = [DataRequired(message=REQUIRED),
              Length(max=80, message=_l("At most 80 characters.")),
              Regexp(SLUG_PATTERN, message=_l(
                  "Use lower-case letters, digits and -, starting with a letter or digit."))]
TITLE_RULES = [DataRequired(message=REQUIRED),
               Length(max=300, message=_l("At most 300 characters."))]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def parse_local(text):
    """Parse a local date and time ('2025-07-01 08:00' or '2025-07-01T08:00'); None if empty."""
    text = (text or "").strip()
    return datetime.datetime.fromisoformat(text) if text else None


def local_datetime(form, field):
    """Check a local date-time field."""
    try:
        parse_local(field.data)
    except ValueError:
        raise ValidationError(_l("Enter a date and time as year-month-day hour:minute, "
                                 "for example 2025-07-01 08:00.")) from None


def parse_number(text):
    """Parse an optional number typed with a dot or a comma; None if empty."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def a_number(form, field):
    """Check an optional number field."""
    try:
        parse_number(field.data)
    except ValueError:
        raise ValidationError(_l("Enter a number, for example 0 or 10.")) from None


class QuestionnaireForm(FlaskForm):
    """A questionnaire's settings: wording, address, lifecycle, privacy and targets."""
    title = StringField(_l("Title"), validators=TITLE_RULES)
    description = TextAreaField(_l("Description"), validators=[
        Length(max=5000, message=_l("At most 5000 characters."))])
    slug = StringField(_l("Address (slug)"), validators=SLUG_RULES)
    status = SelectField(_l("Status"), choices=[SelectChoice("draft", _l("Draft")),
                                                SelectChoice("open", _l("Open")),
                                                SelectChoice("closed", _l("Closed"))],
                         invalid_choice_message=NOT_OFFERED)
    opens_at = StringField(_l("Opens at"), validators=[local_datetime],
                           render_kw={"type": "datetime-local"})
    closes_at = StringField(_l("Closes at"), validators=[local_datetime],
                            render_kw={"type": "datetime-local"})
    anonymous = BooleanField(_l("Anonymous: responses are not linked to the collaborator"))
    per_collaborator = RadioField(_l("Responses per collaborator"), default="one",
                                  choices=[SelectChoice("one", _l("One (they answer themselves)")),
                                           SelectChoice("many", _l("Many (they interview residents)"))],
                                  invalid_choice_message=NOT_OFFERED)
    open_link = BooleanField(_l("Open link: anyone with the link or poster QR may answer"))
    suppress_below = StringField(_l("Hide counts below"), validators=[
        Optional(), Regexp(r"^\s*\d{1,4}\s*$", message=_l("Enter a whole number, 0 or more."))])
    organisations = MultiCheckboxField(_l("Organisations"), invalid_choice_message=NOT_OFFERED)
    wards = MultiCheckboxField(_l("Wards"), invalid_choice_message=NOT_OFFERED)

    def __init__(self, *args, organisations=(), wards=(), questionnaire=None, **kwargs):
        """Offer the organisations and wards; remember the questionnaire being edited."""
        super().__init__(*args, **kwargs)
        self.organisations.choices = [SelectChoice(o.code, f"{o.code} · {o.name}")
                                      for o in organisations]
        self.wards.choices = [SelectChoice(w.code, f"{w.code} · {w.name}") for w in wards]
        self.questionnaire = questionnaire

    def validate_slug(self, field):
        """Refuse an address another questionnaire already has."""
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
        values = {"title": self.title.data.strip(), "description": self.description.data or "",
                  "slug": self.slug.data.strip(),
                  "opens_at": to_utc(parse_local(self.opens_at.data)),
                  "closes_at": to_utc(parse_local(self.closes_at.data)),
                  "anonymous": self.anonymous.data,
                  "per_collaborator": self.per_collaborator.data,
                  "open_link": self.open_link.data,
                  "suppress_below": int(self.suppress_below.data)
                  if (self.suppress_below.data or "").strip() else None}
        if "status" in self:
            values["status"] = self.status.data
        return values


class QuestionForm(FlaskForm):
    """One question: key, kind, wording, bounds, show-if and (when new) its choices."""
    key = StringField(_l("Key"), validators=[
        DataRequired(message=REQUIRED), Length(max=64, message=_l("At most 64 characters.")),
        Regexp(KEY_PATTERN, message=_l("Use letters, digits and _, starting with a letter."))])
    kind = SelectField(_l("Kind"), invalid_choice_message=NOT_OFFERED)
    prompt = TextAreaField(_l("Question"), validators=[
        Length(max=2000, message=_l("At most 2000 characters."))])
    help = TextAreaField(_l("Help text"), validators=[
        Length(max=2000, message=_l("At most 2000 characters."))])
    required = BooleanField(_l("An answer is required"))
    minimum = StringField(_l("Minimum"), validators=[a_number])
    maximum = StringField(_l("Maximum"), validators=[a_number])
    show_if = SelectField(_l("Show only if"), default="", invalid_choice_message=NOT_OFFERED)
    choices = TextAreaField(_l("Choices, one per line (optionally “key = label”)"), validators=[
        Length(max=10000, message=_l("At most 10000 characters."))])

    def __init__(self, *args, kind_labels=None, show_if_options=(), **kwargs):
        """Offer the kinds and the earlier choices a show-if may name."""
        super().__init__(*args, **kwargs)
        kind_labels = kind_labels or {}
        self.kind.choices = [SelectChoice(k, kind_labels.get(k, k)) for k in KINDS]
        self.show_if.choices = [SelectChoice("", _l("Always"))] + [
            SelectChoice(f"{q.key}:{c.key}", f"{q.key} = {c.label}") for q, c in show_if_options]

    def validate_prompt(self, field):
        """Require the question's wording (a section heading may stay empty)."""
        if self.kind.data != "section" and not (field.data or "").strip():
            raise ValidationError(REQUIRED)

    def values(self):
        """Return the question's values: bounds as numbers, show_if as (question, choice)."""
        show_if = tuple(self.show_if.data.split(":", 1)) if self.show_if.data else None
        return {"key": self.key.data.strip(), "kind": self.kind.data,
                "prompt": (self.prompt.data or "").strip(), "help": (self.help.data or "").strip(),
                "required": self.required.data, "minimum": parse_number(self.minimum.data),
                "maximum": parse_number(self.maximum.data), "show_if": show_if}


class ChoiceForm(FlaskForm):
    """One choice of a question: its key (made from the label when left empty) and label."""
    key = StringField(_l("Key"), validators=[
        Optional(), Length(max=64, message=_l("At most 64 characters.")),
        Regexp(KEY_PATTERN, message=_l("Use letters, digits and _, starting with a letter."))])
    label = StringField(_l("Label"), validators=[
        DataRequired(message=REQUIRED), Length(max=500, message=_l("At most 500 characters."))])


class DuplicateForm(FlaskForm):
    """The new address and title of a copy."""
    slug = StringField(_l("New address (slug)"), validators=SLUG_RULES)
    title = StringField(_l("New title"), validators=TITLE_RULES)

    def validate_slug(self, field):
        """Refuse an address another questionnaire already has."""
        if Questionnaire.select().where(Questionnaire.slug == field.data).exists():
            raise ValidationError(_l("Another questionnaire already has this address."))


class ImportForm(FlaskForm):
    """A questionnaire file (JSON) to import."""
    file = FileField(_l("Questionnaire file (JSON)"), validators=[
        FileRequired(message=_l("Choose a file to import."))])


# --- Collaborator network (network blueprint; roster CSV in survey/roster.py) ---

GROUP_CODE_RULES = [
    DataRequired(message=REQUIRED), Length(max=20, message=_l("At most 20 characters.")),
    Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dot, dash or underscore."))]
GROUP_NAME_RULES = [DataRequired(message=REQUIRED),
                    Length(max=200, message=_l("At most 200 characters."))]


def _code_choices(rows, everything):
    """Return select choices by code, led by an 'all' entry when everything is given."""
    head = [SelectChoice("", everything)] if everything is not None else []
    return head + [SelectChoice(r.code, f"{r.code} · {r.name}") for r in rows]


class GroupForm(FlaskForm):
    """A new ward or organisation: its code (fixed once made) and its name."""
    code = StringField(_l("Code"), validators=GROUP_CODE_RULES)
    name = StringField(_l("Name"), validators=GROUP_NAME_RULES)


class GroupRenameForm(FlaskForm):
    """A ward's or organisation's new name."""
    name = StringField(_l("Name"), validators=GROUP_NAME_RULES)


class CollaboratorForm(FlaskForm):
    """A collaborator as a coordinator adds or edits them."""
    name = StringField(_l("Full name"), validators=[
        DataRequired(message=REQUIRED), Length(max=200, message=_l("At most 200 characters."))])
    phone = StringField(_l("Phone"), validators=[
        Optional(), Length(max=30, message=_l("At most 30 characters."))])
    organisation = SelectField(_l("Organisation"), choices=[], invalid_choice_message=CHOICE)
    ward = SelectField(_l("Ward"), choices=[], invalid_choice_message=CHOICE)

    def __init__(self, *args, organisations=(), wards=(), **kwargs):
        """Offer the organisations and wards the user may choose from."""
        super().__init__(*args, **kwargs)
        self.organisation.choices = _code_choices(organisations, None)
        self.ward.choices = _code_choices(wards, None)


class NetworkFilterForm(FlaskForm):
    """Filters of the collaborator list and the card sheet (read from the query string)."""
    q = StringField(_l("Name or phone"), validators=[
        Optional(), Length(max=100, message=_l("At most 100 characters."))])
    ward = SelectField(_l("Ward"), choices=[], default="", invalid_choice_message=CHOICE)
    organisation = SelectField(_l("Organisation"), choices=[], default="",
                               invalid_choice_message=CHOICE)
    status = SelectField(_l("Status"), choices=[
        SelectChoice("active", _l("Active")), SelectChoice("inactive", _l("Deactivated")),
        SelectChoice("all", _l("All"))], default="active", invalid_choice_message=CHOICE)

    class Meta:
        csrf = False  # a GET form: filters change nothing

    def __init__(self, *args, organisations=(), wards=(), **kwargs):
        """Offer the organisations and wards in scope ('' = all)."""
        super().__init__(*args, **kwargs)
        self.ward.choices = _code_choices(wards, _l("All wards"))
        self.organisation.choices = _code_choices(organisations, _l("All organisations"))


class RosterUploadForm(FlaskForm):
    """A roster CSV file to check before importing."""
    file = FileField(_l("Roster file (CSV)"), validators=[
        FileRequired(message=_l("Choose a CSV file to check."))])


class RosterConfirmForm(FlaskForm):
    """The confirmation of a checked roster upload, naming it by its random id."""
    upload = HiddenField(validators=[
        DataRequired(message=REQUIRED),
        Regexp(r"^[A-Za-z0-9_-]{16,64}$", message=_l("This upload is unknown or has expired."))])


# ---- tallies: the tally page's filters and the API token screen


class TallyFilterForm(FlaskForm):
    """The tally page's filters (GET); survey.tally.parse_filters checks the values."""
    ward = SelectField(_l("Ward"), choices=[], validate_choice=False)
    organisation = SelectField(_l("Organisation"), choices=[], validate_choice=False)
    start = DateField(_l("From"), name="from", validators=[Optional()])
    end = DateField(_l("To"), name="to", validators=[Optional()])
    by = SelectField(_l("Breakdown"), validate_choice=False, choices=[
        SelectChoice("", _l("No breakdown")), SelectChoice("ward", _l("By ward")),
        SelectChoice("organisation", _l("By organisation"))])

    class Meta:
        csrf = False  # a GET form: filters change nothing

    def __init__(self, *args, wards=(), organisations=(), **kwargs):
        """Offer the wards and the organisations in scope by code ('' = all)."""
        super().__init__(*args, **kwargs)
        self.ward.choices = [SelectChoice("", _l("All wards"))] + [
            SelectChoice(w.code, w.name) for w in wards]
        self.organisation.choices = [SelectChoice("", _l("All organisations"))] + [
            SelectChoice(o.code, o.name) for o in organisations]


class ApiTokenForm(FlaskForm):
    """A new API token: whose role and scope it acts with, and a name to recognise it by."""
    user = SelectField(_l("Account"), coerce=int, choices=[],
                       invalid_choice_message=_l("Choose one of the accounts offered."))

    def __init__(self, *args, users=(), **kwargs):
        """Offer the given accounts."""
        super().__init__(*args, **kwargs)
        self.user.choices = [SelectChoice(u.id, f"{u.username} ({u.role})") for u in users]
    name = StringField(_l("Name"), validators=[
        DataRequired(message=_l("Give the token a name.")),
        Length(max=100, message=_l("At most 100 characters."))])


class ApiTokenRevokeForm(FlaskForm):
    """The confirmation (CSRF token only) of revoking an API token."""
