"""QR codes as SVG text or PNG bytes, cached in-process (drawing one costs several milliseconds)."""

import functools
import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

# A card sheet draws dozens of codes and is printed again and again; links change rarely.
CACHE_SIZE = 2048


def _code(text, box_size=10):
    """Return a QRCode holding text, with the standard four-module quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code


@functools.lru_cache(maxsize=CACHE_SIZE)
def svg(text):
    """Return an SVG document (no XML declaration, to inline in HTML) showing text as a QR code."""
    image = _code(text).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    markup = image.to_string(encoding="unicode")
    # Sharp module edges, and a label for screen readers; no style attribute (strict CSP).
    return markup.replace(
        "<svg ", '<svg class="qr" role="img" aria-label="QR" shape-rendering="crispEdges" ', 1
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def png(text, box_size=8):
    """Return PNG bytes showing text as a QR code, box_size pixels a module."""
    buffer = io.BytesIO()
    _code(text, box_size).make_image(fill_color="black", back_color="white").save(buffer)
    return buffer.getvalue()


def clear_cache():
    """Forget every cached code (for tests and measurements)."""
    svg.cache_clear()
    png.cache_clear()
