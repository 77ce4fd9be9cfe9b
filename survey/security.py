"""Who may do what: the one place that decides access, plus login, limits and security headers."""

import hashlib
from urllib.parse import urlsplit

from flask import abort, current_app, g, jsonify, redirect, request, url_for
from flask_login import current_user
from werkzeug.security import check_password_hash, generate_password_hash

from survey.extensions import csrf, limiter, login_manager
from survey.i18n import lazy_gettext as _l
from survey.models import ApiToken, Questionnaire, User

# Access rules, from the most open to the most closed. Every endpoint declares one.
PUBLIC = "public"  # anyone: login page, health check, static files
PHONE = "phone"  # anyone holding a personal token or an open link; rate limited
VIEWER = "viewer"  # any logged-in account: reads tallies of its scope
COORDINATOR = "coordinator"  # coordinators and admins: change questionnaires and the roster
ADMIN = "admin"  # admins only: accounts, wards, organisations, audit log
RULES = (PUBLIC, PHONE, VIEWER, COORDINATOR, ADMIN)
ROLE_RULES = {
    "viewer": {VIEWER},
    "coordinator": {VIEWER, COORDINATOR},
    "admin": {VIEWER, COORDINATOR, ADMIN},
}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def access(rule):
    """Declare who may use a view; the request hook enforces it before the view runs."""
    if rule not in RULES:
        raise ValueError(f"unknown access rule {rule!r}")

    def declare(view):
        view.access_rule = rule
        return view

    return declare


def rule_of(endpoint):
    """Return the access rule declared for an endpoint, or None when it has none."""
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access_rule", None)


def may(user, rule):
    """Tell whether a user (possibly anonymous) passes an access rule."""
    if rule in (PUBLIC, PHONE):
        return True
    if not user.is_authenticated:
        return False
    return rule in ROLE_RULES.get(user.role, set())


def _wants_json():
    """Tell whether the request is for the JSON API."""
    return request.path.startswith("/api/")


def enforce_access():
    """Refuse the request unless the endpoint's declared rule admits the current user."""
    if request.endpoint is None:
        return None  # no route matched: the 404/405 handlers answer
    rule = rule_of(request.endpoint)
    if rule is None:
        abort(403)  # an undeclared route is closed, never open by accident
    if may(current_user, rule):
        return None
    if not current_user.is_authenticated:
        if _wants_json():
            return jsonify(error="login required"), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


def _has_nul(pairs):
    """Tell whether any key or value holds a NUL byte."""
    return any("\x00" in str(key) or "\x00" in str(value) for key, value in pairs)


def refuse_nul_bytes():
    """Refuse NUL bytes (no database stores one): 404 in the path (no such page), 400 elsewhere."""
    if _has_nul((request.view_args or {}).items()):
        abort(404)
    fields = list(request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields += list(request.form.items(multi=True))
    if _has_nul(fields):
        abort(400)


def organisation_scope():
    """Return the organisation id the current user is limited to, or None for all."""
    if current_user.is_authenticated and current_user.role != "admin":
        return current_user.organisation_id
    return None


def scoped(query, organisation_field):
    """Limit a query to the current user's organisation, when they have one."""
    org = organisation_scope()
    return query if org is None else query.where(organisation_field == org)


def in_scope(organisation_id):
    """Tell whether the current user may see data of this organisation."""
    org = organisation_scope()
    return org is None or org == organisation_id


def questionnaire_or_404(slug):
    """Return the questionnaire with this address, or answer 404."""
    questionnaire = Questionnaire.by_slug(slug)
    if questionnaire is None:
        abort(404)
    return questionnaire


def safe_next(target):
    """Return target if it is a local path on this site, else None (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def hash_password(password):
    """Return the hash of a password with the configured method (Werkzeug's scrypt by default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(user, password):
    """Tell whether the password is the user's; with no user, spend the same time and say no."""
    if user is None:
        # An unknown name costs as long as a wrong password, so names cannot be probed by timing.
        check_password_hash(hash_password("not-a-real-password"), password)
        return False
    return check_password_hash(user.password_hash, password)


def hash_api_token(secret):
    """Return the stored form of an API token (its SHA-256), never the token itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


@login_manager.user_loader
def load_user(user_id):
    """Return the active account with this id, for Flask-Login."""
    if not str(user_id).isdigit():
        return None
    return User.get_or_none((User.id == int(user_id)) & User.active)


@login_manager.request_loader
def load_user_from_api_token(req):
    """Authenticate an API request carrying `Authorization: Bearer <token>`."""
    header = req.headers.get("Authorization", "")
    if not req.path.startswith("/api/") or not header.startswith("Bearer "):
        return None
    token = (
        ApiToken.select(ApiToken, User)
        .join(User)
        .where(
            (ApiToken.token_hash == hash_api_token(header[7:].strip()))
            & ApiToken.active
            & User.active
        )
        .first()
    )
    if token is None:
        return None
    g.api_token = token
    return token.user


# The headers every answer carries. Personal links carry a secret token: never send them on
# in a Referer.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def set_security_headers(response):
    """Add the headers every answer carries (CSP, nosniff, no framing, no Referer) if not set."""
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    return response


def login_limit():
    """Return the configured login rate limit."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def public_limit():
    """Return the configured limit of phone requests per client address."""
    return current_app.config["PUBLIC_RATE_LIMIT"]


def init_app(app):
    """Wire CSRF, Flask-Login, the limiter, the access check and the headers into the app."""
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    limiter.init_app(app)
    app.before_request(refuse_nul_bytes)
    app.before_request(enforce_access)
    app.after_request(set_security_headers)
