"""Gzip for text answers (pages, CSS, scripts, JSON), so the phone form stays light on slow data."""
import gzip

from flask import request

COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript",
                "application/json", "text/csv", "image/svg+xml"}
MIN_SIZE = 500
# Static files are the same bytes every time: keep their gzip by path and ETag.
_static_cache = {}
_STATIC_CACHE_MAX = 64


def worth_trying(response):
    """Tell whether this answer (with a body) may be gzipped: not yet encoded, gzip accepted, not streamed."""
    return ("Content-Encoding" not in response.headers
            and request.accept_encodings["gzip"] > 0
            and (response.direct_passthrough or not response.is_streamed))


def gzipped(data, cache_key=None):
    """Return the gzip of a body, from the cache when the key was seen before."""
    if cache_key in _static_cache:
        return _static_cache[cache_key]
    packed = gzip.compress(data, compresslevel=6, mtime=0)
    if cache_key is not None:
        if len(_static_cache) >= _STATIC_CACHE_MAX:
            _static_cache.clear()
        _static_cache[cache_key] = packed
    return packed


def compress(response):
    """Gzip a compressible body larger than MIN_SIZE when the client accepts it."""
    if response.mimetype not in COMPRESSIBLE or not (
            response.status_code == 200 or 400 <= response.status_code < 600):
        return response  # a redirect or an empty answer: no body to compress, nothing varies
    response.vary.add("Accept-Encoding")
    if not worth_trying(response):
        return response
    is_file = response.direct_passthrough
    response.direct_passthrough = False  # a static file: small, read it whole
    data = response.get_data()
    if len(data) <= MIN_SIZE:
        return response
    etag, _ = response.get_etag()
    response.set_data(gzipped(data, (request.path, etag) if is_file and etag else None))
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        response.set_etag(etag, weak=True)  # the same content in another encoding
    return response


def init_app(app):
    """Compress every answer that is worth it."""
    app.after_request(compress)
