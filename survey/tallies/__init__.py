"""Tallies: the live tally page, written answers, the printable report and the exports."""

from flask import Blueprint

bp = Blueprint("tallies", __name__)

from survey.tallies import (
    report_routes,  # noqa: F401
    routes,  # noqa: F401  (the views register themselves on bp)
    waves,
)

bp.add_app_template_filter(waves.format_change, "change")
