"""Accounts: login and logout, each user's own password, the admin's account and audit screens."""

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from peewee import JOIN, IntegrityError
from playhouse.flask_utils import get_object_or_404, object_list

from survey.auth import audit as audit_words
from survey.auth import bp
from survey.auth.forms import (
    LoginForm,
    NewUserForm,
    PasswordChangeForm,
    PasswordResetForm,
    UserForm,
)
from survey.db import database
from survey.i18n import gettext as _
from survey.models import AuditEvent, Organisation, User
from survey.params import page_number
from survey.security import (
    ADMIN,
    PUBLIC,
    VIEWER,
    access,
    check_password,
    end_sessions,
    hash_password,
    limiter,
    login_account_key,
    login_account_limit,
    login_failed,
    login_limit,
    renew_form_token,
    safe_next,
)


def authenticate(username, password):
    """Return the active user with these credentials, or None."""
    user = User.named(username)  # any case: DOAN_Q10 logs in as doan_q10
    if not check_password(user, password) or not user.active:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@access(PUBLIC)
@limiter.limit(login_limit, methods=["POST"])
@limiter.limit(
    login_account_limit,
    key_func=login_account_key,
    methods=["POST"],
    deduct_when=login_failed,
    scope="login-account",
)
def login():
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("questionnaires.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            # A new form secret at login: one planted in the session before it stops working.
            renew_form_token()
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME, not never
            login_user(user)
            AuditEvent.record(user, "user.login", user.username)
            return redirect(safe_next(request.args.get("next")) or url_for("questionnaires.index"))
        AuditEvent.record(None, "user.login_failed", form.username.data)
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", form=form), 401
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@access(PUBLIC)
def logout():
    """Log the user out."""
    if current_user.is_authenticated:
        AuditEvent.record(current_user, "user.logout", current_user.username)
        end_sessions(current_user)  # every copy of this session's cookie ends here too
    logout_user()
    renew_form_token()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@access(VIEWER)
def change_password():
    """Let the logged-in user change their own password."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = User.get_by_id(current_user.id)
        user.password_hash = hash_password(form.password.data)
        with database.atomic():
            user.save(only=[User.password_hash])
            end_sessions(user)
            AuditEvent.record(user, "user.password_change", user.username)
        login_user(user)  # this session goes on under the new version; every other one ends
        flash(_("Your password has been changed."))
        return redirect(url_for("questionnaires.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status


@bp.route("/admin/users")
@access(ADMIN)
def users():
    """List every account."""
    query = (
        User.select(User, Organisation)
        .join(Organisation, on=(User.organisation == Organisation.id), join_type=JOIN.LEFT_OUTER)
        .order_by(User.username)
    )
    return object_list(
        "auth/users.html", query, context_variable="users", paginate_by=50, page=page_number()
    )


def _organisation_id(code):
    """Return the id of the organisation with this code, or None for ''."""
    return Organisation.get(Organisation.code == code).id if code else None


@bp.route("/admin/users/new", methods=["GET", "POST"])
@access(ADMIN)
def create_user():
    """Create an account."""
    form = NewUserForm(organisations=Organisation.ordered())
    if form.validate_on_submit():
        user = None
        if not User.name_taken(form.username.data):
            try:
                with database.atomic():
                    user = User.create(
                        username=form.username.data,
                        role=form.role.data,
                        organisation=_organisation_id(form.organisation.data),
                        active=form.active.data,
                        password_hash=hash_password(form.password.data),
                    )
                    AuditEvent.record(current_user, "user.create", user.username, user.role)
            except IntegrityError:  # the same name, in any case, saved meanwhile (0013's index)
                user = None
        if user is None:
            form.username.errors.append(_("This username is already taken."))
        else:
            flash(_("Account %(name)s created.", name=user.username))
            return redirect(url_for("auth.users"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/user_form.html", form=form, user=None), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@access(ADMIN)
def edit_user(user_id):
    """Change an account's name, role, organisation or active flag."""
    user = get_object_or_404(User, User.id == user_id)
    form = UserForm(obj=user, organisations=Organisation.ordered())
    if request.method == "GET":
        form.organisation.data = user.organisation.code if user.organisation_id else ""
    if form.validate_on_submit():
        if User.name_taken(form.username.data, other_than=user.id):
            form.username.errors.append(_("This username is already taken."))
        elif user.id == current_user.id and (form.role.data != "admin" or not form.active.data):
            form.role.errors.append(_("You cannot remove your own admin rights."))
        else:
            user.username, user.role, user.active = (
                form.username.data,
                form.role.data,
                form.active.data,
            )
            user.organisation = _organisation_id(form.organisation.data)
            with database.atomic():
                user.save()
                if not user.active:
                    end_sessions(user)  # reactivating it later revives none of them
                AuditEvent.record(
                    current_user,
                    "user.update",
                    user.username,
                    f"role={user.role} active={user.active}",
                )
            flash(_("Account %(name)s saved.", name=user.username))
            return redirect(url_for("auth.users"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "auth/user_form.html", form=form, user=user, reset=PasswordResetForm(formdata=None)
    ), status


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
@access(ADMIN)
def reset_password(user_id):
    """Set a new password for an account."""
    user = get_object_or_404(User, User.id == user_id)
    form = PasswordResetForm(account_name=user.username)
    if not form.validate_on_submit():
        flash(
            " ".join(map(str, form.password.errors)) or _("The password was not changed."), "error"
        )
        return redirect(url_for("auth.edit_user", user_id=user.id), 303)
    user.password_hash = hash_password(form.password.data)
    with database.atomic():
        user.save(only=[User.password_hash])
        end_sessions(user)
        AuditEvent.record(current_user, "user.password_reset", user.username)
    if user.id == current_user.id:
        login_user(user)  # an admin resetting their own password keeps this one session
    flash(_("The password of %(name)s has been reset.", name=user.username))
    return redirect(url_for("auth.users"))


@bp.route("/admin/audit")
@access(ADMIN)
def audit():
    """Show who did what and when, newest first."""
    query = (
        AuditEvent.select(AuditEvent, User)
        .join(User, on=(AuditEvent.user == User.id), join_type=JOIN.LEFT_OUTER)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    action = request.args.get("action", "").strip()[:60]
    if action:
        query = query.where(AuditEvent.action == action)
    return object_list(
        "auth/audit.html",
        query,
        context_variable="events",
        paginate_by=100,
        page=page_number(),
        check_bounds=False,
        action=action,
        entries=audit_words.entries,
        actions=audit_words.action_choices(),
    )
