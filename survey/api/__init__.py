"""The JSON API (tallies and response rates, by session or API token), its tokens, and /healthz."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from survey.api import health, routes, tokens  # noqa: F401  (the views register themselves on bp)
