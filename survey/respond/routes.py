"""The collaborator's phone pages: their own page, the form, the open and poster links, thanks."""

import datetime
import uuid
from urllib.parse import urlencode

from flask import abort, current_app, jsonify, make_response, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict

from survey.i18n import gettext as _
from survey.models import (
    TOKEN_PATTERN,
    Collaborator,
    Questionnaire,
    Receipt,
    Response,
    utcnow,
)
from survey.respond import bp, submit
from survey.respond.links import open_link, read_group
from survey.respond.rules import (
    check_answers,
    chosen_place,
    dropped_answers,
    offered_to,
    places,
    refusal,
    schema_of,
    valid_client_uuid,
)
from survey.security import PHONE, access, questionnaire_or_404


def collaborator_or_404(token, grace=False):
    """Return the active collaborator holding this token, or answer the phone's 404 page.

    With grace, a link retired in the last TOKEN_GRACE_DAYS still names its collaborator, for
    answers kept on the phone; the collaborator is shown under that old link, never the new one.
    """
    collaborator = Collaborator.by_token(token)
    if collaborator is None and grace and current_app.config["TOKEN_GRACE_DAYS"] > 0:
        since = utcnow() - datetime.timedelta(days=current_app.config["TOKEN_GRACE_DAYS"])
        collaborator = Collaborator.by_retired_token(token, since)
        if collaborator is not None:
            collaborator.token = token  # in memory only: links on the page keep the old address
    if collaborator is None:
        abort(make_response(dead_card_page(former_holder(token)), 404))
    return collaborator


def former_holder(token):
    """Return whose card this was (replaced, or its holder deactivated), or None if unknown."""
    holder = Collaborator.by_retired_token(token)
    if holder is None and TOKEN_PATTERN.match(token):
        # Deactivated without its link noted as retired (before migration 0009, or by hand).
        holder = Collaborator.get_or_none((Collaborator.token == token) & ~Collaborator.active)
    return holder


def dead_card_page(holder=None):
    """Render the phone's own page for a link that does not work (always a plain 404, known card
    or not): whom to ask for a new card, with the holder's organisation's contact if known."""
    organisation = holder.organisation if holder is not None else None
    contact = (organisation.contact if organisation is not None else "") or current_app.config[
        "PHONE_CONTACT"
    ]
    return render_template("respond/dead_card.html", organisation=organisation, contact=contact)


@bp.errorhandler(404)
def phone_not_found(error):
    """Answer any other 404 of a phone page (questionnaire, open link, poster) the phone's way."""
    return dead_card_page(), 404


def receipts_of(collaborator):
    """Return how many responses the collaborator sent, by questionnaire id."""
    query = Receipt.select(Receipt.questionnaire, Receipt.count).where(
        Receipt.collaborator == collaborator
    )
    return {r.questionnaire_id: r.count for r in query}


def refusal_page(questionnaire, message):
    """Answer a questionnaire that takes no answer: 410 once it is over, 403 otherwise."""
    over = questionnaire.status == "closed" or (
        questionnaire.closes_at is not None and utcnow() >= questionnaire.closes_at
    )
    return render_template(
        "respond/refused.html", questionnaire=questionnaire, message=message
    ), 410 if over else 403


@bp.route("/c/<token>")
@access(PHONE)
def home(token):
    """Show a collaborator's own page: what is open for them and what they answered."""
    collaborator = collaborator_or_404(token)
    receipts = receipts_of(collaborator)
    offered = offered_to(collaborator)
    answered = (
        list(
            Questionnaire.select()
            .where(Questionnaire.id.in_(list(receipts)))
            .order_by(Questionnaire.created_at.desc())
        )
        if receipts
        else []
    )
    return render_template(
        "respond/home.html",
        collaborator=collaborator,
        offered=offered,
        answered=answered,
        receipts=receipts,
        open_link_of=open_link,  # shared by the "Share" button; the personal link never is
    )


@bp.route("/c/<token>/<slug>", methods=["GET", "POST"])
@access(PHONE)
def form(token, slug):
    """Show and take a collaborator's form."""
    collaborator = collaborator_or_404(token, grace=request.method == "POST")
    questionnaire = questionnaire_or_404(slug)
    schema = schema_of(questionnaire)
    message = refusal(questionnaire, collaborator, schema=schema)
    if message:
        return refusal_page(questionnaire, message)
    place = (collaborator.ward_id, collaborator.organisation_id)
    if (
        request.method == "GET"
        and questionnaire.per_collaborator == "one"
        and Receipt.has_answered(questionnaire, collaborator)
    ):
        return render_template(
            "respond/answered.html", questionnaire=questionnaire, collaborator=collaborator
        )
    return answer(questionnaire, collaborator=collaborator, place=place, schema=schema)


@bp.route("/s/<slug>", methods=["GET", "POST"])
@access(PHONE)
def open_form(slug):
    """Show and take the open-link form, where the respondent picks ward and organisation."""
    questionnaire = questionnaire_or_404(slug)
    if not questionnaire.open_link:
        abort(404)
    message = refusal(questionnaire)
    if message:
        return refusal_page(questionnaire, message)
    return answer(questionnaire, choose=places(questionnaire))


@bp.route("/s/<slug>/<group>", methods=["GET", "POST"])
@access(PHONE)
def group_form(slug, group):
    """Show and take the poster-link form, whose ward and organisation are signed into the link."""
    questionnaire = questionnaire_or_404(slug)
    pair = read_group(group) if questionnaire.open_link else None
    if pair is None:
        abort(404)
    wards, orgs = places(questionnaire)
    ward, organisation = pair
    if ward not in wards or organisation not in orgs:
        abort(404)  # a poster for a ward or organisation this questionnaire is not sent to
    message = refusal(questionnaire)
    if message:
        return refusal_page(questionnaire, message)
    return answer(questionnaire, place=(ward.id, organisation.id), fixed=pair)


def answer(questionnaire, collaborator=None, place=None, choose=None, fixed=None, schema=None):
    """Render the form (GET) or check and store a submission (POST)."""
    schema = schema or schema_of(questionnaire)
    page = {
        "questionnaire": questionnaire,
        "schema": schema,
        "collaborator": collaborator,
        "choose": choose,
        "fixed": fixed,
        "thanks_url": thanks_url(questionnaire, collaborator),
    }
    if request.method == "GET":
        # A link may name the form's id (?n=): Back to it brings the same id, so a form sent
        # without JavaScript, gone back to and sent again counts once.
        named = request.args.get("n", "")
        if valid_client_uuid(named) and Response.get_or_none(Response.client_uuid == named):
            return see_other(page["thanks_url"] + "?already=1")
        if valid_client_uuid(named):
            client_uuid, pinned = named, None
        else:
            # Typed or scanned without an id: a browser without JavaScript is sent on (a
            # <noscript> refresh, which replaces this history entry) to the same form under
            # this id, so its Back returns to an id already used. Scripts give each send an id.
            client_uuid = str(uuid.uuid4())
            kept = [(k, v) for k, v in request.args.items(multi=True) if k != "n"]
            pinned = request.path + "?" + urlencode([*kept, ("n", client_uuid)])
        return render_template(
            "respond/form.html",
            form=MultiDict(),
            errors={},
            client_uuid=client_uuid,
            pinned=pinned,
            **page,
        )
    client_uuid = request.form.get("client_uuid", "")
    if not valid_client_uuid(client_uuid):
        return render_template(
            "respond/refused.html",
            questionnaire=questionnaire,
            message=_("This form is incomplete. Please open it again and send your answers again."),
        ), 400
    place_errors = {}
    if choose is not None:
        place = chosen_place(choose, request.form, place_errors)
    outcome = check_answers(schema, request.form)
    if place_errors or not outcome.ok:
        return render_template(
            "respond/form.html",
            form=request.form,
            client_uuid=client_uuid,
            errors={**place_errors, **outcome.errors},
            **page,
        ), 400 if place_errors else 422
    result = submit.store(
        questionnaire, place[0], place[1], collaborator, client_uuid, outcome.values
    )
    if result == submit.ALREADY_ANSWERED:
        return render_template(
            "respond/answered.html", questionnaire=questionnaire, collaborator=collaborator
        ), 409
    if result == submit.UUID_TAKEN:
        return render_template(
            "respond/refused.html",
            questionnaire=questionnaire,
            message=_("This form is incomplete. Please open it again and send your answers again."),
        ), 400
    notes = {"dropped": ",".join(dropped_answers(schema, request.form))}
    if result == submit.DUPLICATE:
        notes["already"] = "1"
    query = urlencode({k: v for k, v in notes.items() if v})
    return see_other(page["thanks_url"] + ("?" + query if query else ""))


def see_other(location):
    """Answer 303 See Other without a body; the phone goes straight to Location.

    Flask's redirect() also writes an HTML page with the link, a body no browser shows,
    sent over the phone's slow line after every answer.
    """
    return current_app.response_class(status=303, headers={"Location": location})


def thanks_url(questionnaire, collaborator):
    """Return the thank-you address of a form: personal when the collaborator is known."""
    if collaborator is not None:
        return url_for("respond.thanks", slug=questionnaire.slug, token=collaborator.token)
    return url_for("respond.thanks", slug=questionnaire.slug)


@bp.route("/c/<token>/<slug>/thanks")
@bp.route("/s/<slug>/thanks")
@access(PHONE)
def thanks(slug, token=None):
    """Thank the respondent, with a way back to the collaborator's page."""
    collaborator = collaborator_or_404(token, grace=True) if token is not None else None
    questionnaire = questionnaire_or_404(slug)
    if questionnaire.status == "draft":
        abort(404)  # nobody answered a draft; its title is not public
    again = None
    if collaborator is not None and questionnaire.per_collaborator == "many":
        again = url_for("respond.form", token=token, slug=slug, n=str(uuid.uuid4()))
    wanted = set(request.args.get("dropped", "").split(",")[:200])
    dropped = [q.prompt for q in questionnaire.ordered_questions() if q.key in wanted]
    return render_template(
        "respond/thanks.html",
        questionnaire=questionnaire,
        collaborator=collaborator,
        again=again,
        dropped=dropped,
        already=request.args.get("already") == "1",
    )


@bp.route("/csrf")
@access(PHONE)
def csrf_token():
    """Give the phone's script a fresh form token, to send answers kept offline for hours."""
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response
