"""The questionnaire file of the public contract (JSON): check, import and export."""

import json
from types import SimpleNamespace

from survey.db import database
from survey.i18n import gettext as _
from survey.i18n import local_time, to_utc
from survey.models import (
    Choice,
    Organisation,
    Question,
    Questionnaire,
    QuestionnaireOrganisation,
    QuestionnaireWard,
    Ward,
)
from survey.questionnaires import rules, waves

# Field names the phone form uses itself, so no question may take them as its key.
RESERVED_KEYS = rules.RESERVED_KEYS
# A question's optional settings of the builder (migration 0013), named alike in the file.
END_LABELS = ("low_label", "high_label")
PICKS = ("min_picks", "max_picks")
# The owner argument of import_questionnaire that means "as the file says".
FROM_FILE = object()


class FileError(ValueError):
    """A questionnaire file that cannot be imported; carries every problem with its place."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def _parse_time(value):
    """Return an ISO 8601 time of a checked file as naive UTC, or None."""
    return to_utc(rules.parse_time(value)[0])


def _unknown_codes(model, codes, where, problems):
    """Note each code that names no row of the model (organisation or ward)."""
    known = {row.code for row in model.select(model.code).where(model.code.in_(list(codes)))}
    for index, code in enumerate(codes):
        if code not in known:
            problems.append(str(rules.Problem(f"{where}[{index}]", _("unknown code"))))


def check(data):
    """Return the list of problems of a questionnaire file (empty when it can be imported)."""
    problems = [str(problem) for problem in rules.check_file(data, normalise=to_utc)]
    if problems:
        return problems
    targets = data.get("targets") or {}
    for kind, model in (("organisations", Organisation), ("wards", Ward)):
        _unknown_codes(model, targets.get(kind) or [], f"targets.{kind}", problems)
    owner = data.get("organisation")
    if owner is not None and not Organisation.select().where(Organisation.code == owner).exists():
        problems.append(str(rules.Problem("organisation", _("unknown code"))))
    return problems


def import_questionnaire(data, owner=FROM_FILE):
    """Create a questionnaire from a file's data, all or nothing; raise FileError on any problem.

    owner is the owning Organisation (None: the district); by default the file's own
    `organisation` code decides.
    """
    problems = check(data)
    if not problems and Questionnaire.select().where(Questionnaire.slug == data["slug"]).exists():
        problems.append(
            str(rules.Problem("slug", _("a questionnaire with this address already exists")))
        )
    earlier = None
    if not problems and data.get("repeat_of") is not None:
        earlier, problem = _earlier_wave(data)
        if problem:
            problems.append(str(rules.Problem("repeat_of", problem)))
    if problems:
        raise FileError(problems)
    if owner is FROM_FILE:
        code = data.get("organisation")
        owner = None if code is None else Organisation.get(Organisation.code == code)
    targets = data.get("targets") or {}
    anonymous = data.get("anonymous") or False
    with database.atomic():
        questionnaire = Questionnaire.create(
            slug=data["slug"],
            title=data["title"].strip(),
            description=data.get("description") or "",
            status=data.get("status", "draft"),
            opens_at=_parse_time(data.get("opens_at")),
            closes_at=_parse_time(data.get("closes_at")),
            anonymous=anonymous,
            per_collaborator=data.get("per_collaborator", "one"),
            open_link=data.get("open_link") or False,
            suppress_below=data.get("suppress_below") or 0,
            organisation=owner,
            repeat_of=earlier,
        )
        set_targets(questionnaire, targets.get("organisations") or [], targets.get("wards") or [])
        for position, item in enumerate(data["questions"]):
            add_question(questionnaire, item, position)
    return questionnaire


def _earlier_wave(data):
    """Return the earlier wave a file's repeat_of names, and why it cannot be one (or None)."""
    earlier = Questionnaire.by_slug(data["repeat_of"])
    if earlier is None:
        return None, _("no questionnaire has this address")
    questions = [
        SimpleNamespace(
            key=item["key"], kind=item["kind"], minimum=item.get("min"), maximum=item.get("max")
        )
        for item in data["questions"]
        if item["kind"] in waves.COUNTED_KINDS
    ]
    return earlier, waves.questions_problem(questions, earlier)


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
        prompt=item.get("prompt") or "",
        help=item.get("help") or "",
        required=item.get("required") or False,
        minimum=item.get("min"),
        maximum=item.get("max"),
        show_if_question=show_if.get("question"),
        show_if_choice=show_if.get("choice"),
        concern=json.dumps(item["concern"]) if item.get("concern") is not None else None,
        **{name: _text_or_none(item.get(name)) for name in END_LABELS},
        **{name: item.get(name) for name in PICKS},
    )
    for c_position, choice in enumerate(item.get("choices") or []):
        Choice.create(
            question=question,
            key=choice["key"],
            position=c_position,
            label=choice["label"],
            other=bool(choice.get("other")),
        )
    return question


def _text_or_none(value):
    """Return a label stripped, or None when empty."""
    return (value or "").strip() or None


def _iso_local(value):
    """Return a stored UTC time as ISO 8601 in local time with its offset, or None."""
    return local_time(value).isoformat() if value else None


def _number(value):
    """Return a bound as int when it is whole, so export then import is exact."""
    return int(value) if value is not None and value == int(value) else value


def _choice_item(choice):
    """Return a choice of the file; "other": true for a “Khác (ghi rõ)” choice only."""
    item = {"key": choice.key, "label": choice.label}
    if choice.other:
        item["other"] = True
    return item


def export_questionnaire(questionnaire):
    """Return the file data of a questionnaire (the contract's JSON shape)."""
    questions = []
    for question in questionnaire.ordered_questions():
        choices = list(question.ordered_choices())
        item = {
            "key": question.key,
            "kind": question.kind,
            "prompt": question.prompt,
            "help": question.help,
            "required": question.required,
            "min": _number(question.minimum),
            "max": _number(question.maximum),
            "choices": [_choice_item(c) for c in choices],
        }
        for name in END_LABELS + PICKS:  # written only when set: older files stay as they were
            if getattr(question, name) is not None:
                item[name] = getattr(question, name)
        if question.show_if_question:
            item["show_if"] = {
                "question": question.show_if_question,
                "choice": question.show_if_choice,
            }
        concern = rules.stored_concern(question.kind, question.concern, [c.key for c in choices])
        if concern is not None:
            item["concern"] = concern
        questions.append(item)
    owner = questionnaire.organisation
    data = {
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
        "organisation": owner.code if owner else None,
        "targets": {
            "organisations": [o.code for o in questionnaire.target_organisations()],
            "wards": [w.code for w in questionnaire.target_wards()],
        },
        "questions": questions,
    }
    if questionnaire.repeat_of_id is not None:
        data["repeat_of"] = questionnaire.repeat_of.slug
    return data
