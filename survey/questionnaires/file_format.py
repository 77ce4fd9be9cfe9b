"""The questionnaire file of the public contract (JSON): check, import and export."""

import datetime

from survey.db import database
from survey.i18n import gettext as _
from survey.i18n import local_time, to_utc
from survey.models import (
    CHOICE_KINDS,
    KEY_PATTERN,
    KINDS,
    SLUG_PATTERN,
    STATUSES,
    Choice,
    Organisation,
    Question,
    Questionnaire,
    QuestionnaireOrganisation,
    QuestionnaireWard,
    Ward,
)

# Field names the phone form uses itself, so no question may take them as its key.
RESERVED_KEYS = {"client_uuid", "csrf_token", "ward", "organisation", "lang"}


class FileError(ValueError):
    """A questionnaire file that cannot be imported; carries every problem with its place."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def _parse_time(value, where, problems):
    """Parse an optional ISO 8601 time into naive UTC, noting a problem if it is malformed."""
    if value in (None, ""):
        return None
    try:
        return to_utc(datetime.datetime.fromisoformat(str(value)))
    except ValueError:
        problems.append(_("%(where)s: not an ISO 8601 time: %(value)r", where=where, value=value))
        return None


def _check_question(index, item, seen_keys, problems):
    """Check one question entry of the file, appending problems with their place."""
    where = f"questions[{index}]"
    if not isinstance(item, dict):
        problems.append(_("%(where)s: must be an object", where=where))
        return
    key, kind = item.get("key"), item.get("kind")
    if not isinstance(key, str) or not KEY_PATTERN.match(key) or key in RESERVED_KEYS:
        problems.append(
            _(
                "%(where)s.key: must be letters, digits and _ (starting with a letter), "
                "not one of %(reserved)s: %(key)r",
                where=where,
                reserved=", ".join(sorted(RESERVED_KEYS)),
                key=key,
            )
        )
    elif key in seen_keys:
        problems.append(_("%(where)s.key: used twice: %(key)r", where=where, key=key))
    if kind not in KINDS:
        problems.append(
            _(
                "%(where)s.kind: must be one of %(kinds)s: %(kind)r",
                where=where,
                kinds=", ".join(KINDS),
                kind=kind,
            )
        )
    if kind != "section" and not str(item.get("prompt") or "").strip():
        problems.append(_("%(where)s.prompt: must not be empty", where=where))
    for bound in ("min", "max"):
        if item.get(bound) is not None and not isinstance(item.get(bound), (int, float)):
            problems.append(_("%(where)s.%(bound)s: must be a number", where=where, bound=bound))
    choices = item.get("choices") or []
    if kind in CHOICE_KINDS and not choices:
        problems.append(
            _("%(where)s.choices: a %(kind)s question needs choices", where=where, kind=kind)
        )
    choice_keys = set()
    for c_index, choice in enumerate(choices if isinstance(choices, list) else []):
        c_where = f"{where}.choices[{c_index}]"
        if (
            not isinstance(choice, dict)
            or not isinstance(choice.get("key"), str)
            or not KEY_PATTERN.match(choice.get("key", ""))
        ):
            problems.append(_("%(where)s.key: must be letters, digits and _", where=c_where))
            continue
        if choice["key"] in choice_keys:
            problems.append(
                _("%(where)s.key: used twice: %(key)r", where=c_where, key=choice["key"])
            )
        choice_keys.add(choice["key"])
        if not str(choice.get("label") or "").strip():
            problems.append(_("%(where)s.label: must not be empty", where=c_where))
    show_if = item.get("show_if")
    if show_if is not None:
        parent = seen_keys.get(show_if.get("question")) if isinstance(show_if, dict) else None
        if parent is None or parent[0] not in CHOICE_KINDS:
            problems.append(
                _("%(where)s.show_if: must name an earlier single or multi question", where=where)
            )
        elif show_if.get("choice") not in parent[1]:
            problems.append(
                _(
                    "%(where)s.show_if.choice: not a choice of %(question)r",
                    where=where,
                    question=show_if.get("question"),
                )
            )
    if isinstance(key, str):
        seen_keys[key] = (kind, choice_keys)


def check(data):
    """Return the list of problems of a questionnaire file (empty when it can be imported)."""
    problems = []
    if not isinstance(data, dict):
        return [_("the file must hold one JSON object")]
    if not isinstance(data.get("slug"), str) or not SLUG_PATTERN.match(data.get("slug", "")):
        problems.append(
            _("slug: lower-case letters, digits and -: %(slug)r", slug=data.get("slug"))
        )
    if not str(data.get("title") or "").strip():
        problems.append(_("title: must not be empty"))
    elif len(str(data["title"])) > 300:
        problems.append(_("title: at most 300 characters"))
    if data.get("status", "draft") not in STATUSES:
        problems.append(_("status: must be one of %(statuses)s", statuses=", ".join(STATUSES)))
    if data.get("per_collaborator", "one") not in ("one", "many"):
        problems.append(_('per_collaborator: must be "one" or "many"'))
    suppress = data.get("suppress_below", 0)
    if not isinstance(suppress, int) or isinstance(suppress, bool) or suppress < 0:
        problems.append(_("suppress_below: must be a whole number, 0 or more"))
    opens = _parse_time(data.get("opens_at"), "opens_at", problems)
    closes = _parse_time(data.get("closes_at"), "closes_at", problems)
    if opens and closes and closes <= opens:
        problems.append(_("closes_at: must be after opens_at"))
    targets = data.get("targets") or {}
    for kind, model in (("organisations", Organisation), ("wards", Ward)):
        codes = (targets.get(kind) or []) if isinstance(targets, dict) else []
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            problems.append(_("targets.%(kind)s: must be a list of codes", kind=kind))
            continue
        known = {row.code for row in model.select(model.code).where(model.code.in_(codes))}
        for code in codes:
            if code not in known:
                problems.append(_("targets.%(kind)s: unknown code %(code)r", kind=kind, code=code))
    questions = data.get("questions")
    if not isinstance(questions, list):
        problems.append(_("questions: must be a list"))
        return problems
    seen_keys = {}
    for index, item in enumerate(questions):
        _check_question(index, item, seen_keys, problems)
    return problems


def import_questionnaire(data):
    """Create a questionnaire from a file's data, all or nothing; raise FileError on any problem."""
    problems = check(data)
    if not problems and Questionnaire.select().where(Questionnaire.slug == data["slug"]).exists():
        problems.append(_("slug: a questionnaire %(slug)r already exists", slug=data["slug"]))
    if problems:
        raise FileError(problems)
    with database.atomic():
        questionnaire = Questionnaire.create(
            slug=data["slug"],
            title=data["title"].strip(),
            description=data.get("description") or "",
            status=data.get("status", "draft"),
            opens_at=_parse_time(data.get("opens_at"), "", []),
            closes_at=_parse_time(data.get("closes_at"), "", []),
            anonymous=bool(data.get("anonymous", False)),
            per_collaborator=data.get("per_collaborator", "one"),
            open_link=bool(data.get("open_link", False)),
            suppress_below=data.get("suppress_below", 0),
        )
        set_targets(
            questionnaire,
            (data.get("targets") or {}).get("organisations") or [],
            (data.get("targets") or {}).get("wards") or [],
        )
        for position, item in enumerate(data["questions"]):
            add_question(questionnaire, item, position)
    return questionnaire


def set_targets(questionnaire, organisation_codes, ward_codes):
    """Replace the organisations and wards a questionnaire is sent to (empty lists: everyone)."""
    QuestionnaireOrganisation.delete().where(
        QuestionnaireOrganisation.questionnaire == questionnaire
    ).execute()
    QuestionnaireWard.delete().where(QuestionnaireWard.questionnaire == questionnaire).execute()
    for org in Organisation.select().where(Organisation.code.in_(list(organisation_codes))):
        QuestionnaireOrganisation.create(questionnaire=questionnaire, organisation=org)
    for ward in Ward.select().where(Ward.code.in_(list(ward_codes))):
        QuestionnaireWard.create(questionnaire=questionnaire, ward=ward)


def add_question(questionnaire, item, position):
    """Create one question (and its choices) from a file entry."""
    show_if = item.get("show_if") or {}
    question = Question.create(
        questionnaire=questionnaire,
        key=item["key"],
        position=position,
        kind=item["kind"],
        prompt=str(item.get("prompt") or ""),
        help=str(item.get("help") or ""),
        required=bool(item.get("required", False)),
        minimum=item.get("min"),
        maximum=item.get("max"),
        show_if_question=show_if.get("question"),
        show_if_choice=show_if.get("choice"),
    )
    for c_position, choice in enumerate(item.get("choices") or []):
        Choice.create(
            question=question, key=choice["key"], position=c_position, label=choice["label"]
        )
    return question


def _iso_local(value):
    """Return a stored UTC time as ISO 8601 in local time with its offset, or None."""
    return local_time(value).isoformat() if value else None


def _number(value):
    """Return a bound as int when it is whole, so export then import is exact."""
    return int(value) if value is not None and value == int(value) else value


def export_questionnaire(questionnaire):
    """Return the file data of a questionnaire (the contract's JSON shape)."""
    questions = []
    for question in questionnaire.ordered_questions():
        item = {
            "key": question.key,
            "kind": question.kind,
            "prompt": question.prompt,
            "help": question.help,
            "required": question.required,
            "min": _number(question.minimum),
            "max": _number(question.maximum),
            "choices": [{"key": c.key, "label": c.label} for c in question.ordered_choices()],
        }
        if question.show_if_question:
            item["show_if"] = {
                "question": question.show_if_question,
                "choice": question.show_if_choice,
            }
        questions.append(item)
    return {
        "slug": questionnaire.slug,
        "title": questionnaire.title,
        "description": questionnaire.description,
        "status": questionnaire.status,
        "opens_at": _iso_local(questionnaire.opens_at),
        "closes_at": _iso_local(questionnaire.closes_at),
        "anonymous": questionnaire.anonymous,
        "per_collaborator": questionnaire.per_collaborator,
        "open_link": questionnaire.open_link,
        "suppress_below": questionnaire.suppress_below,
        "targets": {
            "organisations": [o.code for o in questionnaire.target_organisations()],
            "wards": [w.code for w in questionnaire.target_wards()],
        },
        "questions": questions,
    }
