"""Coordinator screens for questionnaires: the dashboard and, later, authoring."""
from flask import Blueprint, render_template
from peewee import JOIN, fn

from survey.models import Questionnaire, Response
from survey.security import VIEWER, access, organisation_scope

bp = Blueprint("questionnaires", __name__)


@bp.route("/")
@access(VIEWER)
def index():
    """Show the dashboard: every questionnaire with its status and response count."""
    scope = organisation_scope()
    join_on = Response.questionnaire == Questionnaire.id
    if scope is not None:
        join_on &= Response.organisation == scope
    rows = (Questionnaire.select(Questionnaire, fn.COUNT(Response.id).alias("responses"))
            .join(Response, JOIN.LEFT_OUTER, on=join_on)
            .group_by(Questionnaire.id)
            .order_by(Questionnaire.created_at.desc()))
    return render_template("questionnaires/index.html", questionnaires=rows)
