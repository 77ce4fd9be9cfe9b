"""Printable A4 sheets: collaborators' personal QR cards and the open-link posters."""

from flask import Response, abort, current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup

from survey.i18n import format_local
from survey.i18n import gettext as _
from survey.models import Organisation, Ward
from survey.network import (
    bp,
    current_filters,
    filter_form,
    filtered_collaborators,
    private,
    qrcodes,
)
from survey.params import paginated
from survey.respond.links import open_link, personal_link
from survey.security import COORDINATOR, access, in_scope, questionnaire_or_404

CARDS_PER_PAGE = 120  # fifteen A4 sheets of eight cards


@bp.route("/network/cards")
@access(COORDINATOR)
def cards():
    """Show a printable A4 sheet of the active collaborators' personal QR cards."""
    form = filter_form()
    if not form.validate():
        return render_template("network/cards.html", form=form, people=[]), 400
    form.status.data = "active"
    # A page at a time: thousands of QR codes in one page outlast the worker and the printer.
    pages = paginated(filtered_collaborators(form), CARDS_PER_PAGE)
    if pages.get_page() > max(1, pages.get_page_count()):
        abort(404)
    people = [
        (p, personal_link(p), Markup(qrcodes.svg(personal_link(p))))
        for p in pages.get_object_list()
    ]
    with force_locale("vi"):  # collaborators read Vietnamese, whatever the coordinator's language
        card_help = _(
            "Scan this code with your phone's camera to open your questionnaires. "
            "Keep the card to yourself: it is your personal link."
        )
        contact = contact_line()
    return private(
        Response(
            render_template(
                "network/cards.html",
                form=form,
                people=people,
                card_help=card_help,
                contact=contact,
                pagination=pages,
                filters=current_filters(),
            )
        )
    )


def contact_line():
    """Return the printed "Contact: …" line from PHONE_CONTACT, or "" when it is not set."""
    contact = current_app.config.get("PHONE_CONTACT") or ""
    return _("Contact: %(contact)s", contact=contact) if contact else ""


def poster_groups(questionnaire):
    """Return the ward × organisation pairs a questionnaire is sent to, within the user's scope."""
    wards = list(questionnaire.target_wards()) or list(Ward.ordered())
    organisations = list(questionnaire.target_organisations()) or list(Organisation.ordered())
    return [
        (ward, organisation)
        for ward in wards
        for organisation in organisations
        if organisation.active and ward.active and in_scope(organisation.id)
    ]


@bp.route("/network/posters/<slug>")
@access(COORDINATOR)
def posters(slug):
    """Show a printable poster per targeted ward × organisation, each with a signed open-link QR."""
    questionnaire = questionnaire_or_404(slug)
    items = []
    if questionnaire.open_link:
        for ward, organisation in poster_groups(questionnaire):
            link = open_link(questionnaire, ward, organisation)
            items.append((ward, organisation, link, Markup(qrcodes.svg(link))))
    with force_locale("vi"):  # residents read Vietnamese, whatever the coordinator's language
        text = {
            "lead": _("Your opinion counts"),
            "help": _(
                "Scan the code with your phone's camera to answer. It takes a few "
                "minutes; your answers are counted for your ward and organisation."
            ),
            "closes": _("Answer by %(time)s", time=format_local(questionnaire.closes_at))
            if questionnaire.closes_at
            else "",
            "contact": contact_line(),
        }
    return render_template(
        "network/posters.html", questionnaire=questionnaire, posters=items, poster_text=text
    )
