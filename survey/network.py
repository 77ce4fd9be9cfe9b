"""The collaborator network: wards and organisations, the roster, QR cards and posters, response rates."""
import re
import secrets
import time
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_login import current_user
from markupsafe import Markup
from playhouse.flask_utils import PaginatedQuery, get_object_or_404

from survey import qrcodes, rates, roster
from survey.db import database
from survey.errors import render_error
from survey.forms import (
    CollaboratorForm,
    GroupForm,
    GroupRenameForm,
    NetworkFilterForm,
    RosterConfirmForm,
    RosterUploadForm,
)
from survey.i18n import gettext as _
from survey.links import open_link, personal_link
from survey.models import AuditEvent, Collaborator, Organisation, Questionnaire, Ward, utcnow
from survey.security import ADMIN, COORDINATOR, VIEWER, access, in_scope, organisation_scope, scoped

bp = Blueprint("network", __name__)

GROUP_KINDS = {"wards": Ward, "organisations": Organisation}
PER_PAGE = 50
UPLOAD_LIFETIME = 3600  # seconds a checked roster file waits for its confirmation


def group_title(kind):
    """Return the translated heading of a kind of group."""
    return _("Wards") if kind == "wards" else _("Organisations")


# --- Wards and organisations (admins) -------------------------------------------------

@bp.route("/network/<any(wards, organisations):kind>")
@access(ADMIN)
def groups(kind, form=None, status=200):
    """List the wards or organisations, active first, with a form to add one."""
    model = GROUP_KINDS[kind]
    rows = model.select().order_by(model.active.desc(), model.code)
    return render_template("network/groups.html", kind=kind, title=group_title(kind), rows=rows,
                           form=form or GroupForm()), status


@bp.route("/network/<any(wards, organisations):kind>/new", methods=["POST"])
@access(ADMIN)
def group_create(kind):
    """Add a ward or organisation with a code no other one has."""
    model, form = GROUP_KINDS[kind], GroupForm()
    if form.validate_on_submit():
        code = form.code.data.strip()
        if model.select().where(model.code == code).exists():
            form.code.errors.append(_("This code is already taken."))
        else:
            with database.atomic():
                model.create(code=code, name=form.name.data.strip())
                AuditEvent.record(current_user, f"{kind}.create", code, form.name.data.strip())
            flash(_("Added %(code)s.", code=code), "success")
            return redirect(url_for("network.groups", kind=kind))
    return groups(kind, form, 422)


@bp.route("/network/<any(wards, organisations):kind>/<int:group_id>/rename",
          methods=["GET", "POST"])
@access(ADMIN)
def group_rename(kind, group_id):
    """Give a ward or organisation a new name (its code, used in files and posters, stays)."""
    model = GROUP_KINDS[kind]
    group = get_object_or_404(model.select(), model.id == group_id)
    form = GroupRenameForm(obj=group)
    if form.validate_on_submit():
        old, group.name = group.name, form.name.data.strip()
        with database.atomic():
            group.save(only=[model.name])
            AuditEvent.record(current_user, f"{kind}.rename", group.code, f"{old} → {group.name}")
        flash(_("Renamed %(code)s.", code=group.code), "success")
        return redirect(url_for("network.groups", kind=kind))
    status = 422 if form.errors else 200
    return render_template("network/group_rename.html", kind=kind, title=group_title(kind),
                           group=group, form=form), status


@bp.route("/network/<any(wards, organisations):kind>/<int:group_id>/active", methods=["POST"])
@access(ADMIN)
def group_set_active(kind, group_id):
    """Deactivate or reactivate a ward or organisation; nothing with history is deleted."""
    model = GROUP_KINDS[kind]
    group = get_object_or_404(model.select(), model.id == group_id)
    group.active = _wanted_active()
    with database.atomic():
        group.save(only=[model.active])
        AuditEvent.record(current_user, f"{kind}.{'reactivate' if group.active else 'deactivate'}",
                          group.code)
    flash(_("Reactivated %(code)s.", code=group.code) if group.active
          else _("Deactivated %(code)s.", code=group.code), "success")
    return redirect(url_for("network.groups", kind=kind))


def _wanted_active():
    """Read the posted active=1|0, refusing anything else with 400."""
    value = request.form.get("active")
    if value not in ("0", "1"):
        abort(400)
    return value == "1"


# --- Collaborators (coordinators, scoped to their organisation) -----------------------

def scoped_organisations():
    """Return the active organisations the current user may work with."""
    return scoped(Organisation.ordered(), Organisation.id)


def collaborator_or_404(collaborator_id):
    """Return a collaborator in the current user's scope, or answer 404."""
    query = scoped(Collaborator.select(), Collaborator.organisation)
    return get_object_or_404(query, Collaborator.id == collaborator_id)


def filter_form():
    """Return the list/card filter form, read from the query string; another organisation is 403."""
    asked = request.args.get("organisation")
    if asked and organisation_scope() is not None:
        organisation = Organisation.get_or_none(Organisation.code == asked)
        if organisation is not None and not in_scope(organisation.id):
            abort(403)
    return NetworkFilterForm(request.args, organisations=scoped_organisations(),
                             wards=Ward.ordered())


def filtered_collaborators(form):
    """Return the collaborators in scope matching a validated filter form, with ward and organisation."""
    query = (Collaborator.select(Collaborator, Ward, Organisation)
             .join_from(Collaborator, Ward).join_from(Collaborator, Organisation))
    query = scoped(query, Collaborator.organisation)
    if form.ward.data:
        query = query.where(Ward.code == form.ward.data)
    if form.organisation.data:
        query = query.where(Organisation.code == form.organisation.data)
    if form.status.data in ("active", "inactive"):
        query = query.where(Collaborator.active == (form.status.data == "active"))
    text = (form.q.data or "").strip()
    if text:
        digits = re.sub(r"\D", "", text)
        match = Collaborator.name.contains(text)
        if digits:
            match |= Collaborator.phone.contains(digits)
        query = query.where(match)
    return query.order_by(Ward.code, Organisation.code, Collaborator.name, Collaborator.id)


def current_filters():
    """Return the query-string filters without the page number, for paging and export links."""
    return {key: value for key, value in request.args.items() if key != "page"}


@bp.route("/network/collaborators")
@access(COORDINATOR)
def collaborators():
    """List the collaborators in scope, searchable by name or phone, filtered, a page at a time."""
    form = filter_form()
    if not form.validate():
        return render_template("network/collaborators.html", form=form, people=[],
                               pagination=None, filters={}), 400
    pages = PaginatedQuery(filtered_collaborators(form), paginate_by=PER_PAGE)
    if pages.get_page() > max(1, pages.get_page_count()):
        abort(404)
    return render_template("network/collaborators.html", form=form, pagination=pages,
                           people=pages.get_object_list(), filters=current_filters())


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
    taken = Collaborator.select().where(Collaborator.phone == phone)
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
                AuditEvent.record(current_user, "collaborator.create", f"#{person.id} {person.name}")
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
                AuditEvent.record(current_user, "collaborator.update", f"#{person.id} {person.name}")
            flash(_("Saved."), "success")
            return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))
    status = 422 if form.errors else 200
    return render_template("network/collaborator_form.html", form=form, person=person,
                           link=personal_link(person), qr=Markup(qrcodes.svg(personal_link(person)))
                           ), status


@bp.route("/network/collaborators/<int:collaborator_id>/active", methods=["POST"])
@access(COORDINATOR)
def collaborator_set_active(collaborator_id):
    """Deactivate or reactivate a collaborator; a deactivated one's link stops working."""
    person = collaborator_or_404(collaborator_id)
    person.active = _wanted_active()
    with database.atomic():
        person.save(only=[Collaborator.active])
        AuditEvent.record(current_user, "collaborator." + (
            "reactivate" if person.active else "deactivate"), f"#{person.id} {person.name}")
    flash(_("Reactivated %(name)s.", name=person.name) if person.active
          else _("Deactivated %(name)s.", name=person.name), "success")
    return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))


@bp.route("/network/collaborators/<int:collaborator_id>/rotate", methods=["POST"])
@access(COORDINATOR)
def collaborator_rotate(collaborator_id):
    """Give a collaborator a new personal link; the old link and card stop working at once."""
    person = collaborator_or_404(collaborator_id)
    with database.atomic():
        person.rotate_token()
        AuditEvent.record(current_user, "collaborator.rotate", f"#{person.id} {person.name}")
    flash(_("New link made for %(name)s. Print a new card: the old one no longer works.",
            name=person.name), "success")
    return redirect(url_for("network.collaborator_edit", collaborator_id=person.id))


def _private(response):
    """Mark an answer that carries personal links as never to be stored by any cache."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/network/collaborators/<int:collaborator_id>/qr.svg")
@access(COORDINATOR)
def collaborator_qr_svg(collaborator_id):
    """Return the QR code of a collaborator's personal link as SVG."""
    person = collaborator_or_404(collaborator_id)
    return _private(Response(qrcodes.svg(personal_link(person)), mimetype="image/svg+xml"))


@bp.route("/network/collaborators/<int:collaborator_id>/qr.png")
@access(COORDINATOR)
def collaborator_qr_png(collaborator_id):
    """Return the QR code of a collaborator's personal link as PNG."""
    person = collaborator_or_404(collaborator_id)
    return _private(Response(qrcodes.png(personal_link(person)), mimetype="image/png"))


@bp.route("/network/collaborators/export.csv")
@access(COORDINATOR)
def collaborators_export():
    """Download the listed collaborators as CSV (UTF-8 with BOM) with their personal links."""
    form = filter_form()
    if not form.validate():
        return render_error(400, " ".join(e for errors in form.errors.values() for e in errors))
    AuditEvent.record(current_user, "collaborator.export", request.query_string.decode()[:300])
    name = f"collaborators-{utcnow():%Y%m%d}.csv"
    return _private(Response(roster.export_bytes(filtered_collaborators(form)),
                             mimetype="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'}))


# --- Roster import: check, then confirm (all rows or none) -----------------------------

def upload_folder():
    """Return the instance sub-folder where checked roster files wait for confirmation."""
    folder = Path(current_app.instance_path) / "roster-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_path(upload_id):
    """Return the file of an upload id; the user's id in its name keeps it theirs alone."""
    return upload_folder() / f"{current_user.id}-{upload_id}.csv"


def forget_stale_uploads():
    """Remove checked files nobody confirmed within the allowed time."""
    limit = time.time() - UPLOAD_LIFETIME
    for path in upload_folder().glob("*.csv"):
        if path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)


def check_roster(data):
    """Read a roster file, adding a problem for each row outside the user's organisation."""
    preview = roster.read(data)
    for row in preview.rows:
        if not in_scope(row.organisation.id):
            preview.problems.append((row.line, _(
                "You may only add collaborators of your own organisation, not %(code)s.",
                code=row.organisation.code)))
    preview.problems.sort(key=lambda problem: problem[0])
    return preview


def render_preview(preview, upload_id=None, status=200):
    """Show a checked roster: its problems by line, or its rows with a confirmation button."""
    confirm = RosterConfirmForm(upload=upload_id) if upload_id else None
    return render_template("network/roster_preview.html", preview=preview, confirm=confirm,
                           upload_form=RosterUploadForm()), status


@bp.route("/network/collaborators/import", methods=["GET", "POST"])
@access(COORDINATOR)
def roster_upload():
    """Take a roster CSV and show what importing it would do, before anything is written."""
    form = RosterUploadForm()
    if not form.validate_on_submit():
        status = 422 if form.errors else 200
        return render_template("network/roster_upload.html", form=form), status
    data = form.file.data.read()
    preview = check_roster(data)
    if not preview.ok:
        return render_preview(preview, status=422)
    if not preview.rows:
        form.file.errors.append(_("The file has no collaborators in it."))
        return render_template("network/roster_upload.html", form=form), 422
    forget_stale_uploads()
    upload_id = secrets.token_urlsafe(18)
    upload_path(upload_id).write_bytes(data)
    return render_preview(preview, upload_id)


@bp.route("/network/collaborators/import/confirm", methods=["POST"])
@access(COORDINATOR)
def roster_confirm():
    """Import a checked roster file, every row or none, checking it again against today's data."""
    form = RosterConfirmForm()
    if not form.validate_on_submit():
        return render_error(400, _("This upload is unknown or has expired. Please upload the file again."))
    claimed = upload_path(form.upload.data).with_suffix(".claimed")
    try:
        # Renaming claims the file, so a double click cannot import it twice.
        upload_path(form.upload.data).rename(claimed)
    except FileNotFoundError:
        return render_error(400, _("This upload is unknown or has expired. Please upload the file again."))
    try:
        preview = check_roster(claimed.read_bytes())
        if not preview.ok:
            return render_preview(preview, status=422)
        added = roster.import_preview(preview)
    finally:
        claimed.unlink(missing_ok=True)
    AuditEvent.record(current_user, "collaborator.import", f"{added} rows")
    flash(_("Imported %(count)s collaborators.", count=added), "success")
    return redirect(url_for("network.collaborators"))


# --- QR cards and posters --------------------------------------------------------------

@bp.route("/network/cards")
@access(COORDINATOR)
def cards():
    """Show a printable A4 sheet of the active collaborators' personal QR cards."""
    form = filter_form()
    if not form.validate():
        return render_template("network/cards.html", form=form, people=[]), 400
    form.status.data = "active"
    people = [(p, personal_link(p), Markup(qrcodes.svg(personal_link(p))))
              for p in filtered_collaborators(form)]
    with force_locale("vi"):  # collaborators read Vietnamese, whatever the coordinator's language
        card_help = _("Scan this code with your phone's camera to open your questionnaires. "
                      "Keep the card to yourself: it is your personal link.")
    return _private(Response(render_template("network/cards.html", form=form, people=people,
                                             card_help=card_help)))


def poster_groups(questionnaire):
    """Return the ward × organisation pairs a questionnaire is sent to, within the user's scope."""
    wards = list(questionnaire.target_wards()) or list(Ward.ordered())
    organisations = list(questionnaire.target_organisations()) or list(Organisation.ordered())
    return [(ward, organisation) for ward in wards for organisation in organisations
            if organisation.active and ward.active and in_scope(organisation.id)]


@bp.route("/network/posters/<slug>")
@access(COORDINATOR)
def posters(slug):
    """Show a printable poster per targeted ward × organisation, each with its signed open-link QR."""
    questionnaire = get_object_or_404(Questionnaire.select(), Questionnaire.slug == slug)
    items = []
    if questionnaire.open_link:
        for ward, organisation in poster_groups(questionnaire):
            link = open_link(questionnaire, ward, organisation)
            items.append((ward, organisation, link, Markup(qrcodes.svg(link))))
    with force_locale("vi"):  # residents read Vietnamese, whatever the coordinator's language
        text = {"lead": _("Your opinion counts"),
                "help": _("Scan the code with your phone's camera to answer. It takes a few "
                          "minutes; your answers are counted for your ward and organisation.")}
    return render_template("network/posters.html", questionnaire=questionnaire, posters=items,
                           poster_text=text)


# --- Response rates ---------------------------------------------------------------------

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
