"""The forms this process looked up lately, reused by submissions whose insert re-checks them.

Every submission first reads its questionnaire and its collaborator, or the wards and
organisations an open link offers (one to seven queries; on PostgreSQL, round trips), although
these rows rarely change. A form already looked up here is taken as it was read, and
Response.store(if_unchanged=True) inserts nothing unless the rows are still as read: the check
is made inside the insert, not before it. Anything but a stored answer is answered again from
a fresh lookup.
"""
import collections
import threading

from survey.db import database

# Enough for every collaborator of a district answering at once; a forgotten one costs a lookup.
CAPACITY = 4096

# (database, *key) -> (questionnaire, collaborator, place, choose): the arguments of the answer
_forms = collections.OrderedDict()
_lock = threading.Lock()


def recall(key):
    """Return what was remembered for this form's key (a tuple naming its link), or None."""
    full_key = (database.obj, *key)
    with _lock:
        found = _forms.get(full_key)
        if found is not None:
            _forms.move_to_end(full_key)
        return found


def remember(key, questionnaire, collaborator=None, place=None, choose=None):
    """Remember a form as just read, forgetting the least recently used past CAPACITY."""
    full_key = (database.obj, *key)
    with _lock:
        _forms[full_key] = (questionnaire, collaborator, place, choose)
        _forms.move_to_end(full_key)
        while len(_forms) > CAPACITY:
            _forms.popitem(last=False)


def forget(key):
    """Forget a form whose rows may have changed."""
    with _lock:
        _forms.pop((database.obj, *key), None)
