"""The JSON API: a questionnaire's tallies and response rates, read with a session or a token."""

from flask import jsonify, request

from survey.api import bp
from survey.errors import render_error
from survey.i18n import gettext as _
from survey.network.rates import grouping, response_rates
from survey.security import VIEWER, access, organisation_scope, questionnaire_or_404
from survey.tallies import hotspots as spots
from survey.tallies import timeline as timelines
from survey.tallies import waves
from survey.tallies.counting import FilterError, parse_filters, tally


@bp.errorhandler(FilterError)
def bad_filter(error):
    """Answer an unknown ward or organisation code, or a bad breakdown, with a 400 JSON error."""
    return render_error(400, str(error))


@bp.route("/api/v1/questionnaires/<slug>/tallies")
@access(VIEWER)
def tallies(slug):
    """Return a questionnaire's tallies as JSON, in the caller's scope, filters and breakdown."""
    questionnaire = questionnaire_or_404(slug)
    filters = parse_filters(request.args, organisation_scope(), questionnaire)
    t = tally(questionnaire, filters)
    comparison = waves.compare(questionnaire, t, filters)
    response = jsonify(waves.api(t.api(), comparison, filters.by))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/v1/questionnaires/<slug>/response-rates")
@access(VIEWER)
def response_rates_json(slug):
    """Return {"groups": [{code, name, expected, answered}]} by ward or organisation, as JSON."""
    questionnaire = questionnaire_or_404(slug)
    by = grouping(request.args.get("by", "ward"))
    if by is None:
        return jsonify(error=_("The parameter by must be ward or organisation.")), 400
    return jsonify(groups=response_rates(questionnaire, by, organisation_scope()))


@bp.route("/api/v1/questionnaires/<slug>/timeline")
@access(VIEWER)
def timeline(slug):
    """Return responses per day (per week when anonymous): [{"period", "responses"}], as JSON."""
    questionnaire = questionnaire_or_404(slug)
    filters = parse_filters(request.args, organisation_scope(), questionnaire)
    response = jsonify(timelines.api(timelines.timeline(questionnaire, filters)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/v1/questionnaires/<slug>/hotspots")
@access(VIEWER)
def hotspots(slug):
    """Return the groups whose share of concern answers stands above the district's, as JSON."""
    questionnaire = questionnaire_or_404(slug)
    filters = parse_filters(request.args, organisation_scope(), questionnaire)
    response = jsonify(spots.api(spots.hotspots(questionnaire, filters)))
    response.headers["Cache-Control"] = "no-store"
    return response
