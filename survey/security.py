"""Who may do what: the one place that decides access, plus login, limits and security headers."""
import functools
import hashlib
import time
from urllib.parse import urlsplit

from flask import abort, current_app, g, jsonify, redirect, request, url_for
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from werkzeug.security import check_password_hash, generate_password_hash

from survey.i18n import lazy_gettext as _l
from survey.models import ApiToken, User
from survey.sessions import SignedCookieSessions

# Access rules, from the most open to the most closed. Every endpoint declares one.
PUBLIC = "public"            # anyone: login page, health check, static files
PHONE = "phone"              # anyone holding a personal token or an open link; rate limited
VIEWER = "viewer"            # any logged-in account: reads tallies of its scope
COORDINATOR = "coordinator"  # coordinators and admins: change questionnaires and the roster
ADMIN = "admin"              # admins only: accounts, wards, organisations, audit log
RULES = (PUBLIC, PHONE, VIEWER, COORDINATOR, ADMIN)
ROLE_RULES = {
    "viewer": {VIEWER},
    "coordinator": {VIEWER, COORDINATOR},
    "admin": {VIEWER, COORDINATOR, ADMIN},
}

class SweepingMemoryStorage(MemoryStorage):
    """limits' in-process storage, sweeping expired counters inline at most once a second.

    The stock memory storage starts a timer thread on nearly every hit to sweep them,
    which every phone request then pays for (bench/submit.py: 5.5 -> 5.2 CPU ms a submit).
    Each counter is still expired when it is read, so limits hold exactly as before.
    """
    STORAGE_SCHEME = "memory+sweeping"

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        """Start with nothing to sweep."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self):
        """Sweep expired counters now if the last sweep is over a second old (no thread)."""
        now = time.monotonic()
        if now - self._swept_at >= 1.0:
            self._swept_at = now
            self._MemoryStorage__expire_events()


csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

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
    """Refuse NUL bytes (no database stores one): 404 in the path, as no such page exists; 400 elsewhere."""
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
    token = (ApiToken.select(ApiToken, User).join(User)
             .where((ApiToken.token_hash == hash_api_token(header[7:].strip()))
                    & ApiToken.active & User.active).first())
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
    """Add the headers every answer carries (CSP, nosniff, no framing, no Referer) unless a view set its own."""
    # One pass over the headers, not a search per header: this runs on every request.
    present = {name.lower() for name, _ in response.headers.items()}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            response.headers.add(name, value)
    return response


def login_limit():
    """Return the configured login rate limit."""
    return current_app.config["LOGIN_RATE_LIMIT"]


@functools.lru_cache(maxsize=8)
def parsed_limit(text):
    """Return a rate limit such as "600 per minute" parsed once (the text is configuration)."""
    return parse_limit(text)


def check_public_limit():
    """Count a phone request against PUBLIC_RATE_LIMIT for its address; answer 429 past it.

    The hit goes through Flask-Limiter's own strategy and storage (Redis when configured),
    but not through its per-request search of every decorator, blueprint and default limit:
    that search cost 0.8 ms of a submit that needs ~2 ms in all (bench/submit.py).
    """
    if not limiter.enabled:
        return
    config = current_app.config
    keys = [key for key in (config.get("RATELIMIT_KEY_PREFIX"), get_remote_address(), "phone")
            if key]
    if not limiter.limiter.hit(parsed_limit(config["PUBLIC_RATE_LIMIT"]), *keys):
        abort(429)


@limiter.request_filter
def counted_apart():
    """Tell Flask-Limiter to leave phone pages alone: check_public_limit counts them already."""
    return request.blueprint == "respond"


def where_limiter_worked(hook):
    """Wrap a Flask-Limiter after-request or teardown hook to run only where a limit was checked.

    The limiter keeps what a request's check found in a context it adds to the request; its
    hooks create that context, empty, on every other request (3% of a submit) to find nothing.
    """
    @functools.wraps(hook)
    def run_if_checked(value):
        """Run the hook when this request holds a limiter context; else hand its value back."""
        if hasattr(request_ctx._get_current_object(), "_limiter_request_context"):
            return hook(value)
        return value
    return run_if_checked


def skip_limiter_hooks_where_unused(app):
    """Swap Flask-Limiter's after-request and teardown hooks for ones that skip unlimited requests."""
    # Flask-Limiter's private hooks (name-mangled): a rename in a new release stops create_app.
    inject = Limiter._Limiter__inject_headers
    release = limiter._Limiter__release_context
    after = app.after_request_funcs.get(None, [])
    after[:] = [where_limiter_worked(hook) if getattr(hook, "func", None) is inject else hook
                for hook in after]
    teardown = app.teardown_request_funcs.get(None, [])
    teardown[:] = [where_limiter_worked(hook) if hook == release else hook for hook in teardown]


def init_app(app):
    """Wire the session cookie, CSRF, Flask-Login, the limiter, the access check and the headers into the app."""
    app.session_interface = SignedCookieSessions()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    limiter.init_app(app)
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks and not (
            app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION")):
        # With no app-wide limit, Flask-Limiter's hook on every request searches for limits to
        # find none (40 µs of a submit): login's decorator checks its own limit without it.
        hooks.remove(limiter._check_request_limit)
    skip_limiter_hooks_where_unused(app)
    app.before_request(refuse_nul_bytes)
    app.before_request(enforce_access)
    app.after_request(set_security_headers)

