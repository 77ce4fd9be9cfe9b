"""The response-rate page: per ward or organisation, and who has not answered."""

from flask import render_template, request

from survey.errors import render_error
from survey.i18n import gettext as _
from survey.network import bp, rates
from survey.params import paginated
from survey.security import VIEWER, access, organisation_scope, questionnaire_or_404

# Those not answered yet, a page at a time: a district of 500 waiting was a 45,000 px page.
WAITING_PER_PAGE = 50


def rates_request(slug):
    """Return the questionnaire named (or answer 404) and the asked grouping (None when unknown)."""
    questionnaire = questionnaire_or_404(slug)
    return questionnaire, rates.grouping(request.args.get("by", "ward"))


@bp.route("/network/rates/<slug>")
@access(VIEWER)
def rates_page(slug):
    """Show a questionnaire's response rate per ward or organisation, and who has not answered."""
    questionnaire, by = rates_request(slug)
    if by is None:
        return render_error(400, _("Group by ward or by organisation."))
    scope = organisation_scope()
    groups = rates.response_rates(questionnaire, by, scope)
    waiting = rates.not_answered(questionnaire, scope)
    pages = paginated(waiting, WAITING_PER_PAGE)
    return render_template(
        "network/rates.html",
        questionnaire=questionnaire,
        by=by,
        groups=groups,
        total=rates.totals(groups),
        percent=rates.percent,
        waiting=list(pages.get_object_list()),
        waiting_count=waiting.count(),
        pagination=pages,
        channels=rates.channels(questionnaire, scope),
    )
