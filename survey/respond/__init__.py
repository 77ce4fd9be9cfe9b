"""The collaborator's phone pages: their own page, the form, the open and poster links, thanks."""

from flask import Blueprint

from survey.extensions import limiter
from survey.respond.rules import picks_hint, scale_bounds
from survey.security import public_limit

bp = Blueprint("respond", __name__)
# Every phone page counts against one limit per client address.
limiter.shared_limit(public_limit, scope="phone")(bp)
# The questions partial needs it, and the authoring preview includes that partial too.
bp.add_app_template_global(scale_bounds)
bp.add_app_template_global(picks_hint)

from survey.respond import offline, routes  # noqa: F401  (the views register on bp)
