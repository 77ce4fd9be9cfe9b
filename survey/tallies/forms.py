"""The tally page's filter form."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import Optional

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
