"""Reminders: who has not answered a questionnaire, with a prepared message and their link.

Marking reminders as sent is kept in the audit log only (action "reminder.sent", the
questionnaire as target, the collaborators' ids as detail): no table of its own. Only whether
someone answered is read (receipts), never when, so anonymous questionnaires may be listed.
"""

import itertools
import re
from urllib.parse import quote

from survey.i18n import format_day, local_time
from survey.i18n import gettext as _
from survey.models import AuditEvent
from survey.network import rates
from survey.respond.links import personal_link

SENT = "reminder.sent"
EXPORTED = "reminder.export"


def message(questionnaire, person, link):
    """Return the prepared reminder text for one collaborator, their link at the end."""
    if questionnaire.closes_at is not None:
        return _(
            "Hello %(name)s, please answer the questionnaire “%(title)s” (closes %(day)s). "
            "Your link: %(link)s",
            name=person.name,
            title=questionnaire.title,
            day=format_day(local_time(questionnaire.closes_at).date()),
            link=link,
        )
    return _(
        "Hello %(name)s, please answer the questionnaire “%(title)s”. Your link: %(link)s",
        name=person.name,
        title=questionnaire.title,
        link=link,
    )


def dial(phone):
    """Return a phone number as dialled in links: digits, with the + of a foreign number."""
    return re.sub(r"[^0-9+]", "", phone or "")


def entry(questionnaire, person, last_sent=None):
    """Return what the reminder page and CSV show of one collaborator."""
    link = personal_link(person)
    text = message(questionnaire, person, link)
    number = dial(person.phone)
    return {
        "person": person,
        "link": link,
        "message": text,
        "tel": f"tel:{number}" if number else None,
        "sms": f"sms:{number}?body={quote(text, safe='')}" if number else None,
        "zalo": f"https://zalo.me/{number.lstrip('+')}" if number else None,
        "last_sent": (last_sent or {}).get(person.id),
    }


def waiting(questionnaire, organisation_scope):
    """Return the collaborators in scope who have not answered, ward and organisation loaded."""
    return list(rates.not_answered(questionnaire, organisation_scope))


def target(questionnaire):
    """Return the audit target naming a questionnaire (its id, then its address)."""
    return f"#{questionnaire.id} {questionnaire.slug}"


def last_sent(questionnaire):
    """Return {collaborator id: when a reminder was last marked sent} for a questionnaire."""
    events = (
        AuditEvent.select(AuditEvent.detail, AuditEvent.at)
        .where(
            (AuditEvent.action == SENT)
            & AuditEvent.target.startswith(f"#{questionnaire.id} ")
            & (AuditEvent.at >= questionnaire.created_at)  # an id SQLite gave again
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    found = {}
    for detail, at in events.tuples().iterator():
        for number in re.findall(r"\d+", detail.partition("ids=")[2]):
            found[int(number)] = at
    return found


def grouped(entries):
    """Return [(ward, organisation, entries)] in the list's order (ward, then organisation)."""

    def key(item):
        """Return the ward and organisation ids of an entry."""
        return item["person"].ward_id, item["person"].organisation_id

    return [
        (items[0]["person"].ward, items[0]["person"].organisation, items)
        for items in (list(group) for _key, group in itertools.groupby(entries, key))
    ]


def parse_ids(raw):
    """Return the collaborator ids of a posted "1,2,3" list, or None when malformed."""
    parts = [p for p in (raw or "").replace(" ", "").split(",") if p]
    if not parts or not all(p.isdigit() and len(p) < 12 for p in parts):
        return None
    return {int(p) for p in parts}


def mark_sent(user, questionnaire, people):
    """Record in the audit log that reminders went to these collaborators, now."""
    ids = ",".join(str(p.id) for p in people)
    return AuditEvent.record(user, SENT, target(questionnaire), f"n={len(people)} ids={ids}")
