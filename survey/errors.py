"""Error pages: one handler per status, HTML for people and JSON for the API."""

from flask import current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from peewee import OperationalError
from werkzeug.exceptions import HTTPException

from survey.i18n import lazy_gettext as _l

MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    401: _l("Please log in first."),
    403: _l("You do not have permission to see this page."),
    404: _l("This page does not exist, or the link is no longer valid."),
    405: _l("This action is not allowed here."),
    409: _l("This has already been done."),
    413: _l("What you sent is too large."),
    422: _l("Some answers need correcting."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. Your data is safe; please try again."),
    503: _l("The service is briefly unavailable. Please try again in a minute."),
}


def render_error(code, message=None):
    """Answer with the error page (or JSON for the API) for a status code."""
    message = str(message or MESSAGES.get(code, MESSAGES[500]))
    if request.path.startswith("/api/"):
        return jsonify(error=message), code
    return render_template("errors/error.html", code=code, message=message), code


def handle_http_error(error):
    """Render any HTTP error with our page."""
    return render_error(error.code or 500)


def handle_csrf_error(error):
    """Explain a missing or expired form token in the user's language."""
    return render_error(400, _l("The form has expired. Please reload the page and send it again."))


def handle_database_down(error):
    """Answer 503 when the database cannot be reached, so monitors and phones can retry."""
    current_app.logger.error("database unavailable: %s", error)
    return render_error(503)


def handle_unexpected(error):
    """Log an unexpected failure and show a calm page, never a traceback."""
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    current_app.logger.exception("unhandled error")
    return render_error(500)


def init_app(app):
    """Register the error handlers."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
