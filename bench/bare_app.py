"""The yardstick of bench/submit.py: a bare Flask POST endpoint answering 204, nothing else.

Served under the same gunicorn settings as survey:
`gunicorn -c gunicorn.conf.py --pythonpath bench 'bare_app:create_app()'`.
"""

from flask import Flask


def create_app():
    """Create a Flask app whose one endpoint takes any POST and answers 204 No Content."""
    app = Flask(__name__)

    @app.post("/")
    @app.post("/<path:anything>")
    def take(anything=None):
        """Answer 204 without reading the body: the floor any real handler stands on."""
        return "", 204

    return app
