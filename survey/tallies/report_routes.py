"""The reports' screens: the Word report's settings form and .docx, the printable A4 report, charts.

The printable page and the Word file say the same: issuing unit, title, rates by ward and
organisation, each question's table and chart, hotspots, written answers, recipients and
signature, from the same settings (`report.read_settings`) and the same helpers.
"""

from flask import Response, render_template, request
from playhouse.flask_utils import get_object_or_404
from werkzeug.datastructures import MultiDict

from survey.downloads import download, export_detail
from survey.models import Question, utcnow
from survey.security import VIEWER, access, organisation_scope, questionnaire_or_404
from survey.tallies import bp, charts, hotspots, report, waves
from survey.tallies.counting import parse_filters, tally
from survey.tallies.forms import ReportForm

EXPORT = "responses.export"  # a report quotes written answers: audited as a download
FILTER_KEYS = ("ward", "organisation", "from", "to")


def _filters(slug):
    """Return the questionnaire and its filters (no breakdown: a report shows the whole)."""
    questionnaire = questionnaire_or_404(slug)
    filters = parse_filters(request.args, organisation_scope(), questionnaire)
    filters.by = filters.question = None
    return questionnaire, filters


def report_hotspots(questionnaire, filters):
    """Return the hotspots the report lists, or None where they do not apply."""
    if not hotspots.concern_terms(questionnaire):
        return None  # no question marks concern: the report leaves the section out
    return hotspots.hotspots(questionnaire, filters)


@bp.route("/questionnaires/<slug>/report/word")
@access(VIEWER)
def report_form(slug):
    """Show the Word report's settings, filled with the configured defaults."""
    questionnaire, filters = _filters(slug)
    settings = report.read_settings(request.args)
    defaults = MultiDict(
        {
            **{name: getattr(settings, name) for name, _key in report.SETTINGS},
            "recipients": "\n".join(settings.recipients),
            "texts": str(settings.texts),
        }
    )
    return render_template(
        "tallies/report_form.html",
        questionnaire=questionnaire,
        form=ReportForm(defaults),
        params=filters.params(),
    )


@bp.route("/questionnaires/<slug>/report", endpoint="report")
@access(VIEWER)
def printable(slug):
    """Show the printable A4 report (the Word report's content; settings as its GET parameters)."""
    questionnaire = questionnaire_or_404(slug)
    filters = parse_filters(request.args, organisation_scope(), questionnaire)
    settings = report.read_settings(request.args)
    t = tally(questionnaire, filters)
    wave = waves.compare(questionnaire, t, filters)
    texts = {
        qt.key: report.written_answers(t, qt.question, settings.texts)
        for qt in t.questions
        if qt.kind in report.WRITTEN_KINDS and settings.texts
    }
    return render_template(
        "tallies/report.html",
        t=t,
        params=filters.params(),
        now=utcnow(),
        wave=wave,
        settings=settings,
        report=report,
        rates=report.rate_tables(t, filters.scope, wave),
        hotspots=report_hotspots(questionnaire, filters),
        hotspot_k=max(hotspots.HOTSPOT_K, t.k),
        texts=texts,
    )


@bp.route("/questionnaires/<slug>/report.docx")
@access(VIEWER)
def report_docx(slug):
    """Download the tally (filters as on the tally page) as a report in the official layout."""
    questionnaire, filters = _filters(slug)
    settings = report.read_settings(request.args)
    t = tally(questionnaire, filters)
    body = report.build(
        t,
        settings,
        filters.scope,
        hotspots=report_hotspots(questionnaire, filters),
        wave=waves.compare(questionnaire, t, filters),
    )
    detail = export_detail("report", filters=filters.params())
    return download([body], report.DOCX_TYPE, f"{slug}-report.docx", EXPORT, slug, detail=detail)


def _counted_question(slug, key):
    """Return the tally of the questionnaire and the question of a chart, or answer 404."""
    questionnaire, filters = _filters(slug)
    get_object_or_404(
        Question,
        (Question.questionnaire == questionnaire)
        & (Question.key == key)
        & Question.kind.in_(("single", "multi", "scale", "number")),
    )
    t = tally(questionnaire, filters)
    return t, next(qt for qt in t.questions if qt.key == key)


@bp.route("/questionnaires/<slug>/charts/<key>.svg")
@access(VIEWER)
def chart_svg(slug, key):
    """Download a question's bar chart as SVG."""
    t, qt = _counted_question(slug, key)
    body = render_template("tallies/chart.svg", qt=qt, t=t)
    response = Response(body, mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{key}.svg"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/questionnaires/<slug>/charts/<key>.png")
@access(VIEWER)
def chart_png(slug, key):
    """Download a question's bar chart as PNG."""
    t, qt = _counted_question(slug, key)
    response = Response(charts.png(qt, t.k), mimetype="image/png")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{key}.png"'
    response.headers["Cache-Control"] = "no-store"
    return response
