"""Response screens: the list of a questionnaire's responses, one response, void and restore,
and the test answers sent from the preview."""

import math
from dataclasses import dataclass

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404

from survey.errors import render_error
from survey.i18n import gettext as _
from survey.i18n import ngettext
from survey.models import Organisation, Response, Ward
from survey.params import BadParameter, page_number
from survey.questionnaires.authoring import may_edit
from survey.responses import bp, records
from survey.security import (
    ADMIN,
    COORDINATOR,
    VIEWER,
    access,
    in_scope,
    may,
    organisation_scope,
    questionnaire_or_404,
)
from survey.tallies.counting import check_period, parse_filters, threshold
from survey.tallies.forms import TallyFilterForm

PER_PAGE = 25
SHOWN = {"": Response.COUNTED, "voided": Response.VOIDED}


def refusal(code, message):
    """Return the error page of a refusal, as a response abort() can raise."""
    return make_response(*render_error(code, message))


def named_or_404(slug):
    """Return a non-anonymous questionnaire whose rows the user may read; else 404 or 403."""
    questionnaire = questionnaire_or_404(slug)
    if questionnaire.anonymous:
        abort(
            refusal(
                404,
                _(
                    "An anonymous questionnaire has no list of responses: its responses are "
                    "tied to nobody, and are read only as tallies."
                ),
            )
        )
    if threshold(questionnaire) > 1 and current_user.role != ADMIN:
        # A row per response would show the small groups the tallies withhold (as exports do).
        abort(refusal(403, _("The responses of this questionnaire are for admins only.")))
    return questionnaire


def response_or_404(questionnaire, response_id):
    """Return a response of this questionnaire within the user's scope, or answer 404."""
    response = get_object_or_404(
        Response, (Response.id == response_id) & (Response.questionnaire == questionnaire.id)
    )
    if not in_scope(response.organisation_id):
        abort(404)  # another organisation's response is as unknown as a made-up number
    response.questionnaire = questionnaire
    return response


def filter_form(filters):
    """Return the GET filter form: wards, the organisations in scope and dates."""
    organisations = Organisation.ordered()
    if filters.scope is not None:
        organisations = organisations.where(Organisation.id == filters.scope)
    return TallyFilterForm(request.args, wards=Ward.ordered(), organisations=organisations)


@dataclass
class Pages:
    """Where a list is: what the shared pager macro asks a PaginatedQuery, counted once."""

    page: int
    total: int  # responses listed on all pages

    def get_page(self):
        """Return the page number shown."""
        return self.page

    def get_page_count(self):
        """Return how many pages the list has."""
        return max(1, math.ceil(self.total / PER_PAGE))


def render_page(template, questionnaire, state, filters, total, **context):
    """Render a page of a list of `total` responses in a state, newest first, in words."""
    page = page_number()
    query = records.listed(questionnaire, state, filters.conditions(Response))
    items = list(query.paginate(page, PER_PAGE))
    return render_template(
        template,
        questionnaire=questionnaire,
        pagination=Pages(page, total),
        items=items,
        answers=records.readable(questionnaire, items),
        params=filters.params(),
        form=filter_form(filters),
        **context,
    )


@bp.route("/questionnaires/<slug>/responses")
@access(VIEWER)
def index(slug):
    """List a non-anonymous questionnaire's responses, newest first, filtered and paged."""
    questionnaire = named_or_404(slug)
    show = request.args.get("show", "")
    if show not in SHOWN:
        raise BadParameter(_("Show the counted responses or the voided ones."))
    filters = parse_filters(request.args, organisation_scope(), questionnaire)
    filters.by = None
    check_period(questionnaire, filters)
    found = records.counts(questionnaire, list(SHOWN.values()), filters.conditions(Response))
    return render_page(
        "responses/index.html",
        questionnaire,
        SHOWN[show],
        filters,
        found[SHOWN[show]],
        show=show,
        counts={key: found[state] for key, state in SHOWN.items()},
    )


def render_response(questionnaire, response, error=None, status=200):
    """Render one response's page: its answers, its state and what may be done with it."""
    return render_template(
        "responses/show.html",
        questionnaire=questionnaire,
        response=response,
        answers=records.readable(questionnaire, [response]).get(response.id, []),
        can_change=may(current_user, COORDINATOR),
        error=error,
        reason=request.form.get("reason", "") if request.method == "POST" else "",
        limit=records.REASON_LIMIT,
    ), status


@bp.route("/questionnaires/<slug>/responses/<int:response_id>")
@access(VIEWER)
def show(slug, response_id):
    """Show one response with its answers in words, and Void or Restore for coordinators."""
    questionnaire = named_or_404(slug)
    return render_response(questionnaire, response_or_404(questionnaire, response_id))


def change(slug, response_id, act, refused_status, done):
    """Do `act` to a response of this questionnaire in scope; show why not, or say it is done."""
    questionnaire = named_or_404(slug)
    response = response_or_404(questionnaire, response_id)
    try:
        act(response)
    except records.Refused as refused:
        return render_response(questionnaire, response, str(refused), refused_status)
    flash(done)
    return redirect(url_for(".show", slug=slug, response_id=response_id))


@bp.route("/questionnaires/<slug>/responses/<int:response_id>/void", methods=["POST"])
@access(COORDINATOR)
def void(slug, response_id):
    """Void a counted response with a reason: no figure counts it any more."""
    reason = request.form.get("reason", "")
    return change(
        slug,
        response_id,
        lambda response: records.void(current_user, response, reason),
        422,
        _("The response is voided: no figure counts it any more. It can be restored."),
    )


@bp.route("/questionnaires/<slug>/responses/<int:response_id>/restore", methods=["POST"])
@access(COORDINATOR)
def restore(slug, response_id):
    """Count a voided response again (409 when its collaborator has answered again since)."""
    return change(
        slug,
        response_id,
        lambda response: records.restore(current_user, response),
        409,
        _("The response is restored and counted again."),
    )


@bp.route("/questionnaires/<slug>/test-answers")
@access(VIEWER)
def tests(slug):
    """List the test answers sent from a questionnaire's preview, newest first."""
    questionnaire = questionnaire_or_404(slug)
    filters = parse_filters({}, organisation_scope())
    return render_page(
        "responses/tests.html",
        questionnaire,
        Response.TEST,
        filters,
        records.count(questionnaire, Response.TEST, filters.conditions(Response)),
        can_clear=may(current_user, COORDINATOR) and may_edit(current_user, questionnaire),
    )


@bp.route("/questionnaires/<slug>/test-answers/clear", methods=["POST"])
@access(COORDINATOR)
def clear_tests(slug):
    """Delete every test answer of a questionnaire (within the user's scope)."""
    questionnaire = questionnaire_or_404(slug)
    if not may_edit(current_user, questionnaire):
        abort(403)
    scope = records.scope_terms(organisation_scope())
    cleared = records.clear_tests(current_user, questionnaire, scope)
    flash(ngettext("%(num)d test answer deleted.", "%(num)d test answers deleted.", cleared))
    target = request.form.get("next", "")
    if target == "edit":
        return redirect(url_for("questionnaires.edit", slug=slug))
    return redirect(url_for(".tests", slug=slug))
