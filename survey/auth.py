"""Coordinator login and logout."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from survey.forms import LoginForm
from survey.i18n import gettext as _
from survey.models import AuditEvent, User
from survey.security import PUBLIC, access, limiter, login_limit, safe_next

bp = Blueprint("auth", __name__)

# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password):
    """Return the Werkzeug (scrypt) hash of a password."""
    return generate_password_hash(password)


def authenticate(username, password):
    """Return the active user with these credentials, or None."""
    user = User.get_or_none(User.username == username)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@access(PUBLIC)
@limiter.limit(login_limit, methods=["POST"])
def login():
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("questionnaires.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            AuditEvent.record(user, "login", user.username)
            return redirect(safe_next(request.args.get("next")) or url_for("questionnaires.index"))
        AuditEvent.record(None, "login_failed", form.username.data)
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@access(PUBLIC)
def logout():
    """Log the user out."""
    if current_user.is_authenticated:
        AuditEvent.record(current_user, "logout", current_user.username)
    logout_user()
    return redirect(url_for("auth.login"))
