"""QR codes as SVG text or PNG bytes, drawn with segno (choosing a code's mask costs ~5 ms).

A collaborator's card code is drawn once per link and kept in the database beside them
(CollaboratorCode), so a sheet of thousands of cards reads them back; other codes (posters,
one collaborator's page) are cached in-process, apart from the cards, so neither evicts the other.
"""

import functools
import io

import segno
from peewee import EXCLUDED

from survey.db import database
from survey.models import CollaboratorCode

# Posters of a questionnaire (wards × organisations, ~1,000 city-wide) and single codes.
CACHE_SIZE = 2048
BORDER = 4  # the standard four-module quiet zone


def _code(text):
    """Return a QR code holding text at error correction level M (never raised: same size)."""
    return segno.make_qr(text, error="m", boost_error=False)


def draw_svg(text):
    """Draw an SVG document (no XML declaration, to inline in HTML) showing text as a QR code."""
    buffer = io.BytesIO()
    _code(text).save(
        buffer, kind="svg", xmldecl=False, svgns=True, svgclass=None, lineclass=None,
        omitsize=True, border=BORDER, nl=False,
    )  # fmt: skip
    markup = buffer.getvalue().decode()
    # Sharp module edges, and a label for screen readers; no style attribute (strict CSP).
    return markup.replace(
        "<svg ", '<svg class="qr" role="img" aria-label="QR" shape-rendering="crispEdges" ', 1
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def svg(text):
    """Return the SVG of text's QR code, cached in-process."""
    return draw_svg(text)


@functools.lru_cache(maxsize=CACHE_SIZE)
def png(text, box_size=8):
    """Return PNG bytes showing text as a QR code, box_size pixels a module."""
    buffer = io.BytesIO()
    _code(text).save(buffer, kind="png", scale=box_size, border=BORDER)
    return buffer.getvalue()


def card_svgs(links):
    """Return {collaborator id: SVG} for {collaborator id: link}, drawing only the codes not kept
    yet or kept for another link (rotated, or another BASE_URL), and keeping those."""
    kept = {}
    if links:
        query = CollaboratorCode.select().where(CollaboratorCode.collaborator.in_(list(links)))
        kept = {row.collaborator_id: row for row in query}
    codes, drawn = {}, []
    for person, link in links.items():
        row = kept.get(person)
        if row is not None and row.link == link:
            codes[person] = row.svg
        else:
            codes[person] = draw_svg(link)
            drawn.append({"collaborator": person, "link": link, "svg": codes[person]})
    if drawn:
        keep_codes(drawn)
    return codes


def keep_codes(rows):
    """Store drawn card codes, replacing a collaborator's older one (two sheets may race)."""
    with database.atomic():
        CollaboratorCode.insert_many(rows).on_conflict(
            conflict_target=[CollaboratorCode.collaborator],
            update={CollaboratorCode.link: EXCLUDED.link, CollaboratorCode.svg: EXCLUDED.svg},
        ).execute()


def clear_cache():
    """Forget every code cached in-process (for tests and measurements)."""
    svg.cache_clear()
    png.cache_clear()
