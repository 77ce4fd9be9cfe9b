"""Tallies: the live tally page, written answers, the printable report and the exports."""

from flask import Blueprint

bp = Blueprint("tallies", __name__)

from survey.tallies import (
    report_routes,  # noqa: F401
    routes,  # noqa: F401  (the views register themselves on bp)
)
