"""The health check a load balancer or monitor polls."""

from flask import jsonify
from peewee import PeeweeException

from survey.api import bp
from survey.db import database
from survey.security import PUBLIC, access


@bp.route("/healthz")
@access(PUBLIC)
def healthz():
    """Answer 200 when the database answers a query, 503 when it does not."""
    try:
        database.execute_sql("SELECT 1").fetchone()
    except PeeweeException:
        return jsonify(status="unavailable", database=False), 503
    response = jsonify(status="ok", database=True)
    response.headers["Cache-Control"] = "no-store"
    return response
