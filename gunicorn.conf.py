"""gunicorn settings for survey: `gunicorn -c gunicorn.conf.py 'survey:create_app()'`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import logging
import multiprocessing
import os
import re

bind = os.environ.get("SURVEY_BIND", "127.0.0.1:8000")
# Sync workers: each request is short (a form, an insert, a GROUP BY). Two per core.
workers = int(os.environ.get("SURVEY_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
# Load the app once in the master so workers fork it ready (start-up work is done once).
preload_app = True
timeout = 60
graceful_timeout = 20
keepalive = 5
# Exports stream large bodies; don't let a slow client pin a worker forever.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
errorlog = "-"
# A personal link's token is the collaborator's secret, and its time would match an anonymous
# response's: logs show the route (/c/…), never the token (see hide_personal_links).
PERSONAL_LINK = re.compile(r"/c/[^/?#\s\"]+")
# Addresses whose X-Forwarded-Proto gunicorn trusts (the scheme only). Client addresses for the
# rate limits come from the app's SURVEY_PROXY_FIX_X_FOR / _X_PROTO (Werkzeug's ProxyFix).
forwarded_allow_ips = os.environ.get("SURVEY_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    """Give each worker its own database connections (never share a socket across a fork)."""
    from survey.db import database

    if database.obj is not None and hasattr(database.obj, "close_all"):
        database.obj.close_all()


def hide_personal_links(record):
    """Replace the token of every personal link (/c/<token>) in a log record by an ellipsis."""
    if isinstance(record.args, dict):  # gunicorn's access line: its atoms, changed in place
        for key, value in list(record.args.items()):
            if isinstance(value, str):
                record.args[key] = PERSONAL_LINK.sub("/c/…", value)
    elif isinstance(record.args, tuple):
        record.args = tuple(
            PERSONAL_LINK.sub("/c/…", a) if isinstance(a, str) else a for a in record.args
        )
    if isinstance(record.msg, str):
        record.msg = PERSONAL_LINK.sub("/c/…", record.msg)
    return True


def on_starting(server):
    """Filter the access log, gunicorn's error log and the app's log before any request."""
    for name in ("gunicorn.access", "gunicorn.error", "survey"):
        logging.getLogger(name).addFilter(hide_personal_links)
