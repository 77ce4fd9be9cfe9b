"""The tally page's filter form."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional

from survey.i18n import lazy_gettext as _l


class TallyFilterForm(FlaskForm):
    """The tally page's filters (GET); counting.parse_filters checks the values."""

    ward = SelectField(_l("Ward"), choices=[], validate_choice=False)
    organisation = SelectField(_l("Organisation"), choices=[], validate_choice=False)
    start = DateField(_l("From"), name="from", validators=[Optional()])
    end = DateField(_l("To"), name="to", validators=[Optional()])
    by = SelectField(
        _l("Breakdown"),
        validate_choice=False,
        choices=[
            SelectChoice("", _l("No breakdown")),
            SelectChoice("ward", _l("By ward")),
            SelectChoice("organisation", _l("By organisation")),
        ],
    )

    class Meta:
        csrf = False  # a GET form: filters change nothing

    def __init__(self, *args, wards=(), organisations=(), **kwargs):
        """Offer the wards and the organisations in scope by code ('' = all)."""
        super().__init__(*args, **kwargs)
        self.ward.choices = [SelectChoice("", _l("All wards"))] + [
            SelectChoice(w.code, w.name) for w in wards
        ]
        self.organisation.choices = [SelectChoice("", _l("All organisations"))] + [
            SelectChoice(o.code, o.name) for o in organisations
        ]

    def offer_questions(self, questions):
        """Offer a breakdown by the answers to each of these questions (by their key)."""
        self.by.choices = list(self.by.choices) + [
            SelectChoice(q.key, _l("By answer to: %(prompt)s", prompt=q.prompt)) for q in questions
        ]


class ReportForm(FlaskForm):
    """Who issues and signs the Word report (GET; report.read_settings checks the values)."""

    parent = StringField(_l("Governing body"), validators=[Length(max=300)])
    issuer = StringField(_l("Issuing body"), validators=[Length(max=300)])
    abbreviation = StringField(_l("Abbreviation of the issuing body"), validators=[Length(max=300)])
    number = StringField(_l("Number"), validators=[Length(max=300)])
    place = StringField(_l("Place"), validators=[Length(max=300)])
    signer_title = StringField(_l("Signer’s title"), validators=[Length(max=300)])
    signer = StringField(_l("Signer"), validators=[Length(max=300)])
    recipients = TextAreaField(_l("Recipients, one a line"))
    texts = IntegerField(
        _l("Written answers quoted per question"), validators=[Optional(), NumberRange(0, 200)]
    )

    class Meta:
        csrf = False  # a GET form: it only shapes a download
