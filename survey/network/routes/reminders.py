"""The reminder screen: who has not answered, with call, SMS, Zalo links and a CSV for senders."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from survey.db import database
from survey.downloads import download, primed
from survey.i18n import gettext as _
from survey.models import utcnow
from survey.network import bp, private, reminders
from survey.network.roster import export_chunks
from survey.security import COORDINATOR, access, organisation_scope, questionnaire_or_404


@bp.route("/network/reminders/<slug>")
@access(COORDINATOR)
def reminders_page(slug):
    """List the collaborators in scope who have not answered, grouped by ward and organisation."""
    questionnaire = questionnaire_or_404(slug)
    people = reminders.waiting(questionnaire, organisation_scope())
    sent = reminders.last_sent(questionnaire)
    entries = [reminders.entry(questionnaire, person, sent) for person in people]
    return private(
        make_response(
            render_template(
                "network/reminders.html",
                questionnaire=questionnaire,
                groups=reminders.grouped(entries),
                count=len(entries),
                ids=",".join(str(person.id) for person in people),
            )
        )
    )


def _csv_rows(questionnaire, people):
    """Yield the reminder CSV's header, then name, phone, link and message per collaborator."""
    yield [_("Full name"), _("Phone"), _("Link"), _("Message")]
    for person in people:
        item = reminders.entry(questionnaire, person)
        yield [person.name, person.phone or "", item["link"], item["message"]]


@bp.route("/network/reminders/<slug>.csv")
@access(COORDINATOR)
def reminders_csv(slug):
    """Download the reminder list as CSV (UTF-8 with BOM) for a bulk SMS or Zalo sender."""
    questionnaire = questionnaire_or_404(slug)
    people = reminders.waiting(questionnaire, organisation_scope())
    return download(
        export_chunks(primed(_csv_rows(questionnaire, people))),
        "text/csv",
        f"reminders-{questionnaire.slug}-{utcnow():%Y%m%d}.csv",
        reminders.EXPORTED,
        f"{reminders.target(questionnaire)} n={len(people)}",
        cache="private, no-store",
    )


@bp.route("/network/reminders/<slug>/sent", methods=["POST"])
@access(COORDINATOR)
def reminders_sent(slug):
    """Record, audited, that reminders went to the listed collaborators still not answering."""
    questionnaire = questionnaire_or_404(slug)
    asked = reminders.parse_ids(request.form.get("ids"))
    if asked is None:
        abort(400)
    # Only who is still listed for this user: another organisation's ids are dropped unsaid.
    people = [p for p in reminders.waiting(questionnaire, organisation_scope()) if p.id in asked]
    if people:
        with database.atomic():
            reminders.mark_sent(current_user, questionnaire, people)
        flash(_("Reminders marked as sent: %(num)d.", num=len(people)), "success")
    else:
        flash(_("Nobody listed is still waiting: nothing marked."), "info")
    return redirect(url_for("network.reminders_page", slug=questionnaire.slug))
