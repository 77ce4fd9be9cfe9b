"""The forms of the collaborator network: groups, collaborators, filters and roster uploads."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from survey import text as text_rules
from survey.fields import CHOICE, REQUIRED, code_choices
from survey.i18n import lazy_gettext as _l

GROUP_CODE_RULES = [
    DataRequired(message=REQUIRED),
    Length(max=20, message=_l("At most 20 characters.")),
    Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dot, dash or underscore.")),
]
GROUP_NAME_RULES = [
    DataRequired(message=REQUIRED),
    Length(max=200, message=_l("At most 200 characters.")),
]


class GroupForm(FlaskForm):
    """A new ward or organisation: its code (fixed once made) and its name."""

    code = StringField(_l("Code"), validators=GROUP_CODE_RULES)
    name = StringField(_l("Name"), validators=GROUP_NAME_RULES)


class GroupRenameForm(FlaskForm):
    """A ward's or organisation's new name."""

    name = StringField(_l("Name"), validators=GROUP_NAME_RULES)


def one_plain_line(form, field):
    """Refuse control, broken or direction-changing characters and line breaks in a text."""
    if field.data and text_rules.has_refused(field.data, multiline=False):
        raise ValidationError(_l("Remove the control or broken characters from this text."))


class OrganisationEditForm(GroupRenameForm):
    """An organisation's new name and whom its collaborators ask for a new card."""

    contact = StringField(
        _l("Contact for a new card"),
        description=_l(
            "A name and phone number, shown on its collaborators' cards and on the phone's page "
            "for a card that no longer works. Empty: the district's contact."
        ),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            Optional(),
            Length(max=200, message=_l("At most 200 characters.")),
            one_plain_line,
        ],
    )


class CollaboratorForm(FlaskForm):
    """A collaborator as a coordinator adds or edits them."""

    name = StringField(
        _l("Full name"),
        validators=[
            DataRequired(message=REQUIRED),
            Length(max=200, message=_l("At most 200 characters.")),
        ],
    )
    phone = StringField(
        _l("Phone"), validators=[Optional(), Length(max=30, message=_l("At most 30 characters."))]
    )
    organisation = SelectField(_l("Organisation"), choices=[], invalid_choice_message=CHOICE)
    ward = SelectField(_l("Ward"), choices=[], invalid_choice_message=CHOICE)

    def __init__(self, *args, organisations=(), wards=(), **kwargs):
        """Offer the organisations and wards the user may choose from."""
        super().__init__(*args, **kwargs)
        self.organisation.choices = code_choices(organisations, None)
        self.ward.choices = code_choices(wards, None)


class NetworkFilterForm(FlaskForm):
    """Filters of the collaborator list and the card sheet (read from the query string)."""

    q = StringField(
        _l("Name or phone"),
        validators=[Optional(), Length(max=100, message=_l("At most 100 characters."))],
    )
    ward = SelectField(_l("Ward"), choices=[], default="", invalid_choice_message=CHOICE)
    organisation = SelectField(
        _l("Organisation"), choices=[], default="", invalid_choice_message=CHOICE
    )
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("active", _l("Active")),
            SelectChoice("inactive", _l("Deactivated")),
            SelectChoice("all", _l("All")),
        ],
        default="active",
        invalid_choice_message=CHOICE,
    )

    class Meta:
        csrf = False  # a GET form: filters change nothing

    def __init__(self, *args, organisations=(), wards=(), **kwargs):
        """Offer the organisations and wards in scope ('' = all)."""
        super().__init__(*args, **kwargs)
        self.ward.choices = code_choices(wards, _l("All wards"))
        self.organisation.choices = code_choices(organisations, _l("All organisations"))


class RosterUploadForm(FlaskForm):
    """A roster CSV file to check before importing."""

    file = FileField(
        _l("Roster file (XLSX or CSV)"),
        validators=[FileRequired(message=_l("Choose an XLSX or CSV file to check."))],
    )


class RosterConfirmForm(FlaskForm):
    """The confirmation of a checked roster upload, naming it by its random id."""

    upload = HiddenField(
        validators=[
            DataRequired(message=REQUIRED),
            Regexp(r"^[A-Za-z0-9_-]{16,64}$", message=_l("This upload is unknown or has expired.")),
        ]
    )
    # What the check showed (a letter per line: add, change, keep), to notice a change since.
    plan = HiddenField()
