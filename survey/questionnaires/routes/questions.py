"""Question and choice screens of the builder: add, edit, move, hide, delete (one form each)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404

from survey.i18n import gettext as _
from survey.models import CHOICE_KINDS, KEY_PATTERN, Choice, Question
from survey.questionnaires import authoring, bp
from survey.questionnaires.forms import ChoiceForm
from survey.questionnaires.routes.questionnaires import (
    attach,
    editable_or_403,
    question_form,
    render_edit,
)
from survey.security import COORDINATOR, access


def find_question(questionnaire, key):
    """Return the questionnaire's question with this key, or answer 404."""
    if not KEY_PATTERN.match(key):
        abort(404)
    return get_object_or_404(
        Question, (Question.questionnaire == questionnaire) & (Question.key == key)
    )


def find_choice(question, key):
    """Return the question's choice with this key, or answer 404."""
    if not KEY_PATTERN.match(key):
        abort(404)
    return get_object_or_404(Choice, (Choice.question == question) & (Choice.key == key))


def _bound(value):
    """Show a stored bound without a needless .0."""
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else str(value)


def question_data(question):
    """Return the question form's values for a stored question."""
    show_if = (
        f"{question.show_if_question}:{question.show_if_choice}"
        if question.show_if_question
        else ""
    )
    return {
        "key": question.key,
        "kind": question.kind,
        "prompt": question.prompt,
        "help": question.help,
        "required": question.required,
        "minimum": _bound(question.minimum),
        "maximum": _bound(question.maximum),
        "show_if": show_if,
        "low_label": question.low_label or "",
        "high_label": question.high_label or "",
        "min_picks": "" if question.min_picks is None else str(question.min_picks),
        "max_picks": "" if question.max_picks is None else str(question.max_picks),
    }


def render_question(questionnaire, question, form=None, new_choice=None, error=None, status=200):
    """Render the page of one question with its choices."""
    if form is None:
        form = question_form(questionnaire, question, formdata=None, data=question_data(question))
    return render_template(
        "questionnaires/edit_question.html",
        questionnaire=questionnaire,
        question=question,
        form=form,
        new_choice=new_choice or ChoiceForm(formdata=None),
        choices=list(question.ordered_choices(include_hidden=True)),
        locks=authoring.locks(questionnaire),
        error=error,
        has_choices=question.kind in CHOICE_KINDS,
    ), status


def direction():
    """Return the asked direction, up or down; anything else is a bad request."""
    asked = request.form.get("direction")
    if asked not in ("up", "down"):
        abort(400)
    return asked


def hidden_flag():
    """Return whether to hide (1) or show again (0); anything else is a bad request."""
    asked = request.form.get("hidden")
    if asked not in ("0", "1"):
        abort(400)
    return asked == "1"


@bp.route("/questionnaires/<slug>/questions", methods=["POST"])
@access(COORDINATOR)
def add_question(slug):
    """Add a question at the end of the questionnaire."""
    questionnaire = editable_or_403(slug)
    form = question_form(questionnaire)
    if not form.validate():
        return render_edit(questionnaire, new_question=form, status=422)
    try:
        question = authoring.create_question(
            current_user, questionnaire, form.values(), authoring.choice_lines(form.choices.data)
        )
    except authoring.Refused as refused:
        attach(form, refused)
        return render_edit(questionnaire, new_question=form, error=refused.message, status=422)
    flash(_("Question %(key)s added.", key=question.key))
    return redirect(url_for(".edit", slug=slug, _anchor=f"q-{question.key}"))


@bp.route("/questionnaires/<slug>/questions/<key>", methods=["GET", "POST"])
@access(COORDINATOR)
def edit_question(slug, key):
    """Show one question; on POST, save its changes within the rules."""
    questionnaire = editable_or_403(slug)
    question = find_question(questionnaire, key)
    if request.method == "GET":
        return render_question(questionnaire, question)
    # Fields the page shows locked (disabled) are not sent: they keep their stored value.
    form = question_form(questionnaire, question, data=question_data(question))
    if not form.validate():
        return render_question(questionnaire, question, form=form, status=422)
    try:
        authoring.update_question(current_user, question, form.values())
    except authoring.Refused as refused:
        attach(form, refused)
        return render_question(
            questionnaire,
            find_question(questionnaire, key),
            form=form,
            error=refused.message,
            status=422,
        )
    flash(_("Question saved."))
    return redirect(url_for(".edit", slug=slug, _anchor=f"q-{question.key}"))


def _question_action(slug, key, action):
    """Run a question action; on refusal re-render the builder with the reason (422)."""
    questionnaire = editable_or_403(slug)
    try:
        action(find_question(questionnaire, key))
    except authoring.Refused as refused:
        return render_edit(questionnaire, error=refused.message, status=422)
    return redirect(url_for(".edit", slug=slug, _anchor=f"q-{key}"))


@bp.route("/questionnaires/<slug>/questions/<key>/move", methods=["POST"])
@access(COORDINATOR)
def move_question(slug, key):
    """Move a question one place up or down."""
    return _question_action(
        slug, key, lambda question: authoring.move_question(current_user, question, direction())
    )


@bp.route("/questionnaires/<slug>/questions/<key>/hide", methods=["POST"])
@access(COORDINATOR)
def hide_question(slug, key):
    """Hide a question from the form (its answers stay) or show it again."""
    return _question_action(
        slug,
        key,
        lambda question: authoring.set_question_hidden(current_user, question, hidden_flag()),
    )


@bp.route("/questionnaires/<slug>/questions/<key>/delete", methods=["POST"])
@access(COORDINATOR)
def delete_question(slug, key):
    """Delete a question, only while the questionnaire has no answers."""
    return _question_action(
        slug, key, lambda question: authoring.delete_question(current_user, question)
    )


@bp.route("/questionnaires/<slug>/questions/<key>/choices", methods=["POST"])
@access(COORDINATOR)
def add_choice(slug, key):
    """Add a choice at the end of a question."""
    questionnaire = editable_or_403(slug)
    question = find_question(questionnaire, key)
    form = ChoiceForm()
    if not form.validate():
        return render_question(questionnaire, question, new_choice=form, status=422)
    try:
        authoring.create_choice(
            current_user,
            question,
            (form.key.data or "").strip(),
            form.label.data.strip(),
            form.other.data,
        )
    except authoring.Refused as refused:
        attach(form, refused)
        return render_question(
            questionnaire, question, new_choice=form, error=refused.message, status=422
        )
    return redirect(url_for(".edit_question", slug=slug, key=key, _anchor="choices"))


def _choice_action(slug, key, choice_key, action):
    """Run a choice action; on refusal re-render the question page with the reason (422)."""
    questionnaire = editable_or_403(slug)
    question = find_question(questionnaire, key)
    choice = find_choice(question, choice_key)
    try:
        action(choice)
    except authoring.Refused as refused:
        return render_question(questionnaire, question, error=refused.message, status=422)
    return redirect(url_for(".edit_question", slug=slug, key=key, _anchor="choices"))


@bp.route("/questionnaires/<slug>/questions/<key>/choices/<choice_key>", methods=["POST"])
@access(COORDINATOR)
def edit_choice(slug, key, choice_key):
    """Relabel a choice (and change its key while nothing is answered)."""
    form = ChoiceForm()
    if not form.validate():
        questionnaire = editable_or_403(slug)
        return render_question(
            questionnaire,
            find_question(questionnaire, key),
            error=" ".join(form.label.errors + form.key.errors),
            status=422,
        )
    return _choice_action(
        slug,
        key,
        choice_key,
        lambda choice: authoring.update_choice(
            current_user,
            choice,
            (form.key.data or "").strip() or choice.key,
            form.label.data.strip(),
            form.other.data,
        ),
    )


@bp.route("/questionnaires/<slug>/questions/<key>/choices/<choice_key>/move", methods=["POST"])
@access(COORDINATOR)
def move_choice(slug, key, choice_key):
    """Move a choice one place up or down."""
    return _choice_action(
        slug,
        key,
        choice_key,
        lambda choice: authoring.move_choice(current_user, choice, direction()),
    )


@bp.route("/questionnaires/<slug>/questions/<key>/choices/<choice_key>/hide", methods=["POST"])
@access(COORDINATOR)
def hide_choice(slug, key, choice_key):
    """Hide a choice from the form (its answers stay) or show it again."""
    return _choice_action(
        slug,
        key,
        choice_key,
        lambda choice: authoring.set_choice_hidden(current_user, choice, hidden_flag()),
    )


@bp.route("/questionnaires/<slug>/questions/<key>/choices/<choice_key>/delete", methods=["POST"])
@access(COORDINATOR)
def delete_choice(slug, key, choice_key):
    """Delete a choice, only while the questionnaire has no answers."""
    return _choice_action(
        slug, key, choice_key, lambda choice: authoring.delete_choice(current_user, choice)
    )
