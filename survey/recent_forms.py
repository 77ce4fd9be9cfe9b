"""The personal forms this process looked up lately, reused by submissions whose insert re-checks them.

Every submission of a personal form first reads its questionnaire and collaborator (one
query; on PostgreSQL a round trip), although these rows rarely change. A form already looked
up here is taken as it was read, and Response.store(if_unchanged=True) inserts nothing unless
both rows are still as read: the check is made inside the insert, not before it. Anything
but a stored answer is answered again from a fresh lookup.
"""
import collections
import threading

from survey.db import database

# Enough for every collaborator of a district answering at once; a forgotten one costs a query.
CAPACITY = 4096

_forms = collections.OrderedDict()  # (database, slug, token) -> (questionnaire, collaborator)
_lock = threading.Lock()


def recall(slug, token):
    """Return the (questionnaire, collaborator) remembered for this personal form, or None."""
    key = (database.obj, slug, token)
    with _lock:
        found = _forms.get(key)
        if found is not None:
            _forms.move_to_end(key)
        return found


def remember(slug, token, questionnaire, collaborator):
    """Remember a personal form's rows as just read, forgetting the least recently used past CAPACITY."""
    with _lock:
        _forms[(database.obj, slug, token)] = (questionnaire, collaborator)
        _forms.move_to_end((database.obj, slug, token))
        while len(_forms) > CAPACITY:
            _forms.popitem(last=False)


def forget(slug, token):
    """Forget a personal form whose rows changed."""
    with _lock:
        _forms.pop((database.obj, slug, token), None)
