"""Accounts: login and logout, each user's own password, the admin's accounts and audit log."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from survey.auth import routes  # noqa: F401  (the views register themselves on bp)
