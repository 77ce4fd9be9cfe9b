"""The questionnaire screens, a module per kind of object: questionnaires, questions and choices."""

from survey.questionnaires.routes import concern, questionnaires, questions  # noqa: F401
