"""Bar charts of a question's tally: the rows both drawings share, and the PNG for Word files.

Pages draw the same rows as inline SVG (templates/tallies/_chart.html); the Word report needs
a picture, drawn here with Pillow. A withheld count draws no bar and reads "< k".
"""

import io
import os
from dataclasses import dataclass

from flask import current_app
from PIL import Image, ImageDraw, ImageFont

from survey.numbers import format_number, format_share

# Fonts with Vietnamese letters, tried in order when SURVEY_REPORT_CHART_FONT names none.
FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
WIDTH = 1600  # pixels; printed 16 cm wide, about 250 dots an inch
ROW = 72
LABEL_WIDTH = 600
VALUE_WIDTH = 330
BAR = (11, 87, 164)
TRACK = (230, 230, 230)
INK = (20, 20, 20)
LONGEST_LABEL = 40


@dataclass
class Bar:
    """One bar: a choice's label, count (None when withheld) and share of those who answered."""

    label: str
    count: int | None
    percent: float | None

    def value(self, k):
        """Return the text written after the bar: count and share, or "< k" when withheld."""
        if self.count is None:
            return f"< {k}"
        if self.percent is None:
            return format_number(self.count)
        return f"{format_number(self.count)} ({format_share(self.percent)})"


def bars(qt):
    """Return the bars of a question's tally (its choices, scale values or number ranges)."""
    return [Bar(c.label, c.count, c.percent) for c in qt.columns]


def short(label):
    """Cut a long label to fit beside its bar."""
    return label if len(label) <= LONGEST_LABEL else label[: LONGEST_LABEL - 1] + "…"


def _font(size):
    """Return a font with Vietnamese letters: the configured one, a system one, else Pillow's."""
    configured = current_app.config.get("REPORT_CHART_FONT") or ""
    for path in (configured, *FONT_PATHS):
        if path and os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def png(qt, k):
    """Draw a question's bars as a PNG and return its bytes."""
    rows = bars(qt)
    height = ROW * max(len(rows), 1) + 16
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(36)
    track = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    for i, bar in enumerate(rows):
        top = 8 + i * ROW
        middle = top + ROW // 2
        draw.text((LABEL_WIDTH - 16, middle), short(bar.label), fill=INK, font=font, anchor="rm")
        draw.rectangle((LABEL_WIDTH, top + 12, LABEL_WIDTH + track, top + ROW - 12), fill=TRACK)
        length = round(track * (bar.percent or 0) / 100)
        if length > 0:
            draw.rectangle((LABEL_WIDTH, top + 12, LABEL_WIDTH + length, top + ROW - 12), fill=BAR)
        draw.text(
            (LABEL_WIDTH + track + 16, middle), bar.value(k), fill=INK, font=font, anchor="lm"
        )
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
