"""Coordinator screens for questionnaires: the dashboard, authoring, preview, import and export.

Any coordinator may author, organisation-scoped ones too: questionnaires belong to the
district; only their data (tallies, exports) is scoped. Viewers may read the preview and
the questionnaire file. The edit rules live in survey/authoring.py.
"""
from flask import Blueprint

bp = Blueprint("questionnaires", __name__)

from survey.questionnaires import questions, views  # noqa: F401  (they register their routes on bp)
