"""The admin screen of API tokens: make one (its secret shown once) or revoke one."""

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404

from survey.api import bp
from survey.api.forms import ApiTokenForm, ApiTokenRevokeForm
from survey.db import database
from survey.errors import render_error
from survey.i18n import gettext as _
from survey.models import ApiToken, AuditEvent, User
from survey.security import ADMIN, access, hash_api_token


def _token_form():
    """Return the new-token form, offering every active account."""
    return ApiTokenForm(users=User.select().where(User.active).order_by(User.username))


@bp.route("/admin/api-tokens", methods=["GET", "POST"])
@access(ADMIN)
def tokens():
    """List API tokens and create one; the secret is shown once and only its hash is kept."""
    form = _token_form()
    secret = None
    if form.validate_on_submit():
        secret = secrets.token_urlsafe(32)
        with database.atomic():
            token = ApiToken.create(
                user=form.user.data, name=form.name.data.strip(), token_hash=hash_api_token(secret)
            )
            AuditEvent.record(
                current_user, "api_token.create", token.name, f"user={form.user.data}"
            )
        form = _token_form()
        form.name.data = ""
    status = 422 if request.method == "POST" and secret is None else 200
    rows = (
        ApiToken.select(ApiToken, User)
        .join(User)
        .order_by(ApiToken.active.desc(), ApiToken.created_at.desc())
    )
    return render_template(
        "api/tokens.html", form=form, secret=secret, tokens=rows, revoke_form=ApiTokenRevokeForm()
    ), status


@bp.route("/admin/api-tokens/<int:token_id>/revoke", methods=["POST"])
@access(ADMIN)
def revoke(token_id):
    """Revoke an API token: it stops working at once."""
    token = get_object_or_404(ApiToken, ApiToken.id == token_id)
    if not ApiTokenRevokeForm().validate_on_submit():
        return render_error(400)
    with database.atomic():
        ApiToken.update(active=False).where(ApiToken.id == token.id).execute()
        AuditEvent.record(current_user, "api_token.revoke", token.name)
    flash(_("The token “%(name)s” is revoked.", name=token.name))
    return redirect(url_for("api.tokens"))
