"""Tallies: the live tally page, written answers, the printable report and the exports."""

from flask import Blueprint

bp = Blueprint("tallies", __name__)

from survey.tallies import routes  # noqa: E402, F401  (the views register themselves on bp)
from survey.tallies import reporting  # noqa: E402, F401
