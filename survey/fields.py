"""What every blueprint's forms share: the common messages and field kinds."""

from wtforms import SelectChoice, SelectMultipleField, widgets

from survey.i18n import lazy_gettext as _l

REQUIRED = _l("This field is required.")
CHOICE = _l("Choose one of the options offered.")


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def code_choices(rows, everything=None):
    """Return select choices by code, led by an 'all' entry when everything is given."""
    head = [SelectChoice("", everything)] if everything is not None else []
    return head + [SelectChoice(r.code, f"{r.code} · {r.name}") for r in rows]
