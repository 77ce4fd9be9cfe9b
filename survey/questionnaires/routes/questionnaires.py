"""Questionnaire screens: dashboard, create, import, settings, lifecycle, copy, preview, export."""

import json
import uuid

from flask import Response as HTTPResponse
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import JOIN, fn
from werkzeug.datastructures import MultiDict

from survey.i18n import KIND_LABELS, local_time, status_label
from survey.i18n import gettext as _
from survey.models import Organisation, Questionnaire, Response, Ward, response_count
from survey.questionnaires import authoring, bp, waves
from survey.questionnaires.file_format import FileError
from survey.questionnaires.forms import DuplicateForm, ImportForm, QuestionForm, QuestionnaireForm
from survey.respond import submit
from survey.respond.rules import (
    Schema,
    check_answers,
    chosen_place,
    places,
    valid_client_uuid,
)
from survey.responses import records
from survey.security import (
    COORDINATOR,
    VIEWER,
    access,
    may,
    organisation_scope,
    questionnaire_or_404,
)
from survey.tallies import hotspots

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def attach(form, refused):
    """Show a refusal under the field it concerns, when the form has that field."""
    if form is not None and refused.field and refused.field in form:
        field = form[refused.field]
        field.errors = list(field.errors) + [refused.message]


def editable_or_403(slug):
    """Return the questionnaire if the current user may change it; 404 or 403 otherwise."""
    questionnaire = questionnaire_or_404(slug)
    if not authoring.may_edit(current_user, questionnaire):
        abort(403)
    return questionnaire


def settings_form(questionnaire=None, **kwargs):
    """Build the settings form, offering the active organisations, wards and earlier waves."""
    return QuestionnaireForm(
        organisations=Organisation.ordered(),
        wards=Ward.ordered(),
        questionnaire=questionnaire,
        earlier=waves.choosable(questionnaire),
        **kwargs,
    )


def _local_text(value):
    """Show a stored UTC time in the local datetime-local input format."""
    return local_time(value).strftime(LOCAL_FORMAT) if value else ""


def settings_data(questionnaire):
    """Return the settings form's values for a stored questionnaire."""
    data = {name: getattr(questionnaire, name) for name in authoring.SETTINGS}
    data.update(
        opens_at=_local_text(questionnaire.opens_at),
        closes_at=_local_text(questionnaire.closes_at),
        suppress_below=str(questionnaire.suppress_below),
        organisations=[o.code for o in questionnaire.target_organisations()],
        wards=[w.code for w in questionnaire.target_wards()],
        repeat_of=questionnaire.repeat_of.slug if questionnaire.repeat_of_id else "",
    )
    return data


def question_form(questionnaire, question=None, **kwargs):
    """Build a question form offering the earlier choices a show-if may name."""
    return QuestionForm(
        kind_labels=KIND_LABELS,
        show_if_options=authoring.show_if_options(questionnaire, question),
        numbers=authoring.numbering(questionnaire.ordered_questions(include_hidden=True)),
        **kwargs,
    )


def render_edit(questionnaire, form=None, new_question=None, error=None, status=200):
    """Render the builder: settings, lifecycle, the questions and the add-question form."""
    if form is None:
        form = settings_form(questionnaire, formdata=None, data=settings_data(questionnaire))
    if new_question is None:
        new_question = question_form(questionnaire, formdata=None)
    outline = authoring.outline(questionnaire)
    return render_template(
        "questionnaires/edit.html",
        questionnaire=questionnaire,
        form=form,
        new_question=new_question,
        outline=outline,
        numbers=authoring.numbering(q for q, _choices in outline),
        conditions=authoring.conditions(outline),
        locks=authoring.locks(questionnaire),
        error=error,
        responses=response_count(questionnaire),
        test_answers=records.count(
            questionnaire, Response.TEST, records.scope_terms(organisation_scope())
        ),
        transitions=authoring.TRANSITIONS[questionnaire.status],
    ), status


@bp.route("/")
@access(VIEWER)
def index():
    """Show the dashboard: every questionnaire with its status and response count, and hotspots."""
    scope = organisation_scope()
    join_on = (Response.questionnaire == Questionnaire.id) & (Response.state == Response.COUNTED)
    if scope is not None:
        join_on &= Response.organisation == scope
    rows = (
        Questionnaire.select(Questionnaire, fn.COUNT(Response.id).alias("responses"))
        .join(Response, JOIN.LEFT_OUTER, on=join_on)
        .group_by(Questionnaire.id)
        .order_by(Questionnaire.created_at.desc())
    )
    return render_template(
        "questionnaires/index.html",
        questionnaires=rows,
        hotspots=hotspots.of_open(rows, scope),
        can_edit=may(current_user, COORDINATOR),
        may_edit=lambda questionnaire: authoring.may_edit(current_user, questionnaire),
        owners={o.id: o.name for o in Organisation.select(Organisation.id, Organisation.name)},
    )


@bp.route("/questionnaires/new", methods=["GET", "POST"])
@access(COORDINATOR)
def create():
    """Create a draft questionnaire from its settings."""
    form = settings_form()
    del form.status  # a new questionnaire is always a draft
    if request.method == "POST":
        if form.validate():
            try:
                questionnaire = authoring.create(
                    current_user,
                    form.settings(),
                    form.organisations.data,
                    form.wards.data,
                    owner=authoring.owner_for(current_user),
                )
            except authoring.Refused as refused:
                attach(form, refused)
            else:
                flash(_("Questionnaire created. Now add its questions."))
                return redirect(url_for(".edit", slug=questionnaire.slug))
        return render_template("questionnaires/create.html", form=form), 422
    return render_template("questionnaires/create.html", form=form)


@bp.route("/questionnaires/import", methods=["GET", "POST"])
@access(COORDINATOR)
def import_file():
    """Create a questionnaire from an uploaded questionnaire file (JSON)."""
    form = ImportForm()
    if request.method == "POST":
        problems = []
        if form.validate():
            try:
                questionnaire = authoring.import_file(current_user, form.file.data.read())
            except FileError as error:
                problems = error.problems
            else:
                flash(_("Questionnaire imported."))
                return redirect(url_for(".edit", slug=questionnaire.slug))
        return render_template("questionnaires/import_file.html", form=form, problems=problems), 422
    return render_template("questionnaires/import_file.html", form=form, problems=[])


@bp.route("/questionnaires/<slug>/edit", methods=["GET", "POST"])
@access(COORDINATOR)
def edit(slug):
    """Show the builder; on POST, save the settings and targets."""
    questionnaire = editable_or_403(slug)
    if request.method == "GET":
        return render_edit(questionnaire)
    # A field the page shows locked (disabled) is not sent: it keeps its stored value.
    form = settings_form(questionnaire, data=settings_data(questionnaire))
    if "anonymous" in authoring.locks(questionnaire) and "anonymous" not in request.form:
        form.anonymous.data = questionnaire.anonymous  # a disabled checkbox is never sent
    if not form.validate():
        return render_edit(questionnaire, form=form, status=422)
    try:
        authoring.update_settings(
            current_user, questionnaire, form.settings(), form.organisations.data, form.wards.data
        )
    except authoring.Refused as refused:
        attach(form, refused)
        return render_edit(questionnaire_or_404(slug), form=form, error=refused.message, status=422)
    flash(_("Settings saved."))
    return redirect(url_for(".edit", slug=questionnaire.slug))


@bp.route("/questionnaires/<slug>/status", methods=["POST"])
@access(COORDINATOR)
def set_status(slug):
    """Open, close, reopen or return a questionnaire to draft."""
    questionnaire = editable_or_403(slug)
    try:
        authoring.set_status(current_user, questionnaire, request.form.get("status", ""))
    except authoring.Refused as refused:
        return render_edit(questionnaire_or_404(slug), error=refused.message, status=422)
    flash(_("The questionnaire is now: %(status)s.", status=status_label(questionnaire.status)))
    return redirect(url_for(".edit", slug=slug))


@bp.route("/questionnaires/<slug>/delete", methods=["POST"])
@access(COORDINATOR)
def delete(slug):
    """Delete a questionnaire that has no responses."""
    questionnaire = editable_or_403(slug)
    try:
        authoring.delete(current_user, questionnaire)
    except authoring.Refused as refused:
        return render_edit(questionnaire, error=refused.message, status=422)
    flash(_("Questionnaire deleted."))
    return redirect(url_for(".index"))


@bp.route("/questionnaires/<slug>/duplicate", methods=["GET", "POST"])
@access(COORDINATOR)
def duplicate(slug):
    """Copy a questionnaire into a new draft with a new address (?repeat=1: a new wave of it)."""
    questionnaire = questionnaire_or_404(slug)
    repeat = request.args.get("repeat") == "1"
    if repeat:
        title = _("%(title)s (new wave)", title=questionnaire.title)
    else:
        title = _("Copy of %(title)s", title=questionnaire.title)
    form = DuplicateForm(data={"slug": f"{slug}-2"[:80], "title": title[:300], "repeat": repeat})
    if request.method == "POST":
        if form.validate():
            try:
                copy = authoring.duplicate(
                    current_user,
                    questionnaire,
                    (form.slug.data or "").strip(),
                    form.title.data.strip(),
                    repeat=form.repeat.data,
                )
            except authoring.Refused as refused:
                attach(form, refused)
            else:
                flash(_("Copied into a new draft."))
                return redirect(url_for(".edit", slug=copy.slug))
        return render_template(
            "questionnaires/duplicate.html", questionnaire=questionnaire, form=form
        ), 422
    return render_template("questionnaires/duplicate.html", questionnaire=questionnaire, form=form)


@bp.route("/questionnaires/<slug>/preview", methods=["GET", "POST"])
@access(VIEWER)
def preview(slug):
    """Show the questionnaire as the phone shows it; its editors may send test answers from it.

    A test answer is checked as the phone form checks answers, whatever the questionnaire's
    status, and stored apart (submit.store_test): no figure counts it.
    """
    questionnaire = questionnaire_or_404(slug)
    can_edit = may(current_user, COORDINATOR) and authoring.may_edit(current_user, questionnaire)
    schema = Schema.load(questionnaire)
    wards, organisations = places(questionnaire)
    scope = organisation_scope()
    organisations = [o for o in organisations if scope is None or o.id == scope]
    page = {
        "questionnaire": questionnaire,
        "schema": schema,
        "can_edit": can_edit,
        "can_copy": may(current_user, COORDINATOR),
        "choose": (wards, organisations),
        "test_answers": records.count(questionnaire, Response.TEST, records.scope_terms(scope)),
    }
    if request.method == "GET":
        return render_template(
            "questionnaires/preview.html",
            form=MultiDict(),
            errors={},
            client_uuid=str(uuid.uuid4()),
            **page,
        )
    if not can_edit:
        abort(403)
    client_uuid = request.form.get("client_uuid", "")
    errors = {}
    ward_id, organisation_id = chosen_place(page["choose"], request.form, errors)
    outcome = check_answers(schema, request.form)
    errors.update(outcome.errors)
    if not valid_client_uuid(client_uuid):
        errors["client_uuid"] = _("This form is incomplete. Please open it again.")
    if errors:
        return render_template(
            "questionnaires/preview.html",
            form=request.form,
            errors=errors,
            client_uuid=client_uuid if valid_client_uuid(client_uuid) else str(uuid.uuid4()),
            **page,
        ), 422
    result = submit.store_test(
        current_user, questionnaire, (ward_id, organisation_id), client_uuid, outcome.values
    )
    if result == submit.STORED:
        flash(_("Test answer stored. It counts in no figure."))
    elif result == submit.DUPLICATE:
        flash(_("This test answer was stored already."))
    else:
        flash(_("This form is incomplete. Please open it again."))
    return redirect(url_for("responses.tests", slug=slug), 303)


@bp.route("/questionnaires/<slug>/export.json")
@access(VIEWER)
def export_json(slug):
    """Download the questionnaire file (the same JSON as `survey questionnaire export`)."""
    questionnaire = questionnaire_or_404(slug)
    body = json.dumps(authoring.export(questionnaire), ensure_ascii=False, indent=2)
    return HTTPResponse(
        body + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{questionnaire.slug}.json"'},
    )
