"""Downloads: files streamed after their first rows are read, audited once they were sent whole.

A download's parameters are checked by its view before this module is called; the first rows
are read here before the response starts, so a query that cannot run answers with an error
page instead of a 200 and a cut file. The audit entry is written after the last chunk has been
handed to the server: a download that fails or is abandoned half-way leaves no entry.
"""

import itertools
import json

from flask import Response, current_app
from flask_login import current_user

from survey.db import database
from survey.models import AUDIT_ACTIONS, AuditEvent


def primed(items, count=2):
    """Read the first items of an iterable now (raising here) and return an iterator of all."""
    items = iter(items)
    head = list(itertools.islice(items, count))
    return itertools.chain(head, items)


FILTERS = ("ward", "organisation", "from", "to")  # the export filters an entry keeps


def export_detail(file, codes=False, filters=None):
    """Return the audit detail of an export: which file (csv, xlsx, report, tallies), whether
    the codes variant, and its filters (a mapping of query parameters, codes and ISO dates)."""
    detail = {"file": file}
    if codes:
        detail["codes"] = True
    kept = {k: (filters or {}).get(k) for k in FILTERS}
    if any(kept.values()):
        detail["filters"] = {k: v for k, v in kept.items() if v}
    return json.dumps(detail, ensure_ascii=False)


def audited(chunks, action, target, detail=None):
    """Return a generator of the chunks that records the audit entry after the last one.

    The server reads it after the view has returned: it takes an app context for each chunk
    and a database connection of its own (when none is open) until it ends.
    """
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    context = current_app.app_context()
    user_id = current_user.id if current_user.is_authenticated else None

    def run():
        """Yield the chunks, then write the audit entry of a download that went out whole."""
        # The app context is pushed only while a chunk is made, never across a yield: a
        # generator the server drops half-way is closed later, when other contexts are on top.
        items = iter(chunks)
        opened = False
        try:
            while True:
                with context:
                    opened = database.connect(reuse_if_open=True) or opened
                    chunk = next(items, None)
                    if chunk is None:
                        AuditEvent.create(
                            user=user_id,
                            action=action,
                            target=str(target)[:300],
                            detail=detail or "",
                        )
                        return
                yield chunk
        finally:
            if opened and not database.is_closed():
                database.close()

    return run()


def download(chunks, mimetype, filename, action, target, cache="no-store", detail=None):
    """Return a streamed attachment whose audit entry is written when its last chunk is sent."""
    response = Response(audited(chunks, action, target, detail), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = cache
    return response
