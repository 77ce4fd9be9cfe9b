"""Single responses: the response list, a response's page, voiding, restoring and test answers."""

from flask import Blueprint

bp = Blueprint("responses", __name__)

from survey.responses import routes  # noqa: F401  (the views register themselves on bp)
