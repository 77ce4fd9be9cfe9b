"""The audit log in words: each entry as a sentence, its details as labelled values.

An action's wording is one entry of WORDS (placeholders: who, target, questionnaire,
question, choice); an action without one still reads as a sentence (GENERIC). Questionnaires,
questions and choices are named by their title, wording and label as they are now, else as
the entry kept them (a deleted one's title or wording), else by their address or key.
"""

import json
import re
from dataclasses import dataclass

from survey.i18n import kind_label, role_label, role_word, status_label
from survey.i18n import lazy_gettext as _l
from survey.models import AUDIT_ACTIONS, ROLES, Choice, Question, Questionnaire
from survey.numbers import format_number

WORDS = {
    "user.login": _l("%(who)s logged in"),
    "user.login_failed": _l("Someone failed to log in as “%(target)s”"),
    "user.logout": _l("%(who)s logged out"),
    "user.password_change": _l("%(who)s changed their own password"),
    "user.create": _l("%(who)s created the account “%(target)s”"),
    "user.update": _l("%(who)s changed the account “%(target)s”"),
    "user.password_reset": _l("%(who)s reset the password of “%(target)s”"),
    "user.rename": _l("%(who)s renamed an account to “%(target)s”"),
    "api_token.create": _l("%(who)s created the API token “%(target)s”"),
    "api_token.revoke": _l("%(who)s revoked the API token “%(target)s”"),
    "ward.create": _l("%(who)s added the ward %(target)s"),
    "ward.rename": _l("%(who)s renamed the ward %(target)s"),
    "ward.deactivate": _l("%(who)s stopped using the ward %(target)s"),
    "ward.reactivate": _l("%(who)s brought back the ward %(target)s"),
    "organisation.create": _l("%(who)s added the organisation %(target)s"),
    "organisation.rename": _l("%(who)s renamed the organisation %(target)s"),
    "organisation.deactivate": _l("%(who)s stopped using the organisation %(target)s"),
    "organisation.reactivate": _l("%(who)s brought back the organisation %(target)s"),
    "organisation.contact": _l("%(who)s changed the contact line of the organisation %(target)s"),
    "collaborator.create": _l("%(who)s added the collaborator %(target)s"),
    "collaborator.update": _l("%(who)s changed the details of the collaborator %(target)s"),
    "collaborator.deactivate": _l("%(who)s deactivated the collaborator %(target)s"),
    "collaborator.reactivate": _l("%(who)s reactivated the collaborator %(target)s"),
    "collaborator.rotate": _l("%(who)s made a new personal link for %(target)s"),
    "collaborator.import": _l("%(who)s imported the list of collaborators"),
    "collaborator.export": _l("%(who)s downloaded the list of collaborators"),
    "questionnaire.create": _l("%(who)s created the questionnaire “%(questionnaire)s”"),
    "questionnaire.update": _l("%(who)s changed the questionnaire “%(questionnaire)s”"),
    "questionnaire.status": _l(
        "%(who)s changed the status of the questionnaire “%(questionnaire)s”"
    ),
    "questionnaire.delete": _l("%(who)s deleted the questionnaire “%(questionnaire)s”"),
    "questionnaire.duplicate": _l("%(who)s made the questionnaire “%(questionnaire)s” as a copy"),
    "questionnaire.import": _l(
        "%(who)s imported the questionnaire “%(questionnaire)s” from a file"
    ),
    "question.create": _l(
        "%(who)s added the question “%(question)s” to the questionnaire “%(questionnaire)s”"
    ),
    "question.update": _l(
        "%(who)s changed the question “%(question)s” of the questionnaire “%(questionnaire)s”"
    ),
    "question.delete": _l(
        "%(who)s deleted the question “%(question)s” of the questionnaire “%(questionnaire)s”"
    ),
    "question.hide": _l(
        "%(who)s hid the question “%(question)s” of the questionnaire “%(questionnaire)s”"
    ),
    "question.show": _l(
        "%(who)s showed again the question “%(question)s” of the questionnaire “%(questionnaire)s”"
    ),
    "question.move": _l(
        "%(who)s moved the question “%(question)s” of the questionnaire “%(questionnaire)s”"
    ),
    "choice.create": _l(
        "%(who)s added the choice “%(choice)s” to the question “%(question)s” "
        "(questionnaire “%(questionnaire)s”)"
    ),
    "choice.update": _l(
        "%(who)s changed the choice “%(choice)s” of the question “%(question)s” "
        "(questionnaire “%(questionnaire)s”)"
    ),
    "choice.delete": _l(
        "%(who)s deleted the choice “%(choice)s” of the question “%(question)s” "
        "(questionnaire “%(questionnaire)s”)"
    ),
    "choice.hide": _l(
        "%(who)s hid the choice “%(choice)s” of the question “%(question)s” "
        "(questionnaire “%(questionnaire)s”)"
    ),
    "choice.show": _l(
        "%(who)s showed again the choice “%(choice)s” of the question “%(question)s” "
        "(questionnaire “%(questionnaire)s”)"
    ),
    "choice.move": _l(
        "%(who)s moved the choice “%(choice)s” of the question “%(question)s” "
        "(questionnaire “%(questionnaire)s”)"
    ),
    "responses.export": _l(
        "%(who)s downloaded the answers of the questionnaire “%(questionnaire)s”"
    ),
    "response.fake": _l("%(who)s added made-up test responses"),
    "database.backup": _l("%(who)s backed up the database"),
    "tallies.rebuild": _l("%(who)s counted the running tallies again from every answer"),
    "demo.seed": _l("%(who)s loaded the demonstration data"),
    "reminder.sent": _l(
        "%(who)s noted reminders as sent for the questionnaire “%(questionnaire)s”"
    ),
    "reminder.export": _l(
        "%(who)s downloaded the reminder list of the questionnaire “%(questionnaire)s”"
    ),
    "response.void": _l("%(who)s voided a response to the questionnaire “%(questionnaire)s”"),
    "response.restore": _l(
        "%(who)s restored a voided response to the questionnaire “%(questionnaire)s”"
    ),
    "response.test": _l(
        "%(who)s sent a test answer from the preview of the questionnaire “%(questionnaire)s”"
    ),
    "response.test_clear": _l(
        "%(who)s cleared the test answers of the questionnaire “%(questionnaire)s”"
    ),
    "export_job.create": _l(
        "%(who)s asked for a file of the answers of the questionnaire “%(questionnaire)s”"
    ),
}
# An action no entry above words yet (another feature's new one): still a sentence.
GENERIC = _l("%(who)s: %(action)s (%(target)s)")
NOBODY = _l("The system (survey command)")

# Detail names as people read them; an unknown one is shown with its underscores as spaces.
FIELDS = {
    "title": _l("Title"),
    "slug": _l("Address"),
    "description": _l("Description"),
    "status": _l("Status"),
    "opens_at": _l("Opens"),
    "closes_at": _l("Closes"),
    "anonymous": _l("Anonymous"),
    "per_collaborator": _l("Answers per collaborator"),
    "open_link": _l("Open link"),
    "suppress_below": _l("Withhold groups below"),
    "organisation": _l("Organisation"),
    "organisations": _l("Organisations"),
    "wards": _l("Wards"),
    "targets": _l("Sent to"),
    "key": _l("Key"),
    "kind": _l("Kind"),
    "prompt": _l("Question"),
    "help": _l("Help text"),
    "required": _l("Required"),
    "min": _l("Minimum"),
    "max": _l("Maximum"),
    "minimum": _l("Minimum"),
    "maximum": _l("Maximum"),
    "label": _l("Label"),
    "choices": _l("Choices"),
    "show_if": _l("Shown only if"),
    "direction": _l("Direction"),
    "source": _l("Copied from"),
    "role": _l("Role"),
    "active": _l("Active"),
    "user": _l("Account"),
    "n": _l("Number"),
    "ids": _l("Collaborators"),
    "from": _l("From"),
    "to": _l("To"),
    "other": _l("Other, please specify"),
    "low_label": _l("Label of the lowest value"),
    "high_label": _l("Label of the highest value"),
    "min_picks": _l("Fewest choices"),
    "max_picks": _l("Most choices"),
    "reason": _l("Reason"),
    "count": _l("Count"),
    "repeat_of": _l("Next wave of"),
    "grace_days": _l("Days answers under the old link are still taken"),
    "concern": _l("Answers that signal concern"),
    "at_least": _l("At least"),
    "at_most": _l("At most"),
    "file": _l("File"),
    "codes": _l("Codes variant"),
    "filters": _l("Filters"),
    "ward": _l("Ward"),
}
# The same names where a questionnaire's own entries use them: its owner and whom it is sent to.
QUESTIONNAIRE_FIELDS = {
    "organisation": _l("Owning organisation"),
    "organisations": _l("Sent to organisations"),
    "wards": _l("Sent to wards"),
}
FILES = {  # what a download was (downloads.detail)
    "csv": _l("answers as CSV"),
    "xlsx": _l("answers as XLSX"),
    "report": _l("Word report"),
    "tallies": _l("tallies workbook"),
}
VALUES = {
    "up": _l("up"),
    "down": _l("down"),
    "one": _l("one"),
    "many": _l("many"),
}
YES, NO = _l("yes"), _l("no")
CHANGES = ("update", "status")  # verbs whose JSON details hold [old, new] pairs
PAIRS = re.compile(r"(\w+)=(\S+)")  # details written as "role=viewer active=True"
NUMBERED = re.compile(r"^#\d+ ")  # targets written as "#12 Nguyễn Văn A"


@dataclass
class Entry:
    """One audit entry as the page shows it."""

    event: object
    sentence: str
    details: list  # of (label, value) strings


def _value(name, value, labels=None):
    """Write one detail value in words; `labels`: the choice keys of its question, by key."""
    if isinstance(value, bool) or value in ("True", "False"):
        return str(YES if value in (True, "True") else NO)
    if value is None or value == "":
        return "—"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, list):
        return ", ".join(_value(name, v, labels) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{_field(k)}: {_value(k, v, labels)}" for k, v in value.items())
    if name == "choices" and labels:
        return labels.get(value, value)
    if name == "file":
        return str(FILES.get(value, value))
    if name == "status":
        return status_label(value)
    if name == "kind":
        return kind_label(value)
    if name == "role":
        return role_label(value)
    return str(VALUES.get(value, value))


def _field(name, fields=None):
    """Return a detail's name in words (`fields`: an action's own names, looked up first)."""
    return str((fields or {}).get(name) or FIELDS.get(name, name.replace("_", " ")))


def details(detail, changes=False, labels=None, fields=None):
    """Turn an entry's detail (JSON, "name=value" pairs, or text) into (label, value) pairs.

    With `changes` (an update), a JSON value [old, new] reads "old → new". `labels`: the
    choices of the question an entry names, by key; `fields`: the action's own field names.
    """
    detail = (detail or "").strip()
    if not detail:
        return []
    try:
        data = json.loads(detail)
    except ValueError:
        data = None
    if isinstance(data, dict):
        found = []
        for name, value in data.items():
            if changes and isinstance(value, list) and len(value) == 2:
                written = f"{_value(name, value[0], labels)} → {_value(name, value[1], labels)}"
            else:
                written = _value(name, value, labels)
            found.append((_field(name, fields), written))
        return found
    pairs = PAIRS.findall(detail)
    if pairs and " ".join(f"{k}={v}" for k, v in pairs) == detail:
        return [(_field(k, fields), _value(k, v)) for k, v in pairs]
    if detail in ROLES:  # an account's role, as user.create kept it
        return [(_field("role"), role_label(detail))]
    return [("", detail)]


ROLE_TARGET = re.compile(r"^(.+) \((\w+)\)$")  # "doan_q10 (coordinator)": survey create-user


def _target(event):
    """Return the target an entry names, an account's role (as create-user kept it) in words."""
    target = NUMBERED.sub("", event.target or "")
    found = ROLE_TARGET.match(target) if event.action == "user.create" else None
    if found and found.group(2) in ROLES:
        return f"{found.group(1)} ({role_word(found.group(2))})"
    return target


def _place(action, target):
    """Return (questionnaire address, question key, choice key) a target names, where it does."""
    kind = action.split(".", 1)[0]
    target = NUMBERED.sub("", target or "")
    if kind == "question":
        slug, _sep, key = target.partition("/")
        return slug, key, None
    if kind == "choice":
        parts = target.split("/", 2) + ["", ""]
        return parts[0], parts[1], parts[2]
    if kind == "response":  # questionnaire/response id, or the questionnaire alone
        return target.partition("/")[0], None, None
    if kind in ("questionnaire", "responses", "reminder", "export_job"):
        return target, None, None
    return None, None, None


class Names:
    """The current titles, wordings and labels of the questionnaires a page of entries names."""

    def __init__(self, events):
        """Read them in three queries."""
        places = [_place(e.action, e.target) for e in events]
        slugs = {p[0] for p in places if p[0]}
        self.titles, self.prompts, self.labels = {}, {}, {}
        if not slugs:
            return
        for q in Questionnaire.select(Questionnaire.slug, Questionnaire.title).where(
            Questionnaire.slug.in_(slugs)
        ):
            self.titles[q.slug] = q.title
        questions = (
            Question.select(Question.id, Question.key, Question.prompt, Questionnaire.slug)
            .join(Questionnaire)
            .where(Questionnaire.slug.in_(slugs))
        )
        ids = {}
        for q in questions:
            self.prompts[(q.questionnaire.slug, q.key)] = q.prompt
            ids[q.id] = (q.questionnaire.slug, q.key)
        if ids:
            for c in Choice.select(Choice.question, Choice.key, Choice.label).where(
                Choice.question.in_(list(ids))
            ):
                self.labels[(*ids[c.question_id], c.key)] = c.label


def describe(event, names):
    """Return an Entry: the event's sentence in the page's language and its details."""
    slug, key, choice = _place(event.action, event.target)
    try:
        kept = json.loads(event.detail or "")
    except ValueError:
        kept = {}
    # A deleted questionnaire, question or choice is named as its entry kept it (texts only).
    kept = {k: v for k, v in kept.items() if isinstance(v, str)} if isinstance(kept, dict) else {}
    values = {
        "who": event.user.username if event.user_id else str(NOBODY),
        "target": _target(event) or "—",
        "questionnaire": names.titles.get(slug) or kept.get("title") or slug or "—",
        "question": names.prompts.get((slug, key)) or kept.get("prompt") or key or "—",
        "choice": names.labels.get((slug, key, choice)) or kept.get("label") or choice or "—",
        "action": event.action,
    }
    wording = WORDS.get(event.action)
    sentence = str(wording or GENERIC) % values
    changes = event.action.rsplit(".", 1)[-1] in CHANGES
    labels = {c: label for (s, k, c), label in names.labels.items() if (s, k) == (slug, key)}
    fields = QUESTIONNAIRE_FIELDS if event.action.startswith("questionnaire.") else None
    return Entry(event, sentence + ".", details(event.detail, changes, labels, fields))


def entries(events):
    """Return the Entries of a page of events, naming what they name in a few queries."""
    events = list(events)
    names = Names(events)
    return [describe(e, names) for e in events]


def action_choices():
    """Return (action, its sentence with “…” for every name) for the filter, in sentence order."""
    blank = dict.fromkeys(("who", "target", "questionnaire", "question", "choice"), "…")
    found = [(a, str(WORDS.get(a, GENERIC)) % dict(blank, action=a)) for a in AUDIT_ACTIONS]
    return sorted(found, key=lambda pair: pair[1].casefold())
