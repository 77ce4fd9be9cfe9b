"""The Word report: a questionnaire's tally laid out as a Vietnamese administrative report.

The layout follows the government's rules for administrative documents (Decree 30/2020):
issuing body top left with the number, the national motto top right over the place-and-date
line, the title, the body, then "Nơi nhận" left and the signature right; Times New Roman, A4,
page numbers at the top from page 2. Every figure comes from the Tally the pages show, so a
withheld count is withheld here too, and written answers come through `text_answers`, which
lists none from a group the tallies withhold.
"""

import datetime
import io
from dataclasses import dataclass, field

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from flask import current_app

from survey.i18n import format_day, local_time, other_words
from survey.i18n import gettext as _
from survey.models import Answer, Choice, utcnow
from survey.network.rates import response_rates
from survey.numbers import format_number, format_share
from survey.params import BadParameter
from survey.tallies import charts
from survey.tallies.counting import text_answers
from survey.tallies.waves import difference, format_change

FONT = "Times New Roman"
WRITTEN_KINDS = ("text", "longtext")
MOST_TEXTS = 200  # written answers per question, at most
LONGEST_SETTING = 300
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# The settings a report form may change, with the config name giving each one's default.
SETTINGS = (
    ("parent", "REPORT_PARENT"),
    ("issuer", "REPORT_ISSUER"),
    ("abbreviation", "REPORT_ABBREVIATION"),
    ("number", "REPORT_NUMBER"),
    ("place", "REPORT_PLACE"),
    ("signer", "REPORT_SIGNER"),
    ("signer_title", "REPORT_SIGNER_TITLE"),
    ("recipients", "REPORT_RECIPIENTS"),
)


@dataclass
class ReportSettings:
    """Who issues and signs a report, where, and how many written answers it quotes."""

    parent: str = ""
    issuer: str = ""
    abbreviation: str = ""
    number: str = ""
    place: str = ""
    signer: str = ""
    signer_title: str = ""
    recipients: list = field(default_factory=list)
    texts: int = 5
    day: datetime.date | None = None


def _recipients(value):
    """Split recipients given one a line (or as a list) into a list of lines."""
    if isinstance(value, (list, tuple)):
        lines = value
    else:
        lines = str(value or "").replace(";", "\n").splitlines()
    return [line.strip(" -\t") for line in lines if line.strip(" -\t")]


def read_settings(args):
    """Return the report settings: config defaults, overridden by GET parameters; check them."""
    config = current_app.config
    settings = ReportSettings()
    for name, key in SETTINGS:
        raw = args.get(name)
        value = config.get(key, "") if raw is None else raw.strip()
        if name == "recipients":
            value = _recipients(value)
            if sum(len(line) for line in value) > LONGEST_SETTING * 4:
                raise BadParameter(_("The list of recipients is too long."))
        elif len(str(value)) > LONGEST_SETTING:
            raise BadParameter(
                _("Each setting of the report is at most %(n)s characters.", n=LONGEST_SETTING)
            )
        setattr(settings, name, value if name == "recipients" else str(value))
    raw = (args.get("texts") or "").strip()
    if raw:
        if not raw.isdigit() or int(raw) > MOST_TEXTS:
            raise BadParameter(
                _(
                    "The number of written answers per question is a whole number from 0 to %(n)s.",
                    n=MOST_TEXTS,
                )
            )
        settings.texts = int(raw)
    settings.day = local_time(utcnow()).date()
    return settings


# ---------------------------------------------------------------- docx helpers


def _run(paragraph, text, size=13, bold=False, italic=False, underline=False):
    """Add a run of Times New Roman text to a paragraph and return it."""
    run = paragraph.add_run(text)
    run.font.name = FONT
    run.font.size = Pt(size)
    run.bold, run.italic, run.underline = bold, italic, underline
    return run


def _para(container, text="", size=13, bold=False, italic=False, align=None, after=6):
    """Add a paragraph with one run to a document or cell and return it."""
    paragraph = container.add_paragraph()
    if text:
        _run(paragraph, text, size, bold, italic)
    if align is not None:
        paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(after)
    paragraph.paragraph_format.space_before = Pt(0)
    return paragraph


def _heading(document, text, **style):
    """Add a paragraph kept on the page of what follows it: a heading never ends a page."""
    paragraph = _para(document, text, **style)
    paragraph.paragraph_format.keep_with_next = True
    return paragraph


def _cell_text(cell, text, size=12, bold=False, italic=False, align=None):
    """Write text into a table cell's first paragraph."""
    paragraph = cell.paragraphs[0]
    _run(paragraph, text, size, bold, italic)
    if align is not None:
        paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(0)
    return paragraph


def _page_field(paragraph):
    """Add a PAGE field to a paragraph, so Word writes each page's number."""
    run = _run(paragraph, "", size=13)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run.element.append(element)


def _table(document, header, rows, widths=None):
    """Add a bordered table with a bold header row; numbers right-aligned."""
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header):
        _cell_text(cell, text, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    for row in rows:
        cells = table.add_row().cells
        for i, (cell, value) in enumerate(zip(cells, row)):
            align = WD_ALIGN_PARAGRAPH.RIGHT if i and not isinstance(value, str) else None
            text = value if isinstance(value, str) else value[0]
            _cell_text(cell, text, align=align)
    if widths:
        _widths(table, widths)
    _keep_rows(table, header_rows=1)
    _para(document, after=4)
    return table


def _keep_rows(table, header_rows=0):
    """Keep each row of a table on one page, and repeat its header rows atop every page.

    Word and LibreOffice otherwise split a row (a header's two lines) across a page break.
    """
    for index, row in enumerate(table.rows):
        properties = row._tr.get_or_add_trPr()
        properties.append(OxmlElement("w:cantSplit"))
        if index < header_rows:
            properties.append(OxmlElement("w:tblHeader"))


def _widths(table, widths):
    """Fix a table's column widths (Word reads the cells', LibreOffice the columns')."""
    table.autofit = False
    for column, width in zip(table.columns, widths):
        column.width = Cm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = Cm(width)


def _count(value, k):
    """Write a count for a table (right-aligned): withheld as "< k"."""
    return (f"< {k}" if value is None else format_number(value),)


def _share(value):
    """Write a percentage for a table (right-aligned): a dash when withheld or undefined."""
    return ("–" if value is None else format_share(value),)


# ---------------------------------------------------------------- the parts


def _page_setup(document):
    """Set A4 portrait, the decree's margins, Times New Roman, and page numbers from page 2."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(13)
    # East Asian text falls back to another font unless told; Vietnamese must stay in Times.
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    section.different_first_page_header_footer = True
    header = section.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_field(header)


def _heading_block(document, settings):
    """Write the issuing body and number (left), the motto and place-and-date line (right)."""
    table = document.add_table(rows=1, cols=2)
    _widths(table, (6.5, 10))
    left, right = table.rows[0].cells
    if settings.parent:
        _cell_text(left, settings.parent.upper(), size=12, align=WD_ALIGN_PARAGRAPH.CENTER)
        _para(left, settings.issuer.upper(), size=12, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    else:
        _cell_text(
            left, settings.issuer.upper(), size=12, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER
        )
    _para(left, "———", size=12, align=WD_ALIGN_PARAGRAPH.CENTER, after=4)
    _para(left, number_line(settings), size=13, align=WD_ALIGN_PARAGRAPH.CENTER)
    _cell_text(
        right,
        _("SOCIALIST REPUBLIC OF VIETNAM"),
        size=12,
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
    )
    motto = _para(right, align=WD_ALIGN_PARAGRAPH.CENTER, after=4)
    _run(motto, _("Independence - Freedom - Happiness"), size=13, bold=True, underline=True)
    _para(right, date_line(settings), size=13, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER)


def number_line(settings):
    """Return the report's number line ("Số: 12/BC-MTTQ"; blank room for the number if none)."""
    number = settings.number or "\u2003\u2003"
    suffix = f"BC-{settings.abbreviation}" if settings.abbreviation else "BC"
    return _("No.: %(number)s/%(suffix)s", number=number, suffix=suffix)


def date_line(settings):
    """Return the place-and-date line ("Quận 10, ngày 01 tháng 12 năm 2026")."""
    day = settings.day
    line = _(
        "%(place)s, day %(day)s month %(month)s year %(year)s",
        place=settings.place,
        day=f"{day.day:02d}",
        month=f"{day.month:02d}",
        year=day.year,
    )
    return line.lstrip(", ")


def _title(document, t):
    """Write the title: REPORT, then what it reports on, and the filters it counts under."""
    _para(document, after=0)
    _para(document, _("REPORT"), size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _para(
        document,
        _("Results of the survey “%(title)s”", title=t.questionnaire.title),
        size=14,
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        after=12,
    )
    said = filters_said(t)
    if said:
        _para(document, said, italic=True)


def filters_said(t):
    """Return the sentence naming the filters a report counts under, or "" for the whole."""
    said = []
    if t.filters.ward:
        said.append(_("ward %(name)s", name=t.filters.ward.name))
    if t.filters.organisation:
        said.append(_("organisation %(name)s", name=t.filters.organisation.name))
    elif t.filters.scope and t.organisations:
        said.append(_("organisation %(name)s", name=t.organisations[0].name))
    if t.filters.start:
        said.append(_("from %(day)s", day=format_day(t.filters.start)))
    if t.filters.end:
        said.append(_("to %(day)s", day=format_day(t.filters.end)))
    return _("Counting only: %(what)s.", what="; ".join(said)) if said else ""


def _overview(document, t, scope, wave=None):
    """Write the responses and response rates by ward and by organisation (and the earlier wave)."""
    _heading(document, _("I. RESPONSES AND RESPONSE RATES"), bold=True)
    _para(
        document,
        _("Responses counted: %(n)s.", n=_count(t.responses, t.k)[0]),
    )
    if wave is not None:
        _para(document, wave_said(wave, t), size=12, italic=True)
    if t.k > 1:
        _para(document, privacy_said(t), size=12, italic=True)
    for header, rows, widths in rate_tables(t, scope, wave):
        _table(document, header, rows, widths=widths)


def privacy_said(t):
    """Return the sentence saying how a report writes withheld counts."""
    return _(
        "To protect respondents, counts from 1 to %(last)s are written “< %(k)s”, and "
        "so is any figure from which one of them could be worked out.",
        last=t.k - 1,
        k=t.k,
    )


def rate_tables(t, scope, wave=None):
    """Return [(header, rows, widths)]: responses and response rates by ward, by organisation.

    A cell is text (left-aligned) or a 1-tuple holding a figure (right-aligned); with an
    earlier wave a last column gives its responses, withheld by its own rules.
    """
    tables = []
    parts = (
        ("ward", _("Ward"), t.wards, t.ward_totals),
        ("organisation", _("Organisation"), t.organisations, t.organisation_totals),
    )
    for by, label, groups, totals in parts:
        rates = {r["code"]: r for r in response_rates(t.questionnaire, by, scope)}
        rows = []
        for g in groups:
            rate = rates.get(g.code, {"expected": 0, "answered": 0})
            share = 100 * rate["answered"] / rate["expected"] if rate["expected"] else None
            rows.append(
                [
                    g.name,
                    _count(totals.get(g.code), t.k),
                    (format_number(rate["expected"]),),
                    (format_number(rate["answered"]),),
                    _share(share),
                ]
            )
            if wave is not None:
                before = wave.tally.ward_totals if by == "ward" else wave.tally.organisation_totals
                rows[-1].append(_count(before.get(g.code), wave.tally.k))
        header = [label, _("Responses"), _("Collaborators"), _("Answered"), _("Rate")]
        widths = (5.5, 2.6, 2.9, 2.6, 2.4)
        if wave is not None:
            header.append(_("Earlier wave"))
            widths = (4.2, 2.4, 2.7, 2.4, 2.1, 2.6)
        tables.append((header, rows, widths))
    return tables


def wave_said(wave, t):
    """Return the sentence naming the earlier wave, its responses and the change."""
    return _(
        "Earlier wave: “%(title)s”, %(n)s responses (change %(change)s). Shares change in "
        "percentage points, means by their difference; the earlier wave's figures follow its "
        "own privacy rules.",
        title=wave.earlier.title,
        n=_count(wave.tally.responses, wave.tally.k)[0],
        change=format_change(wave.responses_change(t.responses), 0),
    )


def _question(document, qt, t, number, settings, wave=None):
    """Write one question: its table (beside the earlier wave's) and chart, or written answers."""
    q = qt.question
    pq = wave.get(qt.key) if wave is not None else None
    _heading(document, _("Question %(n)s. %(prompt)s", n=number, prompt=q.prompt), bold=True)
    said = _(
        "Answered: %(a)s; skipped: %(s)s.",
        a=_count(qt.answered, t.k)[0],
        s=_count(qt.skipped, t.k)[0],
    )
    if q.show_if_question:
        said += " " + _("Not asked (skip logic): %(n)s.", n=_count(qt.not_asked, t.k)[0])
    if qt.kind in ("scale", "number"):
        mean = "–" if qt.mean is None else format_number(qt.mean, 2)
        said += " " + _("Mean: %(mean)s.", mean=mean)
    _heading(document, said, size=12, italic=True)
    if pq is not None:
        _heading(document, _earlier_said(pq, qt, wave), size=12, italic=True)
    if qt.columns:
        header = [_("Range") if qt.kind == "number" else _("Answer"), _("Count"), "%"]
        rows = [[c.label, _count(c.count, t.k), _share(c.percent)] for c in qt.columns]
        widths = (10, 3, 3)
        if pq is not None and qt.kind != "number":
            header += [_("Earlier wave"), _("Change (points)")]
            for row, c in zip(rows, qt.columns):
                row += [_share(pq.percent(c.key)), (format_change(pq.change(c)),)]
            widths = (6.6, 2.2, 2.2, 2.6, 2.4)
        _table(document, header, rows, widths=widths)
        document.add_picture(io.BytesIO(charts.png(qt, t.k)), width=Cm(15))
        document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    if settings.texts and (qt.kind in WRITTEN_KINDS or _has_other(q)):
        texts = written_answers(t, q, settings.texts)
        if texts is None:
            _para(document, _("Written answers are withheld to protect respondents."), size=12)
        for text in texts or ():
            paragraph = _para(document, "", size=12, after=2)
            _run(paragraph, f"– {text}", size=12)


def _earlier_said(pq, qt, wave):
    """Return the line giving a question's earlier-wave answered count (and mean, with change)."""
    said = _("Earlier wave: answered %(n)s.", n=_count(pq.answered, wave.tally.k)[0])
    if qt.kind in ("scale", "number"):
        mean = "–" if pq.mean is None else format_number(pq.mean, 2)
        said += " " + _(
            "Mean: %(mean)s (change %(change)s).",
            mean=mean,
            change=format_change(pq.mean_change(qt.mean), 2),
        )
    return said


def _has_other(question):
    """Tell whether a choice question has an “other” choice, whose texts the report quotes."""
    return (
        question.kind in ("single", "multi")
        and Choice.select().where(Choice.question == question.id, Choice.other).exists()
    )


def written_answers(t, question, limit):
    """Return up to `limit` written answers under the tally's filters, or None when withheld.

    The text written beside an “other” choice comes after the choice's label.
    """
    if t.k > 1 and t.responses is None:
        return None
    query = text_answers(t.questionnaire, question, t.filters).limit(limit)
    rows = query.select_extend(Answer.choice).tuples()
    labels = dict(
        Choice.select(Choice.id, Choice.label).where(Choice.question == question.id).tuples()
    )
    return [
        other_words(labels.get(row[-1], "?"), row[0]) if row[-1] is not None else row[0]
        for row in rows
    ]


def _hotspots(document, found, t):
    """Write the hotspots: where a question's concern share stands above the district's."""
    if found is None:
        return
    _heading(document, _("III. HOTSPOTS"), bold=True)
    if not found:
        _para(document, _("No ward or organisation stands out."), size=12)
        return
    rows = [
        [
            h.question.prompt,
            h.place,
            (format_number(h.responses),),
            _share(100 * h.share),
            _share(100 * h.district_share),
        ]
        for h in found
    ]
    header = [_("Question"), _("Where"), _("Responses"), _("Concern"), _("District")]
    widths = (5.5, 4.5, 2.3, 2.2, 2.2)
    if any(h.compared for h in found):  # as on the tally page: the earlier share, the change
        header += [_("Earlier wave"), _("Change (points)")]
        for row, h in zip(rows, found):
            before = None if h.previous_share is None else 100 * h.previous_share
            row += [_share(before), (format_change(difference(100 * h.share, before)),)]
        widths = (3.6, 3.2, 1.9, 1.9, 1.9, 2.0, 2.0)
    _table(document, header, rows, widths=widths)


def _closing(document, settings):
    """Write "Nơi nhận" (left) and the signature block (right)."""
    _para(document, after=6)
    table = document.add_table(rows=1, cols=2)
    _widths(table, (7.5, 9))
    left, right = table.rows[0].cells
    _cell_text(left, _("Recipients:"), size=12, bold=True, italic=True)
    for line in settings.recipients:
        _para(left, f"- {line};", size=11, after=0)
    if settings.signer_title:
        _cell_text(
            right,
            settings.signer_title.upper(),
            size=13,
            bold=True,
            align=WD_ALIGN_PARAGRAPH.CENTER,
        )
    for _blank in range(4):
        _para(right, after=0)
    _para(right, settings.signer, size=13, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    # One row that cannot split: the signer's name never goes to a page without the title.
    _keep_rows(table)
    for paragraph in right.paragraphs[:-1]:
        paragraph.paragraph_format.keep_with_next = True


def build(t, settings, scope=None, hotspots=None, wave=None):
    """Return the Word file of a tally as bytes (wave: the earlier wave's Comparison, or None)."""
    document = Document()
    _page_setup(document)
    _heading_block(document, settings)
    _title(document, t)
    _overview(document, t, scope, wave)
    _heading(document, _("II. RESULTS BY QUESTION"), bold=True)
    number = 0
    for qt in t.questions:
        if qt.kind == "section":
            _heading(document, qt.question.prompt.upper(), bold=True, italic=True)
            continue
        number += 1
        _question(document, qt, t, number, settings, wave)
    _hotspots(document, hotspots, t)
    _closing(document, settings)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
