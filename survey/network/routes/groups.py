"""Wards and organisations, managed by admins: list, add, rename, deactivate, reactivate."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404

from survey.db import database
from survey.i18n import gettext as _
from survey.models import AuditEvent
from survey.network import GROUP_KINDS, bp, wanted_active
from survey.network.forms import GroupForm, GroupRenameForm, OrganisationEditForm
from survey.security import ADMIN, access


def group_title(kind):
    """Return the translated heading of a kind of group."""
    return _("Wards") if kind == "wards" else _("Organisations")


@bp.route("/network/<any(wards, organisations):kind>")
@access(ADMIN)
def groups(kind, form=None, status=200):
    """List the wards or organisations, active first, with a form to add one."""
    model = GROUP_KINDS[kind]
    rows = model.select().order_by(model.active.desc(), model.code)
    return render_template(
        "network/groups.html",
        kind=kind,
        title=group_title(kind),
        rows=rows,
        form=form or GroupForm(),
    ), status


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
                AuditEvent.record(
                    current_user, f"{model._meta.table_name}.create", code, form.name.data.strip()
                )
            flash(_("Added %(code)s.", code=code), "success")
            return redirect(url_for("network.groups", kind=kind))
    return groups(kind, form, 422)


@bp.route(
    "/network/<any(wards, organisations):kind>/<int:group_id>/rename", methods=["GET", "POST"]
)
@access(ADMIN)
def group_rename(kind, group_id):
    """Give a ward or organisation a new name (its code, used in files and posters, stays)."""
    model = GROUP_KINDS[kind]
    group = get_object_or_404(model.select(), model.id == group_id)
    form = (OrganisationEditForm if kind == "organisations" else GroupRenameForm)(obj=group)
    if form.validate_on_submit():
        old, group.name = group.name, form.name.data.strip()
        with database.atomic():
            group.save(only=[model.name])
            if old != group.name:
                AuditEvent.record(
                    current_user,
                    f"{model._meta.table_name}.rename",
                    group.code,
                    f"{old} → {group.name}",
                )
            if "contact" in form and form.contact.data != group.contact:
                old_contact, group.contact = group.contact, form.contact.data
                group.save(only=[model.contact])
                AuditEvent.record(
                    current_user,
                    "organisation.contact",
                    group.code,
                    f"{old_contact} → {group.contact}",
                )
        flash(_("Saved %(code)s.", code=group.code), "success")
        return redirect(url_for("network.groups", kind=kind))
    status = 422 if form.errors else 200
    return render_template(
        "network/group_rename.html", kind=kind, title=group_title(kind), group=group, form=form
    ), status


@bp.route("/network/<any(wards, organisations):kind>/<int:group_id>/active", methods=["POST"])
@access(ADMIN)
def group_set_active(kind, group_id):
    """Deactivate or reactivate a ward or organisation; nothing with history is deleted."""
    model = GROUP_KINDS[kind]
    group = get_object_or_404(model.select(), model.id == group_id)
    group.active = wanted_active()
    with database.atomic():
        group.save(only=[model.active])
        AuditEvent.record(
            current_user,
            f"{model._meta.table_name}.{'reactivate' if group.active else 'deactivate'}",
            group.code,
        )
    flash(
        _("Reactivated %(code)s.", code=group.code)
        if group.active
        else _("Deactivated %(code)s.", code=group.code),
        "success",
    )
    return redirect(url_for("network.groups", kind=kind))
