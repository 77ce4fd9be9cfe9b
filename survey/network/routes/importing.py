"""Roster import from a CSV or XLSX upload: a dry check, then a confirmation (all or none)."""

import secrets
import time
from pathlib import Path

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from survey.errors import render_error
from survey.i18n import gettext as _
from survey.models import AuditEvent
from survey.network import UPLOAD_LIFETIME, bp, roster
from survey.network.forms import RosterConfirmForm, RosterUploadForm
from survey.security import COORDINATOR, access, in_scope


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
    for path in upload_folder().iterdir():  # .csv waiting, or .claimed left by a crash
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass  # another request removed it first


def check_roster(data):
    """Read a roster file, adding a problem for each row outside the user's organisation."""
    preview = roster.read(data)
    for row in preview.rows:
        if not in_scope(row.organisation.id):
            preview.problems.append(
                (
                    row.line,
                    _(
                        "You may only add collaborators of your own organisation, not %(code)s.",
                        code=row.organisation.code,
                    ),
                )
            )
    preview.problems.sort(key=lambda problem: problem[0])
    return preview


def render_preview(preview, upload_id=None, status=200):
    """Show a checked roster: its problems by line, or its rows with a confirmation button."""
    confirm = (
        RosterConfirmForm(formdata=None, upload=upload_id, plan=preview.plan())
        if upload_id
        else None
    )
    return render_template(
        "network/roster_preview.html",
        preview=preview,
        confirm=confirm,
        upload_form=RosterUploadForm(),
    ), status


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
        return render_error(
            400, _("This upload is unknown or has expired. Please upload the file again.")
        )
    claimed = upload_path(form.upload.data).with_suffix(".claimed")
    try:
        # Renaming claims the file, so a double click cannot import it twice.
        upload_path(form.upload.data).rename(claimed)
    except FileNotFoundError:
        return render_error(
            400, _("This upload is unknown or has expired. Please upload the file again.")
        )
    try:
        preview = check_roster(claimed.read_bytes())
        if not preview.ok:
            return render_preview(preview, status=422)
        if form.plan.data and preview.plan() != form.plan.data:
            # The roster changed since the check: show what the import would now do.
            flash(_("The roster changed since the check. Look at it again, then confirm."), "error")
            upload_id = secrets.token_urlsafe(18)
            upload_path(upload_id).write_bytes(claimed.read_bytes())
            return render_preview(preview, upload_id, status=409)
        added, changed = len(preview.of("add")), len(preview.of("change"))
        roster.import_preview(preview)
    finally:
        claimed.unlink(missing_ok=True)
    AuditEvent.record(current_user, "collaborator.import", f"{added} added, {changed} updated")
    flash(
        _(
            "Import done: %(added)s collaborators added, %(changed)s updated.",
            added=added,
            changed=changed,
        ),
        "success",
    )
    return redirect(url_for("network.collaborators"))
