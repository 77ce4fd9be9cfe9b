"""Coordinators' roster screens, within their organisation: list, add, edit, links, QR, export."""

import itertools
import os
import tempfile
from urllib.parse import urlencode

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup

from survey.db import database
from survey.downloads import download, primed
from survey.errors import render_error
from survey.i18n import gettext as _
from survey.models import AuditEvent, Collaborator, Organisation, Ward, utcnow
from survey.network import (
    PER_PAGE,
    bp,
    collaborator_or_404,
    current_filters,
    filter_form,
    filtered_collaborators,
    private,
    qrcodes,
    roster,
    scoped_organisations,
    wanted_active,
)
from survey.network.forms import CollaboratorForm
from survey.params import paginated
from survey.respond.links import personal_link
from survey.security import COORDINATOR, access
from survey.tallies.exports import XLSX_TYPE, Sheet, write_xlsx


@bp.route("/network/collaborators")
@access(COORDINATOR)
def collaborators():
    """List the collaborators in scope, searchable by name or phone, filtered, a page at a time."""
    form = filter_form()
    if not form.validate():
        return render_template(
            "network/collaborators.html", form=form, people=[], pagination=None, filters={}
        ), 400
    pages = paginated(filtered_collaborators(form), PER_PAGE)
    if pages.get_page() > max(1, pages.get_page_count()):
        abort(404)
    page = render_template(
        "network/collaborators.html",
        form=form,
        pagination=pages,
        people=pages.get_object_list(),
        filters=current_filters(),
        link_of=personal_link,
    )
    return private(Response(page))  # its copy buttons carry personal links


def collaborator_form(person=None):
    """Return the add/edit form offering the organisations in scope and the active wards."""
    wards, organisations = list(Ward.ordered()), list(scoped_organisations())
    if person is not None:
        # Keep a deactivated ward or organisation selectable for who is still in it.
        wards += [person.ward] if person.ward not in wards else []
        organisations += [person.organisation] if person.organisation not in organisations else []
    form = CollaboratorForm(obj=person, organisations=organisations, wards=wards)
    if person is not None and request.method == "GET":
        form.organisation.data, form.ward.data = person.organisation.code, person.ward.code
    return form


def check_phone(form, person=None):
    """Normalise the form's phone number; add an error when malformed or someone else's."""
    raw = (form.phone.data or "").strip()
    if not raw:
        return None
    phone = roster.normalise_phone(raw)
    if phone is None:
        form.phone.errors.append(_("Use 8 to 15 digits, optionally starting with +."))
        return None
    # Checked within the chosen organisation only: a number of another organisation is
    # neither refused nor named, so the check tells no coordinator about other rosters.
    taken = (
        Collaborator.select()
        .join(Organisation)
        .where(Collaborator.phone == phone, Organisation.code == form.organisation.data)
    )
    if person is not None:
        taken = taken.where(Collaborator.id != person.id)
    if taken.exists():
        form.phone.errors.append(_("This phone number already belongs to a collaborator."))
    return phone


def fill(person, form, phone):
    """Copy a validated form onto a collaborator."""
    person.name = form.name.data.strip()
    person.phone = phone
    person.organisation = Organisation.get(Organisation.code == form.organisation.data)
    person.ward = Ward.get(Ward.code == form.ward.data)


@bp.route("/network/collaborators/new", methods=["GET", "POST"])
@access(COORDINATOR)
def collaborator_create():
    """Add a collaborator (to the coordinator's own organisation when they have one)."""
    form = collaborator_form()
    if form.validate_on_submit():
        phone = check_phone(form)
        if not form.phone.errors:
            person = Collaborator()
            fill(person, form, phone)
            with database.atomic():
                person.save()
                AuditEvent.record(
                    current_user, "collaborator.create", f"#{person.id} {person.name}"
                )
            flash(_("Added %(name)s.", name=person.name), "success")
            return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))
    status = 422 if form.errors else 200
    return render_template("network/collaborator_form.html", form=form, person=None), status


@bp.route("/network/collaborators/<int:collaborator_id>", methods=["GET", "POST"])
@access(COORDINATOR)
def collaborator_edit(collaborator_id):
    """Show a collaborator's personal link and QR code, and edit their details."""
    person = collaborator_or_404(collaborator_id)
    form = collaborator_form(person)
    if form.validate_on_submit():
        phone = check_phone(form, person)
        if not form.phone.errors:
            fill(person, form, phone)
            with database.atomic():
                person.save()
                AuditEvent.record(
                    current_user, "collaborator.update", f"#{person.id} {person.name}"
                )
            flash(_("Saved."), "success")
            return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))
    status = 422 if form.errors else 200
    page = render_template(
        "network/collaborator_form.html",
        form=form,
        person=person,
        link=personal_link(person),
        qr=Markup(qrcodes.svg(personal_link(person))),
    )
    return private(Response(page, status))


def confirmation_page(person, action):
    """Return the page asking to confirm a change to a collaborator's link, or None if confirmed."""
    if request.form.get("confirm") == "1":
        return None
    return render_template(
        "network/collaborator_confirm.html",
        person=person,
        action=action,
        grace_days=current_app.config["TOKEN_GRACE_DAYS"],
    )


def grace_note():
    """Return the audit detail saying how long answers kept under the old link are taken."""
    return f"grace_days={current_app.config['TOKEN_GRACE_DAYS']}"


@bp.route("/network/collaborators/<int:collaborator_id>/active", methods=["POST"])
@access(COORDINATOR)
def collaborator_set_active(collaborator_id):
    """Deactivate (once confirmed) or reactivate a collaborator; a deactivated one's link dies."""
    person = collaborator_or_404(collaborator_id)
    active = wanted_active()
    if not active and person.active and (asking := confirmation_page(person, "deactivate")):
        return asking
    person.active = active
    with database.atomic():
        person.save(only=[Collaborator.active])
        if person.active:
            person.revive_token()
        else:
            person.retire_token()
        AuditEvent.record(
            current_user,
            "collaborator." + ("reactivate" if person.active else "deactivate"),
            f"#{person.id} {person.name}",
            "" if person.active else grace_note(),
        )
    flash(
        _("Reactivated %(name)s.", name=person.name)
        if person.active
        else _("Deactivated %(name)s.", name=person.name),
        "success",
    )
    return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))


@bp.route("/network/collaborators/<int:collaborator_id>/rotate", methods=["POST"])
@access(COORDINATOR)
def collaborator_rotate(collaborator_id):
    """Give a collaborator a new personal link (once confirmed); the old card stops at once."""
    person = collaborator_or_404(collaborator_id)
    if asking := confirmation_page(person, "rotate"):
        return asking
    with database.atomic():
        person.rotate_token()
        AuditEvent.record(
            current_user, "collaborator.rotate", f"#{person.id} {person.name}", grace_note()
        )
    flash(
        _(
            "New link made for %(name)s. Print a new card: the old one no longer works.",
            name=person.name,
        ),
        "success",
    )
    return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))


@bp.route("/network/collaborators/<int:collaborator_id>/qr.svg")
@access(COORDINATOR)
def collaborator_qr_svg(collaborator_id):
    """Return the QR code of a collaborator's personal link as SVG."""
    person = collaborator_or_404(collaborator_id)
    return private(Response(qrcodes.svg(personal_link(person)), mimetype="image/svg+xml"))


@bp.route("/network/collaborators/<int:collaborator_id>/qr.png")
@access(COORDINATOR)
def collaborator_qr_png(collaborator_id):
    """Return the QR code of a collaborator's personal link as PNG."""
    person = collaborator_or_404(collaborator_id)
    return private(Response(qrcodes.png(personal_link(person)), mimetype="image/png"))


@bp.route("/network/collaborators/export.csv")
@access(COORDINATOR)
def collaborators_export():
    """Download the listed collaborators as CSV (UTF-8 with BOM) with their personal links."""
    form = filter_form()
    if not form.validate():
        return render_error(
            400, " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
    rows = primed(roster.export_rows(filtered_collaborators(form), labelled=True))
    return download(
        roster.export_chunks(rows),
        "text/csv",
        f"collaborators-{utcnow():%Y%m%d}.csv",
        "collaborator.export",
        urlencode(current_filters())[:300],
        cache="private, no-store",
    )


def _workbook(sheets):
    """Write sheets to a temporary XLSX file; return a generator of its bytes that deletes it."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write_xlsx(path, sheets)
    except BaseException:
        os.unlink(path)
        raise

    def chunks():
        """Yield the file in blocks, then delete it."""
        try:
            with open(path, "rb") as source:
                while block := source.read(64 * 1024):
                    yield block
        finally:
            os.unlink(path)

    return chunks()


@bp.route("/network/collaborators/export.xlsx")
@access(COORDINATOR)
def collaborators_export_xlsx():
    """Download the listed collaborators as an XLSX workbook, phone numbers as text."""
    form = filter_form()
    if not form.validate():
        return render_error(
            400, " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
    rows = roster.export_rows(filtered_collaborators(form), labelled=True)
    chunks = _workbook([Sheet(_("Collaborators"), rows, text_columns=(1,))])
    return download(
        chunks,
        XLSX_TYPE,
        f"collaborators-{utcnow():%Y%m%d}.xlsx",
        "collaborator.export",
        urlencode(current_filters())[:300],
        cache="private, no-store",
    )


def _groups_sheet():
    """Return the sheet listing the ward and organisation names a roster line may use."""
    wards = [[w.name, w.code] for w in Ward.ordered()]
    organisations = [[o.name, o.code] for o in scoped_organisations()]
    rows = [[_("Ward"), _("Code"), "", _("Organisation"), _("Code")]]
    for ward, org in itertools.zip_longest(wards, organisations, fillvalue=["", ""]):
        rows.append(ward + [""] + org)
    return Sheet(_("Wards and organisations"), rows)


@bp.route("/network/collaborators/template.<any(csv, xlsx):ending>")
@access(COORDINATOR)
def roster_template(ending):
    """Download an empty roster to fill in: the header, and in XLSX the names to choose from."""
    header = roster.labelled_header(link=False)
    name = _("roster-template")
    if ending == "csv":
        body = b"".join(roster.export_chunks([header]))
        response = Response(body, mimetype="text/csv")
    else:
        sheets = [Sheet(_("Collaborators"), [header], text_columns=(1,)), _groups_sheet()]
        response = Response(_workbook(sheets), mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{ending}"'
    return response
