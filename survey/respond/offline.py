"""The phone's service worker, served from the site's root so that it covers /c/ and /s/."""

import datetime
import hashlib
import uuid
from pathlib import Path

from flask import current_app, request

from survey.models import utcnow
from survey.respond import bp
from survey.security import PHONE, access

WORKER = "sw.js"


def worker_source():
    """Return the service worker's bytes and their hash, read once per app."""
    kept = current_app.extensions.get("survey_worker")
    if kept is None:
        body = (Path(current_app.static_folder) / WORKER).read_bytes()
        kept = (body, hashlib.sha256(body).hexdigest()[:16])
        current_app.extensions["survey_worker"] = kept
    return kept


@bp.route("/sw.js")
@access(PHONE)
def service_worker():
    """Serve the service worker, checked again on every visit (304 when unchanged)."""
    body, version = worker_source()
    response = current_app.response_class(body, mimetype="text/javascript")
    response.cache_control.no_cache = True
    response.set_etag(version)
    return response.make_conditional(request)


@bp.context_processor
def made_at():
    """Give the phone pages the time they are made (shown on a kept copy) and fresh form ids."""
    now = utcnow()
    return {
        "made_at": now,
        "made_at_ms": int(now.replace(tzinfo=datetime.UTC).timestamp() * 1000),
        "new_uuid": lambda: str(uuid.uuid4()),
    }


def unvary_cookie(value):
    """Return a Vary header's value without Cookie."""
    return ", ".join(v.strip() for v in value.split(",") if v.strip().lower() != "cookie")


def files_vary_without_cookie(wsgi_app, prefixes):
    """Wrap a WSGI app so the files under these paths do not vary on the session cookie.

    Flask adds `Vary: Cookie` to any answer whose request looked at the session, as Flask-Login
    does on every request; a file's bytes never depend on it, and a phone whose cookie changed
    would otherwise fetch its cached files again.
    """

    def serve(environ, start_response):
        """Serve one request, dropping Cookie from the Vary of a file."""
        if not environ.get("PATH_INFO", "").startswith(prefixes):
            return wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            """Pass the headers on without Cookie in Vary."""
            headers = [(n, unvary_cookie(v) if n.lower() == "vary" else v) for n, v in headers]
            return start_response(status, [(n, v) for n, v in headers if v], exc_info)

        return wsgi_app(environ, start)

    return serve


@bp.record_once
def wrap_app(state):
    """Install the Vary wrapper for the static files and the service worker."""
    prefixes = (state.app.static_url_path + "/", "/" + WORKER)
    state.app.wsgi_app = files_vary_without_cookie(state.app.wsgi_app, prefixes)
