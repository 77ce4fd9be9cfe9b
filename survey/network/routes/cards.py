"""Printable A4 sheets: collaborators' personal QR cards and the open-link posters."""

from flask import Response, abort, current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup
from peewee import Tuple, fn

from survey.i18n import format_local
from survey.i18n import gettext as _
from survey.models import Collaborator, Organisation, Ward
from survey.network import (
    bp,
    current_filters,
    filter_form,
    filtered_collaborators,
    private,
    qrcodes,
)
from survey.params import page_number
from survey.respond.links import open_link, personal_link
from survey.security import COORDINATOR, access, in_scope, questionnaire_or_404

CARDS_PER_PAGE = 120  # fifteen A4 sheets of eight cards


class SheetPages:
    """The card sheet's pages, laid out by ward × organisation from one GROUP BY: whole groups
    share a page up to CARDS_PER_PAGE cards, a larger group has pages of its own; so a page
    reads only its own cards, and no group is split where it need not be."""

    def __init__(self, form):
        """Count the matching collaborators by ward × organisation and lay out the pages."""
        counted = (
            filtered_collaborators(form)
            .select(Ward.id, Ward.code, Ward.name, Organisation.id, Organisation.code)
            .select_extend(Organisation.name, fn.COUNT(Collaborator.id))
            .group_by(Ward.id, Ward.code, Ward.name, Organisation.id)
            .group_by_extend(Organisation.code, Organisation.name)
            .order_by(Ward.code, Organisation.code)
            .tuples()
        )
        self.groups, self.pages = [], []  # a page: [(ward id, organisation id, offset, count)]
        room = 0
        for ward_id, ward_code, ward_name, org_id, org_code, org_name, count in counted:
            if count > room or count > CARDS_PER_PAGE:
                self.pages.append([])
                room = CARDS_PER_PAGE
            self.groups.append(
                {"label": f"{ward_name} · {org_name}", "count": count, "page": len(self.pages)}
            )
            for offset in range(0, count, CARDS_PER_PAGE):
                if offset:
                    self.pages.append([])
                part = min(CARDS_PER_PAGE, count - offset)
                self.pages[-1].append((ward_id, org_id, offset, part))
                room -= part
            self.groups[-1]["last"] = len(self.pages)
            if count > CARDS_PER_PAGE:
                room = 0  # the last part of a large group keeps its page to itself
        self.total = sum(group["count"] for group in self.groups)
        self.page = page_number()

    def get_page(self):
        """Return the page number asked for (from 1)."""
        return self.page

    def get_page_count(self):
        """Return how many pages the sheet has."""
        return len(self.pages)

    def on_page(self):
        """Return the groups shown on the asked page."""
        return [g for g in self.groups if g["page"] <= self.page <= g["last"]]

    def people(self, form):
        """Return the asked page's collaborators, in the sheet's order."""
        if self.page > len(self.pages):
            return []
        parts = self.pages[self.page - 1]
        query = filtered_collaborators(form)
        if len(parts) == 1:  # one group, or one part of a large one
            ward, organisation, offset, count = parts[0]
            query = query.where(
                (Collaborator.ward == ward) & (Collaborator.organisation == organisation)
            )
            return list(query.offset(offset).limit(count))
        pairs = [(ward, organisation) for ward, organisation, _, _ in parts]
        return list(query.where(Tuple(Collaborator.ward, Collaborator.organisation).in_(pairs)))


@bp.route("/network/cards")
@access(COORDINATOR)
def cards():
    """Show a printable A4 sheet of the active collaborators' personal QR cards, a page at a
    time by ward × organisation."""
    form = filter_form()
    if not form.validate():
        return render_template("network/cards.html", form=form, people=[]), 400
    form.status.data = "active"
    # A page at a time: thousands of QR codes in one page outlast the worker and the printer.
    sheet = SheetPages(form)
    if sheet.get_page() > max(1, sheet.get_page_count()):
        abort(404)
    people = [(p, personal_link(p)) for p in sheet.people(form)]
    codes = qrcodes.card_svgs({p.id: link for p, link in people})
    with force_locale("vi"):  # collaborators read Vietnamese, whatever the coordinator's language
        card_help = _(
            "Scan this code with your phone's camera to open your questionnaires. "
            "Keep the card to yourself: it is your personal link."
        )
        people = [
            (p, link, Markup(codes[p.id]), contact_line(p.organisation.contact))
            for p, link in people
        ]
    return private(
        Response(
            render_template(
                "network/cards.html",
                form=form,
                people=people,
                card_help=card_help,
                pagination=sheet,
                filters=current_filters(),
            )
        )
    )


def contact_line(contact=""):
    """Return the printed "Contact: …" line: an organisation's own contact, else PHONE_CONTACT;
    "" when neither is set."""
    contact = contact or current_app.config.get("PHONE_CONTACT") or ""
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
    with force_locale("vi"):  # residents read Vietnamese, whatever the coordinator's language
        if questionnaire.open_link:
            for ward, organisation in poster_groups(questionnaire):
                link = open_link(questionnaire, ward, organisation)
                qr = Markup(qrcodes.svg(link))
                items.append((ward, organisation, link, qr, contact_line(organisation.contact)))
        text = {
            "lead": _("Your opinion counts"),
            "help": _(
                "Scan the code with your phone's camera to answer. It takes a few "
                "minutes; your answers are counted for your ward and organisation."
            ),
            "closes": _("Answer by %(time)s", time=format_local(questionnaire.closes_at))
            if questionnaire.closes_at
            else "",
        }
    return render_template(
        "network/posters.html", questionnaire=questionnaire, posters=items, poster_text=text
    )
