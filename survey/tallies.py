"""tallies screens."""
from flask import Blueprint

bp = Blueprint("tallies", __name__)
