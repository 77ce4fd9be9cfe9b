"""The collaborator network: wards and organisations, roster, QR cards and posters, response rates.

One blueprint; its views live in the modules imported at the end (by screen), the helpers they
share (scoping, filters) here.
"""

import re

from flask import Blueprint, abort, request
from peewee import SQL
from playhouse.flask_utils import get_object_or_404

from survey.collation import fold
from survey.db import vietnamese
from survey.models import Collaborator, Organisation, Ward
from survey.network.forms import NetworkFilterForm
from survey.security import in_scope, organisation_scope, scoped

bp = Blueprint("network", __name__)

GROUP_KINDS = {"wards": Ward, "organisations": Organisation}
PER_PAGE = 50
FILTER_KEYS = ("q", "ward", "organisation", "status")
UPLOAD_LIFETIME = 3600  # seconds a checked roster file waits for its confirmation


def wanted_active():
    """Read the posted active=1|0, refusing anything else with 400."""
    value = request.form.get("active")
    if value not in ("0", "1"):
        abort(400)
    return value == "1"


def scoped_organisations():
    """Return the active organisations the current user may work with."""
    return scoped(Organisation.ordered(), Organisation.id)


def collaborator_or_404(collaborator_id):
    """Return a collaborator in the current user's scope, or answer 404."""
    query = scoped(Collaborator.select(), Collaborator.organisation)
    return get_object_or_404(query, Collaborator.id == collaborator_id)


def filter_form():
    """Return the list/card filter form, read from the query string; another organisation is 403."""
    asked = request.args.get("organisation")
    if asked and organisation_scope() is not None:
        organisation = Organisation.get_or_none(Organisation.code == asked)
        if organisation is not None and not in_scope(organisation.id):
            abort(403)
    return NetworkFilterForm(
        request.args, organisations=scoped_organisations(), wards=Ward.ordered()
    )


def filtered_collaborators(form):
    """Return the collaborators in scope that match a validated filter form, with ward and org."""
    query = (
        Collaborator.select(Collaborator, Ward, Organisation)
        .join_from(Collaborator, Ward)
        .join_from(Collaborator, Organisation)
    )
    query = scoped(query, Collaborator.organisation)
    if form.ward.data:
        query = query.where(Ward.code == form.ward.data)
    if form.organisation.data:
        query = query.where(Organisation.code == form.organisation.data)
    if form.status.data in ("active", "inactive"):
        query = query.where(Collaborator.active == (form.status.data == "active"))
    text = (form.q.data or "").strip()
    if text:
        digits = re.sub(r"\D", "", text)
        match = Collaborator.id.in_(_names_matching(text)) if fold(text).strip() else SQL("1 = 0")
        if digits:
            match |= Collaborator.phone.contains(digits)
            if digits.startswith("84") and len(digits) > 3:  # +84 908… finds 0908…
                match |= Collaborator.phone.contains("0" + digits[2:])
        query = query.where(match)
    return query.order_by(
        Ward.code, Organisation.code, vietnamese(Collaborator.name), Collaborator.id
    )


def _names_matching(text):
    """Return the ids of the collaborators in scope whose name holds text, tones and case aside."""
    # Folded in Python, the same way on SQLite and PostgreSQL: a district's roster is small.
    wanted = fold(text)
    query = scoped(
        Collaborator.select(Collaborator.id, Collaborator.name), Collaborator.organisation
    )
    return [i for i, name in query.tuples().iterator() if wanted in fold(name)]


def current_filters():
    """Return the list's own query-string filters (no page number), for paging and export links."""
    # Only the form's fields: url_for takes keys such as _method or _external as orders.
    return {key: value for key, value in request.args.items() if key in FILTER_KEYS}


def private(response):
    """Mark an answer that carries personal links as never to be stored by any cache."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


# The views register themselves on bp when imported.
from survey.network import routes  # noqa: F401  (the views register themselves on bp)
