"""Static files with versioned URLs, so browsers may cache them for a year."""

import hashlib
from pathlib import Path

from flask import request, url_for


def fingerprints(static_folder):
    """Return a short content hash of every file in the static folder, computed once at start-up."""
    root = Path(static_folder)
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in root.rglob("*")
        if path.is_file()
    }


def read_static_whole(response):
    """Read a static file's body into memory, so that compression sees bytes, not an open file.

    Flask-Compress would gzip an open file as a stream and never close it; the app's static
    files are a few kilobytes each.
    """
    if request.endpoint == "static" and response.direct_passthrough:
        response.direct_passthrough = False
        response.get_data()  # closes the file once the answer is sent
    return response


def init_app(app):
    """Offer `static_url(name)` to templates: the static URL carrying the file's hash."""
    # Registered after Flask-Compress's hook, so it runs before it (Flask runs them in reverse).
    app.after_request(read_static_whole)
    versions = fingerprints(app.static_folder)

    def static_url(filename):
        """Return the versioned URL of a static file."""
        return url_for("static", filename=filename, v=versions.get(filename, "0"))

    app.jinja_env.globals["static_url"] = static_url
