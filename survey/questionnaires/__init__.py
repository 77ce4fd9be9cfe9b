"""Coordinator screens for questionnaires: the dashboard, authoring, preview, import and export.

Coordinators author questionnaires; viewers may read the preview and the questionnaire file.
The edit rules live in authoring.py, the questionnaire file in file_format.py.
"""

from flask import Blueprint

bp = Blueprint("questionnaires", __name__)

from survey.questionnaires import routes  # noqa: F401  (the views register themselves on bp)
