"""Who may do what: the one place that decides access, plus login, limits and security headers."""

import hashlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
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
    if rule in (PUBLIC, PHONE):
        # Open to anyone: loading the account would touch the session cookie, and static files
        # and phone pages would then vary on it and be fetched again.
        return None
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


# One hash per method and process, made at the first login attempt, that no password matches.
_DUMMY_HASHES = {}


def dummy_hash():
    """Return this process's stand-in hash for unknown accounts, made once per hash method."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_urlsafe(32), method=method)
    return _DUMMY_HASHES[method]


def check_password(user, password):
    """Tell whether the password is the user's; with no user, spend the same time and say no."""
    if user is None:
        # One check against a stand-in hash: an unknown name costs exactly what a wrong password
        # costs, so names cannot be probed by timing.
        check_password_hash(dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


def end_sessions(user):
    """End every session of this account (all its cookies, everywhere) by moving its version on."""
    User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()
    user.session_version = User.get_by_id(user.id).session_version


def renew_form_token():
    """Drop the session's CSRF secret so the next form gets a new one (at login and logout)."""
    name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(name, None)
    g.pop(name, None)


def hash_api_token(secret):
    """Return the stored form of an API token (its SHA-256), never the token itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


@login_manager.user_loader
def load_user(session_id):
    """Return the active account of a session id "<id>:<version>" if that version is current."""
    user_id, _, version = str(session_id).partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None  # also every cookie made before sessions carried a version
    return User.get_or_none(
        (User.id == int(user_id)) & (User.session_version == int(version)) & User.active
    )


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


# The headers every answer carries. Personal links carry a secret token: a Referer never
# leaves the site (same-origin), yet reaches it, as Flask-WTF's check of HTTPS posts needs.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def set_security_headers(response):
    """Add the headers every answer carries (CSP, nosniff, no framing, no Referer) if not set."""
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    if request.is_secure and current_app.config["HSTS_SECONDS"]:
        # Only over HTTPS: a browser ignores it on http, and the dev server must stay reachable.
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={current_app.config['HSTS_SECONDS']}"
        )
    return response


def login_account_limit():
    """Return the configured limit of failed logins per account."""
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def login_account_key():
    """Return the rate-limit key of the account a login post names (any spelling counts alike)."""
    name = request.form.get("username", "").strip().lower()[:80]
    return "account:" + name


def login_failed(response):
    """Tell whether a login post was refused for its credentials (counted per account)."""
    return response.status_code == 401


def secure_cookies_on_https(wsgi_app):
    """Wrap a WSGI app so every cookie it sets over HTTPS is marked Secure."""

    def secure(name, value):
        """Return a header with Secure added when it is a cookie that lacks it."""
        if name.lower() != "set-cookie":
            return name, value
        attributes = {part.strip().lower() for part in value.split(";")[1:]}
        return name, value if "secure" in attributes else value + "; Secure"

    def serve(environ, start_response):
        """Serve one request, marking its cookies Secure when it came over HTTPS."""
        if environ.get("wsgi.url_scheme") != "https":
            return wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            """Pass the answer's headers on with Secure cookies."""
            return start_response(status, [secure(n, v) for n, v in headers], exc_info)

        return wsgi_app(environ, start)

    return serve


PROXY_HEADERS = ("for", "proto", "host", "port", "prefix")


def trust_proxies(app):
    """Read client address and scheme from X-Forwarded-* of as many proxies as configured."""
    counts = {f"x_{h}": int(app.config.get(f"PROXY_FIX_X_{h.upper()}") or 0) for h in PROXY_HEADERS}
    app.wsgi_app = secure_cookies_on_https(app.wsgi_app)
    if any(counts.values()):
        # Outermost, so the scheme it reads decides the cookies' Secure flag and request.is_secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, **counts)


# Known keys that sign nothing in production: anyone can read them in the source.
KNOWN_KEYS = {"dev-only-change-me"}
KEY_FILE = "secret_key"


def instance_secret(instance_path):
    """Return the instance folder's random secret key, writing a new one the first time."""
    path = Path(instance_path) / KEY_FILE
    if not path.exists():
        draft = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # atomic and never overwrites: two starting processes agree
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to make a new one.")
    return key


def settle_secret_key(app):
    """Use SECRET_KEY if set (never a known one outside debug or tests), else the instance's own."""
    key = app.config.get("SECRET_KEY")
    if not key:
        app.config["SECRET_KEY"] = instance_secret(app.instance_path)
    elif key in KNOWN_KEYS and not (app.debug or app.testing):
        raise RuntimeError(
            "SECRET_KEY is the published development key; set SURVEY_SECRET_KEY to a long "
            "random value, or unset it to use the instance folder's own key."
        )


def login_limit():
    """Return the configured login rate limit."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def public_limit():
    """Return the configured limit of phone requests per client address."""
    return current_app.config["PUBLIC_RATE_LIMIT"]


def init_app(app):
    """Wire the key, proxies, CSRF, Flask-Login, the limiter, access check and headers in."""
    settle_secret_key(app)
    trust_proxies(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    limiter.init_app(app)
    app.before_request(refuse_nul_bytes)
    app.before_request(enforce_access)
    app.after_request(set_security_headers)
