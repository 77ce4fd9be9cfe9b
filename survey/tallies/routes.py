"""Tally screens: the live tally page, free-text answers, the printable report and the exports."""

import json
import os
import tempfile

from flask import (
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404, object_list

from survey.downloads import download, export_detail, primed
from survey.errors import render_error
from survey.i18n import gettext as _
from survey.models import AuditEvent, Choice, ExportJob, Organisation, Question, Ward
from survey.params import page_number
from survey.security import ADMIN, VIEWER, access, organisation_scope, questionnaire_or_404
from survey.tallies import bp, exports, hotspots, jobs, waves
from survey.tallies.counting import (
    CROSS_KINDS,
    FilterError,
    filtered_responses,
    parse_filters,
    tally,
    text_answers,
    threshold,
)
from survey.tallies.forms import TallyFilterForm
from survey.tallies.timeline import timeline

EXPORT = "responses.export"  # the audit action of every download here


def _live_ms():
    """Return how often the tally page refreshes itself (TALLY_REFRESH_SECONDS, 15 by default)."""
    return int(current_app.config.get("TALLY_REFRESH_SECONDS", 15) * 1000)


@bp.errorhandler(FilterError)
def bad_filter(error):
    """Answer an unknown ward, organisation, breakdown or date with a 400 that says which."""
    return render_error(400, str(error))


def _load(slug):
    """Return the questionnaire of the URL and the filters of the query string (scoped)."""
    questionnaire = questionnaire_or_404(slug)
    return questionnaire, parse_filters(request.args, organisation_scope(), questionnaire)


def _filter_form(filters, questionnaire=None):
    """Return the GET filter form, its organisations limited to the viewer's scope."""
    orgs = Organisation.ordered()
    if filters.scope is not None:
        orgs = orgs.where(Organisation.id == filters.scope)
    form = TallyFilterForm(request.args, wards=Ward.ordered(), organisations=orgs)
    if questionnaire is not None:
        form.offer_questions(
            questionnaire.ordered_questions().where(Question.kind.in_(CROSS_KINDS))
        )
    return form


@bp.route("/questionnaires/<slug>/tallies")
@access(VIEWER)
def show(slug):
    """Show every question's counts, with filters and a breakdown; the page refreshes itself."""
    questionnaire, filters = _load(slug)
    t = tally(questionnaire, filters)
    return render_template(
        "tallies/show.html",
        t=t,
        wave=waves.compare(questionnaire, t, filters),
        form=_filter_form(filters, questionnaire),
        params=filters.params(),
        live_ms=_live_ms(),
        periods=timeline(questionnaire, filters),
        hotspots=hotspots.hotspots(questionnaire, filters),
        hotspot_k=max(hotspots.HOTSPOT_K, threshold(questionnaire)),
    )


@bp.route("/questionnaires/<slug>/tallies/live")
@access(VIEWER)
def live(slug):
    """Return the figures of the tally page alone, for the page's refresh script."""
    questionnaire, filters = _load(slug)
    t = tally(questionnaire, filters)
    return render_template(
        "tallies/_body.html",
        t=t,
        wave=waves.compare(questionnaire, t, filters),
        params=filters.params(),
    )


@bp.route("/questionnaires/<slug>/answers/<key>")
@access(VIEWER)
def answers(slug, key):
    """List a free-text question's answers, newest first, searchable and paged."""
    questionnaire, filters = _load(slug)
    question = get_object_or_404(
        Question,
        (Question.questionnaire == questionnaire)
        & (Question.key == key)
        & Question.kind.in_(("text", "longtext", "date", "single", "multi")),
    )
    # A choice question lists the texts written beside its “Khác (ghi rõ)” choices: it needs one.
    if question.kind in ("single", "multi") and not question.choices.where(Choice.other).exists():
        abort(404)
    k = threshold(questionnaire)
    withheld = 0 < filtered_responses(questionnaire, filters) < k
    search = request.args.get("q", "")[:200]
    return object_list(
        "tallies/answers.html",
        text_answers(questionnaire, question, filters, search),
        paginate_by=25,
        page=page_number(),
        check_bounds=False,
        questionnaire=questionnaire,
        question=question,
        search=search,
        withheld=withheld,
        k=k,
        params=filters.params(),
    )


def _stream_file(path):
    """Yield a file's bytes in blocks, then delete it."""
    try:
        with open(path, "rb") as handle:
            while block := handle.read(64 * 1024):
                yield block
    finally:
        os.unlink(path)


def _temp_xlsx(sheets):
    """Write sheets to a temporary XLSX file and return its path."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        exports.write_xlsx(path, sheets)
    except BaseException:
        os.unlink(path)
        raise
    return path


def _raw_refused(questionnaire):
    """Return a 403 when someone other than an admin asks a suppressed questionnaire's rows."""
    if threshold(questionnaire) > 1 and current_user.role != ADMIN:
        # A row per response would show the small groups the tallies withhold.
        return render_error(403, _("Row-by-row exports of this questionnaire are for admins only."))
    return None


def _codes():
    """Tell whether the analysts' variant (keys and codes) was asked for with ?codes=1."""
    return request.args.get("codes") == "1"


def _name(slug, codes, ending):
    """Return a download's file name: the codes variant says so."""
    return f"{slug}{'-codes' if codes else ''}{ending}"


@bp.route("/questionnaires/<slug>/export.csv")
@access(VIEWER)
def export_csv(slug):
    """Download the responses (within scope and filters) as CSV, streamed row batch by batch."""
    questionnaire, filters = _load(slug)
    if refused := _raw_refused(questionnaire):
        return refused
    codes = _codes()
    # Too long to stream within a worker's timeout, or as many exports as may hold a worker
    # are streaming: this one is prepared as a job.
    too_long = exports.count_rows(questionnaire, filters) > current_app.config["EXPORT_STREAM_ROWS"]
    slot = None if too_long else jobs.stream_slot()
    if slot is None:
        return _start_job(questionnaire, "csv", codes)
    try:
        rows = primed(exports.response_rows(questionnaire, filters, codes, text=True))
    except BaseException:
        slot.close()
        raise
    name = _name(slug, codes, ".csv")
    chunks = jobs.holding(slot, exports.csv_stream(rows, prepared=True))
    detail = export_detail("csv", codes, filters.params())
    return download(chunks, "text/csv", name, EXPORT, slug, detail=detail)


@bp.route("/questionnaires/<slug>/codebook.csv")
@access(VIEWER)
def codebook_csv(slug):
    """Download the codebook of the CSV exports: columns, keys, kinds, codes and their labels."""
    questionnaire, filters = _load(slug)
    rows = exports.codebook_rows(questionnaire, filters.scope)
    response = Response(exports.csv_stream(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-codebook.csv"'
    return response


@bp.route("/questionnaires/<slug>/export.xlsx")
@access(VIEWER)
def export_xlsx(slug):
    """Download the responses (within scope and filters) and the codebook as an XLSX workbook."""
    questionnaire, filters = _load(slug)
    if refused := _raw_refused(questionnaire):
        return refused
    codes = _codes()
    if exports.count_rows(questionnaire, filters) > current_app.config["EXPORT_INLINE_ROWS"]:
        return _start_job(questionnaire, "xlsx", codes)
    rows = exports.response_rows(questionnaire, filters, codes)
    path = _temp_xlsx(exports.response_sheets(questionnaire, filters, rows, codes))
    name = _name(slug, codes, ".xlsx")
    detail = export_detail("xlsx", codes, filters.params())
    return download(_stream_file(path), exports.XLSX_TYPE, name, EXPORT, slug, detail=detail)


@bp.route("/questionnaires/<slug>/tallies.xlsx")
@access(VIEWER)
def tallies_xlsx(slug):
    """Download the tallies: a summary, each breakdown and the ward × organisation table."""
    questionnaire, filters = _load(slug)
    codes = _codes()
    filters.by = None
    summary = tally(questionnaire, filters)
    rows, header = exports.summary_rows(summary, codes)
    sheets = [exports.Sheet(_("Summary"), rows, header)]
    for by, title in (("ward", _("By ward")), ("organisation", _("By organisation"))):
        filters.by = by
        rows = exports.breakdown_rows(tally(questionnaire, filters), codes)
        sheets.append(exports.Sheet(title, rows))
    sheets.append(exports.Sheet(_("Ward × organisation"), exports.cross_rows(summary, codes)))
    path = _temp_xlsx(sheets)
    name = _name(slug, codes, "-tallies.xlsx")
    detail = export_detail("tallies", codes, filters.params())
    return download(_stream_file(path), exports.XLSX_TYPE, name, EXPORT, slug, detail=detail)


def _start_job(questionnaire, kind, codes):
    """Prepare this export as a job (audited) and answer 303 to the job's page."""
    params = {
        "args": list(request.args.items(multi=True)),
        "codes": codes,
        "locale": str(get_locale()),
        "scope": organisation_scope(),
    }
    job = jobs.create(questionnaire, current_user, kind, params)
    detail = export_detail(kind, codes, request.args)
    AuditEvent.record(current_user, "export_job.create", questionnaire.slug, detail=detail)
    return redirect(url_for("tallies.export_job", slug=questionnaire.slug, token=job.token), 303)


def _own_job(slug, token):
    """Return the viewer's own job of this questionnaire, or answer 404."""
    questionnaire = questionnaire_or_404(slug)
    job = ExportJob.get_or_none(
        (ExportJob.token == token)
        & (ExportJob.questionnaire == questionnaire.id)
        & (ExportJob.user == current_user.id)
    )
    if job is None:
        abort(404)
    return questionnaire, job


@bp.route("/questionnaires/<slug>/exports/<token>")
@access(VIEWER)
def export_job(slug, token):
    """Show a job's progress and, once done, its download link (JSON when asked for JSON)."""
    questionnaire, job = _own_job(slug, token)
    state = jobs.state(job)
    link = url_for("tallies.export_file", slug=slug, token=token) if state == jobs.DONE else None
    progress = 1.0 if state == jobs.DONE else job.progress
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    ):
        return jsonify(state=state, progress=progress, download=link)
    return render_template(
        "tallies/export_job.html",
        questionnaire=questionnaire,
        job=job,
        state=state,
        progress=progress,
        link=link,
    )


@bp.route("/questionnaires/<slug>/exports/<token>/file")
@access(VIEWER)
def export_file(slug, token):
    """Download a finished job's file; audited once it has been sent whole."""
    _questionnaire, job = _own_job(slug, token)
    if jobs.state(job) != jobs.DONE:
        abort(404)
    params = json.loads(job.params)
    codes = params.get("codes", False)
    mimetype = "text/csv" if job.kind == "csv" else exports.XLSX_TYPE
    name = _name(slug, codes, "." + job.kind)
    detail = export_detail(job.kind, codes, dict(params.get("args", [])))
    return download(jobs.file_chunks(job.file), mimetype, name, EXPORT, slug, detail=detail)
