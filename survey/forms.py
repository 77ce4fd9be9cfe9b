"""FlaskForm classes of the coordinator screens; every validator message is given explicitly."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from survey.i18n import lazy_gettext as _l

REQUIRED = _l("This field is required.")


class LoginForm(FlaskForm):
    """Username and password."""
    username = StringField(_l("Username"), validators=[
        DataRequired(message=REQUIRED), Length(max=80, message=_l("At most 80 characters."))])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(message=REQUIRED), Length(max=200, message=_l("At most 200 characters."))])
