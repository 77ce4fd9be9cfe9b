"""Request parameters read strictly: page numbers, numbers in paths, and the 400 for a bad one.

A parameter the app cannot use answers 400 with a message in the user's language, or 404 for
a number in a path no row can have; it never reaches the database as a value it cannot hold.
"""

from flask import abort, request
from playhouse.flask_utils import PaginatedQuery

from survey.errors import render_error
from survey.i18n import gettext as _

MAX_PAGE = 1_000_000
# The largest id a 64-bit INTEGER column (SQLite, PostgreSQL bigint) can hold.
MAX_ID = 2**63 - 1


class BadParameter(ValueError):
    """A query-string parameter that cannot be used; its text is for the user."""


def page_number(name="page"):
    """Return the page number asked for (1 when absent), or raise BadParameter."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return 1
    # str.isdigit() accepts "²" and other digits int() refuses; only ASCII digits are a page.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 7 or not 1 <= int(raw) <= MAX_PAGE:
        raise BadParameter(
            _("The page number must be a whole number from 1 to %(last)s.", last=MAX_PAGE)
        )
    return int(raw)


def paginated(query, per_page):
    """Return a PaginatedQuery of query on the page of the query string (checked)."""
    return PaginatedQuery(query, paginate_by=per_page, page=page_number())


def refuse_huge_ids(endpoint, values):
    """Answer 404 for a number in the path larger than any stored id."""
    for value in (values or {}).values():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
            abort(404)


def handle_bad_parameter(error):
    """Answer a bad parameter with 400 and its message."""
    return render_error(400, str(error))


def init_app(app):
    """Register the path-number check and the 400 for bad parameters."""
    app.url_value_preprocessor(refuse_huge_ids)
    app.register_error_handler(BadParameter, handle_bad_parameter)
