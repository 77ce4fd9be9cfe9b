"""The builder's concern form: which answers of a question signal a hotspot."""

from flask import flash, redirect, request, url_for
from flask_login import current_user

from survey.i18n import gettext as _
from survey.numbers import format_number
from survey.questionnaires import authoring, bp, rules
from survey.questionnaires.routes.questionnaires import editable_or_403
from survey.questionnaires.routes.questions import find_question, render_question
from survey.security import COORDINATOR, access

KINDS = ("single", "multi", "scale", "number")  # the kinds that may mark concern


@bp.app_template_global()
def concern_of(question):
    """Return a question's stored concern when still valid for it (the file's shape), or None."""
    if question.kind not in KINDS or not question.concern:
        return None
    keys = [c.key for c in question.choices]
    return rules.stored_concern(question.kind, question.concern, keys)


@bp.app_template_global()
def concern_said(question):
    """Say a question's concern in words ("“Không”, “Rất kém”" or "≤ 2"), or "" when none."""
    concern = concern_of(question)
    if concern is None:
        return ""
    if "choices" in concern:
        labels = {c.key: c.label for c in question.choices}
        return ", ".join(f"“{labels.get(key, key)}”" for key in concern["choices"])
    if "at_most" in concern:
        return f"≤ {format_number(concern['at_most'])}"
    return f"≥ {format_number(concern['at_least'])}"


@bp.route("/questionnaires/<slug>/questions/<key>/concern", methods=["POST"])
@access(COORDINATOR)
def set_concern(slug, key):
    """Save which answers of a question signal concern (none clears it)."""
    questionnaire = editable_or_403(slug)
    question = find_question(questionnaire, key)
    try:
        concern = authoring.concern_from_form(
            question,
            request.form.getlist("concern_choice"),
            request.form.get("concern_mode", ""),
            request.form.get("concern_bound", ""),
        )
        authoring.set_concern(current_user, question, concern)
    except authoring.Refused as refused:
        return render_question(questionnaire, question, error=refused.message, status=422)
    flash(_("Concern saved.") if concern else _("This question no longer marks concern."))
    return redirect(url_for(".edit_question", slug=slug, key=key, _anchor="concern"))
