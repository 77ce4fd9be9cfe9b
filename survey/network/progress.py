"""Response rates per ward or organisation: the page and the JSON endpoint."""
from flask import jsonify, render_template, request
from playhouse.flask_utils import get_object_or_404

from survey import rates
from survey.errors import render_error
from survey.i18n import gettext as _
from survey.models import Questionnaire
from survey.network import bp
from survey.security import VIEWER, access, organisation_scope


def rates_request(slug):
    """Return the questionnaire named (or answer 404) and the asked grouping (None when unknown)."""
    questionnaire = get_object_or_404(Questionnaire.select(), Questionnaire.slug == slug)
    by = request.args.get("by", "ward")
    return questionnaire, (by if by in rates.BY else None)


@bp.route("/network/rates/<slug>")
@access(VIEWER)
def rates_page(slug):
    """Show a questionnaire's response rate per ward or organisation, and who has not answered."""
    questionnaire, by = rates_request(slug)
    if by is None:
        return render_error(400, _("Group by ward or by organisation."))
    scope = organisation_scope()
    groups = rates.response_rates(questionnaire, by, scope)
    return render_template("network/rates.html", questionnaire=questionnaire, by=by,
                           groups=groups, total=rates.totals(groups), percent=rates.percent,
                           waiting=list(rates.not_answered(questionnaire, scope)))


@bp.route("/api/v1/questionnaires/<slug>/response-rates")
@access(VIEWER)
def api_rates(slug):
    """Return {"groups": [{code, name, expected, answered}]} by ward or organisation, as JSON."""
    questionnaire, by = rates_request(slug)
    if by is None:
        return jsonify(error=_("The parameter by must be ward or organisation.")), 400
    return jsonify(groups=rates.response_rates(questionnaire, by, organisation_scope()))
