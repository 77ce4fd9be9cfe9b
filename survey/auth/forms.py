"""The forms of login and accounts."""

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from survey.auth.passwords import weakness
from survey.fields import CHOICE, REQUIRED
from survey.i18n import lazy_gettext as _l
from survey.security import check_password

USERNAME_RULE = r"^[A-Za-z0-9_.-]+$"
USERNAME_MESSAGE = _l("Use unaccented letters (a–z, A–Z), digits, dot, underscore or dash.")


def strip_name(value):
    """Drop the spaces around a username (typed or pasted with one); passwords keep theirs."""
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(
        _l("Username"),
        filters=[strip_name],
        validators=[
            DataRequired(message=REQUIRED),
            Length(max=80, message=_l("At most 80 characters.")),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=REQUIRED),
            Length(max=200, message=_l("At most 200 characters.")),
        ],
    )


# --- Accounts (auth) ---
def strong_password(form, field):
    """Refuse a password that is common, holds the account's name or repeats one character."""
    problem = weakness(field.data or "", form.account_name())
    if problem:
        raise ValidationError(problem)


PASSWORD_RULES = [
    DataRequired(message=REQUIRED),
    Length(min=8, max=200, message=_l("Use 8 to 200 characters.")),
    strong_password,
]


class UserForm(FlaskForm):
    """An account as an admin edits it."""

    username = StringField(
        _l("Username"),
        filters=[strip_name],
        validators=[
            DataRequired(message=REQUIRED),
            Length(max=80, message=_l("At most 80 characters.")),
            Regexp(USERNAME_RULE, message=USERNAME_MESSAGE),
        ],
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("viewer", _l("Viewer")),
            SelectChoice("coordinator", _l("Coordinator")),
            SelectChoice("admin", _l("Admin")),
        ],
        invalid_choice_message=CHOICE,
    )
    organisation = SelectField(_l("Organisation"), choices=[], invalid_choice_message=CHOICE)
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, organisations=(), **kwargs):
        """Offer the organisations as choices ('' = all organisations)."""
        super().__init__(*args, **kwargs)
        self.organisation.choices = [SelectChoice("", _l("All organisations"))] + [
            SelectChoice(o.code, f"{o.code} · {o.name}") for o in organisations
        ]


class NewUserForm(UserForm):
    """A new account, with its first password."""

    password = PasswordField(_l("Password"), validators=PASSWORD_RULES)

    def account_name(self):
        """Return the name the new password must not contain."""
        return self.username.data or ""


class PasswordResetForm(FlaskForm):
    """A new password set by an admin."""

    password = PasswordField(_l("New password"), validators=PASSWORD_RULES)

    def __init__(self, *args, account_name="", **kwargs):
        """Remember whose password this is, for the strength check."""
        super().__init__(*args, **kwargs)
        self.name_of_account = account_name

    def account_name(self):
        """Return the name the new password must not contain."""
        return self.name_of_account


class PasswordChangeForm(FlaskForm):
    """A user's change of their own password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(message=REQUIRED)])
    password = PasswordField(_l("New password"), validators=PASSWORD_RULES)
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(message=REQUIRED),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
    )

    def account_name(self):
        """Return the name the new password must not contain: the logged-in user's."""
        return current_user.username

    def validate_current(self, field):
        """Check the current password of the logged-in user."""
        if not check_password(current_user, field.data or ""):
            raise ValidationError(_l("The current password is wrong."))
