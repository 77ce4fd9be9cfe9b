"""The forms of the API token screen."""

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from survey.i18n import lazy_gettext as _l


class ApiTokenForm(FlaskForm):
    """A new API token: whose role and scope it acts with, and a name to recognise it by."""

    user = SelectField(
        _l("Account"),
        coerce=int,
        choices=[],
        invalid_choice_message=_l("Choose one of the accounts offered."),
    )

    def __init__(self, *args, users=(), **kwargs):
        """Offer the given accounts."""
        super().__init__(*args, **kwargs)
        self.user.choices = [SelectChoice(u.id, f"{u.username} ({u.role})") for u in users]

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(message=_l("Give the token a name.")),
            Length(max=100, message=_l("At most 100 characters.")),
        ],
    )


class ApiTokenRevokeForm(FlaskForm):
    """The confirmation (CSRF token only) of revoking an API token."""
