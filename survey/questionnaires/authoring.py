"""Authoring rules: what a coordinator may change in a questionnaire, and when.

Once a questionnaire has responses, a question's kind and key and a choice's key are
frozen, nothing may be deleted (hide it instead), and the anonymous promise stands;
the slug is frozen as soon as the questionnaire has left draft (it is printed in links
and QR codes). Wording, order, bounds, targets, new questions and new choices may always
change. Every change writes an AuditEvent in the same transaction. A questionnaire belongs
to an organisation or to the district: admins change any, a coordinator only those of their
own organisation (a coordinator without one acts for the district). What a questionnaire
must be, whichever way it arrives, is in rules.py.
"""

import json
import re
import unicodedata

from peewee import IntegrityError, fn

from survey.db import database
from survey.i18n import gettext as _
from survey.models import (
    CHOICE_KINDS,
    KEY_PATTERN,
    AuditEvent,
    Choice,
    Question,
    Questionnaire,
    utcnow,
)
from survey.numbers import parse_number
from survey.questionnaires import rules, waves
from survey.questionnaires.file_format import (
    FROM_FILE,
    RESERVED_KEYS,
    FileError,
    add_question,
    check,
    export_questionnaire,
    import_questionnaire,
    set_targets,
)
from survey.respond.rules import scale_bounds

SETTINGS = (
    "slug",
    "title",
    "description",
    "status",
    "opens_at",
    "closes_at",
    "anonymous",
    "per_collaborator",
    "open_link",
    "suppress_below",
)
QUESTION_FIELDS = (
    "key",
    "kind",
    "prompt",
    "help",
    "required",
    "minimum",
    "maximum",
    "show_if_question",
    "show_if_choice",
)
# Where a questionnaire may go from each status; back to draft only while nothing is answered.
TRANSITIONS = {"draft": ("open",), "open": ("closed", "draft"), "closed": ("open", "draft")}
ANONYMOUS_DEFAULT_SUPPRESS = 5
MAX_SCALE_POINTS = rules.MAX_SCALE_POINTS
# A rule's place in the file, by its last part, names this field of the builder's forms.
FORM_FIELDS = {"min": "minimum", "max": "maximum", "label": "choices", "show_if": "show_if"}


class Refused(ValueError):
    """An edit the rules do not allow; `message` says why, `field` names the field at fault."""

    def __init__(self, message, field=None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


def may_edit(user, questionnaire):
    """Tell whether a user may change a questionnaire: admins any, others their owner's only."""
    if getattr(user, "role", None) == "admin":
        return True
    return questionnaire.organisation_id == getattr(user, "organisation_id", None)


def owner_for(user, asked=None):
    """Return who owns what the user creates: their organisation, or the admin's pick."""
    if getattr(user, "role", None) == "admin":
        return asked
    return user.organisation if getattr(user, "organisation_id", None) else None


def _refuse(problems):
    """Refuse the first broken rule, naming the form field it concerns."""
    if problems:
        problem = problems[0]
        last = problem.where.rsplit(".", 1)[-1].split("[", 1)[0]
        raise Refused(problem.message, FORM_FIELDS.get(last, last))


def locks(questionnaire):
    """Return {field: why it is frozen} for a questionnaire (empty while it is a fresh draft)."""
    reasons = {}
    if questionnaire.has_responses():
        reasons.update(
            kind=_(
                "Answers exist: a question's kind cannot change, or the stored answers "
                "would no longer fit it."
            ),
            key=_(
                "Answers exist: keys name the stored answers and export columns, "
                "so they cannot change."
            ),
            delete=_(
                "Answers exist: nothing can be deleted any more. Hide it instead; "
                "its answers stay in the tallies and exports."
            ),
            anonymous=_(
                "Answers exist: respondents were told whether the questionnaire "
                "is anonymous, so this cannot change."
            ),
            draft=_("Answers exist: the questionnaire cannot go back to draft. Close it instead."),
        )
    if "key" in reasons or questionnaire.status != "draft":
        reasons["slug"] = _(
            "The questionnaire has been opened: its address is in links and "
            "QR codes already handed out, so it cannot change."
        )
    return reasons


def _record(user, action, target, **detail):
    """Write the audit entry of a change, with what changed as JSON."""
    AuditEvent.record(
        user, action, target, json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)
    )


def _changes(obj, values):
    """Return {field: [old, new]} for the values that differ from the object's."""
    return {k: [getattr(obj, k), v] for k, v in values.items() if getattr(obj, k) != v}


# --- Questionnaire settings and lifecycle ---


def _check_settings(settings):
    """Refuse settings that break the questionnaire rules (the file's rules too)."""
    problems = []
    rules.check_settings(settings, problems)
    _refuse(problems)


def default_suppress(anonymous):
    """Return the default small-count suppression: 5 for anonymous questionnaires, else 0."""
    return ANONYMOUS_DEFAULT_SUPPRESS if anonymous else 0


def create(user, settings, organisations=(), wards=(), owner=None):
    """Create a draft questionnaire owned by owner (an Organisation, None: the district)."""
    settings = dict(settings, status="draft", organisation=owner)
    if not settings.get("slug"):
        settings["slug"] = propose_slug(settings.get("title") or "")
    if settings.get("suppress_below") is None:
        settings["suppress_below"] = default_suppress(settings.get("anonymous"))
    _check_settings(settings)
    try:
        with database.atomic():
            questionnaire = Questionnaire.create(**settings)
            set_targets(questionnaire, organisations, wards)
            _record(
                user,
                "questionnaire.create",
                questionnaire.slug,
                organisations=list(organisations),
                wards=list(wards),
                **_named(dict(settings, organisation=owner.code if owner else None)),
            )
    except IntegrityError:
        raise Refused(_("Another questionnaire already has this address."), "slug") from None
    return questionnaire


def check_transition(questionnaire, status):
    """Refuse a status change the lifecycle does not allow."""
    if status == questionnaire.status:
        return
    if status not in TRANSITIONS.get(questionnaire.status, ()):
        raise Refused(
            _(
                "A questionnaire cannot go from %(old)s to %(new)s.",
                old=questionnaire.status,
                new=status,
            ),
            "status",
        )
    if status == "draft" and "draft" in locks(questionnaire):
        raise Refused(locks(questionnaire)["draft"], "status")
    if status == "open":
        _check_ready(questionnaire)


def _check_ready(questionnaire):
    """Refuse to open a questionnaire without questions or with an incomplete one."""
    asks = questionnaire.ordered_questions().where(Question.kind != "section").exists()
    if not asks:
        raise Refused(_("Add at least one question before opening the questionnaire."), "status")
    problems = check(export_questionnaire(questionnaire))
    if problems:
        raise Refused(
            _("The questionnaire is not complete: %(problems)s", problems="; ".join(problems)),
            "status",
        )


def update_settings(user, questionnaire, settings, organisations, wards):
    """Change a questionnaire's settings and targets within the rules."""
    reasons = locks(questionnaire)
    settings = dict(settings)
    if not settings.get("slug"):
        settings["slug"] = (
            questionnaire.slug
            if "slug" in reasons
            else propose_slug(settings.get("title") or "", own=questionnaire)
        )
    if settings.get("suppress_below") is None:
        settings["suppress_below"] = questionnaire.suppress_below
    changed = _changes(questionnaire, settings)
    for field in ("slug", "anonymous"):
        if field in changed and field in reasons:
            raise Refused(reasons[field], field)
    if "status" in changed:
        check_transition(questionnaire, settings["status"])
    if changed.get("repeat_of", [None, None])[1] is not None:
        problem = waves.repeat_problem(questionnaire, settings["repeat_of"])
        if problem:
            raise Refused(problem, "repeat_of")
    _check_settings(settings)
    before = _target_codes(questionnaire)
    try:
        with database.atomic():
            _save(questionnaire, settings)
            set_targets(questionnaire, organisations, wards)
            after = _target_codes(questionnaire)
            if after != before:
                changed["targets"] = [before, after]
            _record(user, "questionnaire.update", questionnaire.slug, **_named(changed))
    except IntegrityError:
        raise Refused(_("Another questionnaire already has this address."), "slug") from None
    return questionnaire


def _named(detail):
    """Return an audit detail with the earlier wave named by its address, not its id."""
    earlier = detail.get("repeat_of")
    if isinstance(earlier, list):
        return dict(detail, repeat_of=[q.slug if q else None for q in earlier])
    if earlier is not None:
        return dict(detail, repeat_of=earlier.slug)
    return detail


def _target_codes(questionnaire):
    """Return the target organisation and ward codes, for the audit detail."""
    return {
        "organisations": [o.code for o in questionnaire.target_organisations()],
        "wards": [w.code for w in questionnaire.target_wards()],
    }


def _save(questionnaire, values):
    """Apply values to a questionnaire and stamp the change time."""
    for field, value in values.items():
        setattr(questionnaire, field, value)
    questionnaire.updated_at = utcnow()
    questionnaire.save()


def set_status(user, questionnaire, status):
    """Move a questionnaire through its lifecycle: draft → open ⇄ closed."""
    check_transition(questionnaire, status)
    old = questionnaire.status
    with database.atomic():
        _save(questionnaire, {"status": status})
        _record(user, "questionnaire.status", questionnaire.slug, status=[old, status])
    return questionnaire


def delete(user, questionnaire):
    """Delete a questionnaire that has no responses."""
    if "delete" in locks(questionnaire):
        raise Refused(_("Answers exist: the questionnaire cannot be deleted. Close it instead."))
    with database.atomic():
        questionnaire.delete_instance(recursive=True)
        _record(user, "questionnaire.delete", questionnaire.slug, title=questionnaire.title)


def duplicate(user, questionnaire, slug, title, repeat=False):
    """Copy a questionnaire's settings, targets, questions and choices into a new draft.

    The copy belongs to the user's organisation (an admin's copy keeps the source's owner).
    With repeat, the copy is a new wave of the questionnaire (its repeat_of); otherwise it
    repeats nothing.
    """
    data = export_questionnaire(questionnaire)
    data.update(slug=slug or propose_slug(title), title=title, status="draft")
    data.pop("repeat_of", None)
    if repeat:
        data["repeat_of"] = questionnaire.slug
    owner = owner_for(user, questionnaire.organisation)
    with database.atomic():
        try:
            copy = import_questionnaire(data, owner=owner)
        except FileError as error:
            raise Refused("; ".join(error.problems), "slug") from None
        detail = {"repeat_of": questionnaire.slug} if repeat else {}
        _record(user, "questionnaire.duplicate", copy.slug, source=questionnaire.slug, **detail)
    return copy


def import_file(user, raw):
    """Create a questionnaire from the bytes of an uploaded JSON file; raise FileError.

    A coordinator's import belongs to their organisation whatever the file says; an admin's
    keeps the file's `organisation`.
    """
    data, problems = rules.parse(raw)
    if problems:
        raise FileError(problems)
    owner = FROM_FILE if getattr(user, "role", None) == "admin" else owner_for(user)
    with database.atomic():
        questionnaire = import_questionnaire(data, owner=owner)
        _record(user, "questionnaire.import", questionnaire.slug)
    return questionnaire


def export(questionnaire):
    """Return the questionnaire file data (the contract's JSON shape)."""
    return export_questionnaire(questionnaire)


# --- Questions ---


def outline(questionnaire):
    """Return [(question, [choices])] including hidden ones, in order, in two queries."""
    questions = list(questionnaire.ordered_questions(include_hidden=True))
    choices = {q.id: [] for q in questions}
    if questions:
        query = (
            Choice.select()
            .where(Choice.question.in_(list(choices)))
            .order_by(Choice.position, Choice.id)
        )
        for choice in query:
            choices[choice.question_id].append(choice)
    return [(q, choices[q.id]) for q in questions]


def numbering(questions):
    """Return {key: number} as the phone form numbers them: visible questions, not sections."""
    numbers = {}
    for question in questions:
        if question.kind != "section" and not question.hidden:
            numbers[question.key] = len(numbers) + 1
    return numbers


def conditions(items):
    """Return {question id: its show_if in words} for an outline [(question, [choices])].

    "Only shown if question 2 is “Disagree”": the phone form's number and the choice's label.
    """
    numbers = numbering(q for q, _choices in items)
    labels = {(q.key, c.key): c.label for q, choices in items for c in choices}
    return {
        q.id: _(
            "Only shown if question %(number)s is “%(choice)s”",
            number=numbers.get(q.show_if_question, "?"),
            choice=labels.get((q.show_if_question, q.show_if_choice), q.show_if_choice),
        )
        for q, _choices in items
        if q.show_if_question
    }


def show_if_options(questionnaire, before=None):
    """Return [(question, choice)] pairs a show_if may name: visible choices of visible
    single/multi questions, earlier than `before` (a question) when given."""
    pairs = []
    for question, choices in outline(questionnaire):
        if before is not None and question.id == before.id:
            break
        if question.kind in CHOICE_KINDS and not question.hidden:
            pairs.extend((question, c) for c in choices if not c.hidden)
    return pairs


def _check_key(questionnaire, key, own=None):
    """Refuse a question key that is malformed, reserved or already used."""
    if not KEY_PATTERN.match(key or "") or key in RESERVED_KEYS:
        raise Refused(
            _(
                "A key is letters, digits and _, starting with a letter "
                "(not client_uuid, csrf_token, ward, organisation or lang)."
            ),
            "key",
        )
    taken = Question.select().where(
        (Question.questionnaire == questionnaire) & (Question.key == key)
    )
    if own is not None:
        taken = taken.where(Question.id != own.id)
    if taken.exists():
        raise Refused(_("Another question already has the key %(key)s.", key=key), "key")


def _check_bounds(kind, minimum, maximum):
    """Refuse bounds that make no sense for the kind; return them (none for other kinds)."""
    if kind not in ("scale", "number"):
        return None, None
    problem = rules.bounds_problem(kind, minimum, maximum)
    if problem:
        raise Refused(problem[1], FORM_FIELDS[problem[0]])
    return minimum, maximum


def _check_item(item, choices_given=True):
    """Refuse a question (in the file's shape) that breaks the questionnaire rules."""
    problems = []
    rules.check_question(0, item, {}, problems)
    if not choices_given:  # the builder adds a changed question's first choices afterwards
        problems = [p for p in problems if not p.where.endswith(".choices")]
    _refuse(problems)


def _check_show_if(questionnaire, show_if, question=None):
    """Refuse a show_if that does not name a visible choice of an EARLIER single/multi question."""
    if not show_if:
        return None, None
    allowed = {(q.key, c.key) for q, c in show_if_options(questionnaire, before=question)}
    if tuple(show_if) not in allowed:
        raise Refused(
            _(
                "“Show only if” must name a choice of an earlier one-choice or "
                "several-choices question."
            ),
            "show_if",
        )
    return tuple(show_if)


def _dependents(question, choice_key=None):
    """Return the visible questions whose show_if names this question (and choice)."""
    query = Question.select().where(
        (Question.questionnaire == question.questionnaire_id)
        & (Question.show_if_question == question.key)
        & ~Question.hidden
    )
    if choice_key is not None:
        query = query.where(Question.show_if_choice == choice_key)
    return list(query)


def _refuse_dependents(question, choice_key=None):
    """Refuse a change that would strand the questions depending on this one."""
    dependents = _dependents(question, choice_key)
    if dependents:
        numbers = numbering(question.questionnaire.ordered_questions(include_hidden=True))
        raise Refused(
            _(
                "Questions shown only after this answer: %(numbers)s. Change their "
                "“show only if” first.",
                numbers=", ".join(str(numbers.get(q.key, q.key)) for q in dependents),
            )
        )


def choice_lines(text):
    """Turn 'label' or 'key = label' lines into [(key, label)], making keys from labels."""
    pairs, used = [], set()
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, label = line.partition(" = ")
        if not sep or not KEY_PATTERN.match(key.strip()):
            key, label = "", line
        key = key.strip() or make_key(label, used)
        used.add(key)
        pairs.append((key, label.strip()))
    return pairs


def fold(text):
    """Fold (Vietnamese) text to lower-case ASCII: diacritics dropped, đ read as d."""
    ascii_text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return ascii_text.encode("ascii", "ignore").decode().lower()


def _cut(text, limit, sep):
    """Shorten sep-separated words to at most limit characters, at a word's end when possible."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1].rsplit(sep, 1)[0]
    return head.strip(sep) or text[:limit]


def make_key(label, used=()):
    """Make a key from a (Vietnamese) label: ASCII letters, digits and _, unique among used."""
    base = _cut(re.sub(r"[^a-z0-9]+", "_", fold(label)).strip("_"), 30, "_") or "c"
    if not base[0].isalpha():
        base = "c_" + base
    key, n = base, 2
    while key in used:
        key, n = f"{base}_{n}", n + 1
    return key


def make_slug(title, used=()):
    """Make an address from a (Vietnamese) title: a-z, 0-9 and -, unique among used."""
    base = _cut(re.sub(r"[^a-z0-9]+", "-", fold(title)).strip("-"), 60, "-") or "khao-sat"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    return slug


def propose_slug(title, own=None):
    """Propose a questionnaire's address from its title, unique among the stored addresses."""
    base = make_slug(title)
    taken = Questionnaire.select(Questionnaire.slug).where(Questionnaire.slug.startswith(base))
    if own is not None:
        taken = taken.where(Questionnaire.id != own.id)
    return make_slug(title, {q.slug for q in taken})


def propose_key(questionnaire, text, kind, own=None):
    """Propose a question's key from its wording, unique in the questionnaire (not reserved)."""
    taken = Question.select(Question.key).where(Question.questionnaire == questionnaire)
    if own is not None:
        taken = taken.where(Question.id != own.id)
    used = {q.key for q in taken} | set(RESERVED_KEYS)
    return make_key(text or ("phan" if kind == "section" else "cau_hoi"), used)


def create_question(user, questionnaire, values, choices=()):
    """Add a question at the end (always allowed, also after answers), with its choices."""
    if not values.get("key"):
        values = dict(
            values, key=propose_key(questionnaire, values.get("prompt"), values.get("kind"))
        )
    _check_key(questionnaire, values["key"])
    minimum, maximum = _check_bounds(values["kind"], values.get("minimum"), values.get("maximum"))
    show_if = _check_show_if(questionnaire, values.get("show_if"))
    if values["kind"] in CHOICE_KINDS and not choices:
        raise Refused(_("A choice question needs choices: write one per line."), "choices")
    _check_choice_keys([k for k, _label in choices])
    count = Question.select().where(Question.questionnaire == questionnaire).count()
    if count >= rules.MAX_QUESTIONS:
        raise Refused(_("A questionnaire has at most %(n)s questions.", n=rules.MAX_QUESTIONS))
    position = (
        Question.select(fn.MAX(Question.position))
        .where(Question.questionnaire == questionnaire)
        .scalar()
        or 0
    ) + 1
    item = {
        "key": values["key"],
        "kind": values["kind"],
        "prompt": values.get("prompt", ""),
        "help": values.get("help", ""),
        "required": values.get("required", False),
        "min": minimum,
        "max": maximum,
        "choices": [{"key": k, "label": label} for k, label in choices]
        if values["kind"] in CHOICE_KINDS
        else [],
        **_options(values),
    }
    if values.get("add_other") and values["kind"] in CHOICE_KINDS:
        item["choices"].append(_other_item(item["choices"]))
    _check_item(item)
    if show_if[0]:
        item["show_if"] = {"question": show_if[0], "choice": show_if[1]}
    with database.atomic():
        question = add_question(questionnaire, item, position)
        _touch(questionnaire)
        _record(user, "question.create", f"{questionnaire.slug}/{question.key}", **item)
    return question


def _options(values):
    """Return a question's builder options (scale end labels, picks), None where not set.

    Only a scale keeps end labels and only a multiple choice its picks: the fields of another
    kind are hidden on the page, so what they still hold is dropped rather than refused.
    """
    kind = values.get("kind")
    return {
        "low_label": values.get("low_label") if kind == "scale" else None,
        "high_label": values.get("high_label") if kind == "scale" else None,
        "min_picks": values.get("min_picks") if kind == "multi" else None,
        "max_picks": values.get("max_picks") if kind == "multi" else None,
    }


def _other_item(choices):
    """Return the “Khác (ghi rõ)” choice that ends a new question's choices (file shape)."""
    label = _("Other (please specify)")
    key = make_key(label, {c["key"] for c in choices})
    return {"key": key, "label": label, "other": True}


def _check_label(label):
    """Refuse a choice label that breaks the text rules."""
    problem = rules.text_problem(label, rules.MAX_LABEL, required=True, multiline=False)
    if problem:
        raise Refused(problem, "label")


def _check_choice_keys(keys):
    """Refuse malformed or repeated choice keys."""
    for key in keys:
        if not KEY_PATTERN.match(key):
            raise Refused(
                _(
                    "A choice key is letters, digits and _, starting with a letter: %(key)s",
                    key=key,
                ),
                "choices",
            )
    if len(set(keys)) != len(keys):
        raise Refused(_("Two choices have the same key."), "choices")


def update_question(user, question, values):
    """Change a question within the rules: kind and key frozen once answers exist."""
    questionnaire = question.questionnaire
    reasons = locks(questionnaire)
    if not values.get("key"):
        values = dict(
            values,
            key=question.key
            if "key" in reasons
            else propose_key(questionnaire, values.get("prompt"), values["kind"], own=question),
        )
    for field in ("kind", "key"):
        if values[field] != getattr(question, field) and field in reasons:
            raise Refused(reasons[field], field)
    if values["key"] != question.key:
        _check_key(questionnaire, values["key"], own=question)
    kind_changed = values["kind"] != question.kind
    if kind_changed and question.kind in CHOICE_KINDS:
        _refuse_dependents(question)
    minimum, maximum = _check_bounds(values["kind"], values.get("minimum"), values.get("maximum"))
    show_if = _check_show_if(questionnaire, values.get("show_if"), question)
    new = {
        "key": values["key"],
        "kind": values["kind"],
        "prompt": values.get("prompt", ""),
        "help": values.get("help", ""),
        "required": bool(values.get("required")),
        "minimum": minimum,
        "maximum": maximum,
        "show_if_question": show_if[0],
        "show_if_choice": show_if[1],
        **_options(values),
    }
    kept = question.ordered_choices() if values["kind"] in CHOICE_KINDS else []
    _check_item(
        {
            "key": new["key"],
            "kind": new["kind"],
            "prompt": new["prompt"],
            "help": new["help"],
            "min": minimum,
            "max": maximum,
            "choices": [{"key": c.key, "label": c.label} for c in kept],
            **_options(values),
        },
        choices_given=bool(kept),
    )
    changed = _changes(question, new)
    old_key = question.key
    with database.atomic():
        for field, value in new.items():
            setattr(question, field, value)
        question.save()
        if kind_changed and values["kind"] not in CHOICE_KINDS:
            Choice.delete().where(Choice.question == question).execute()
        if old_key != question.key:  # only before answers: keep show_if references pointing here
            Question.update(show_if_question=question.key).where(
                (Question.questionnaire == questionnaire) & (Question.show_if_question == old_key)
            ).execute()
        _touch(questionnaire)
        _record(user, "question.update", f"{questionnaire.slug}/{old_key}", **changed)
    return question


def _touch(questionnaire):
    """Stamp the questionnaire as changed now."""
    Questionnaire.update(updated_at=utcnow()).where(Questionnaire.id == questionnaire.id).execute()


def delete_question(user, question):
    """Delete a question (and its choices), only while nothing is answered."""
    questionnaire = question.questionnaire
    if "delete" in locks(questionnaire):
        raise Refused(locks(questionnaire)["delete"])
    _refuse_dependents(question)
    with database.atomic():
        question.delete_instance(recursive=True)
        _renumber(questionnaire)
        _touch(questionnaire)
        _record(
            user, "question.delete", f"{questionnaire.slug}/{question.key}", prompt=question.prompt
        )


def set_question_hidden(user, question, hidden):
    """Hide a question from the form (its answers stay), or show it again."""
    if hidden:
        _refuse_dependents(question)
    elif question.show_if_question:
        _check_show_if(
            question.questionnaire, (question.show_if_question, question.show_if_choice), question
        )
    with database.atomic():
        question.hidden = hidden
        question.save(only=[Question.hidden])
        _touch(question.questionnaire)
        _record(
            user,
            "question.hide" if hidden else "question.show",
            f"{question.questionnaire.slug}/{question.key}",
        )


def _renumber(questionnaire):
    """Give the questions positions 0..n-1 in their present order."""
    for position, question in enumerate(questionnaire.ordered_questions(include_hidden=True)):
        if question.position != position:
            Question.update(position=position).where(Question.id == question.id).execute()


def _swap(items, item, direction):
    """Return the list with item moved one place up or down (unchanged at either end)."""
    items = list(items)
    index = next(i for i, x in enumerate(items) if x.id == item.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    return items


def move_question(user, question, direction):
    """Move a question one place up or down, keeping every show_if after its trigger."""
    questionnaire = question.questionnaire
    order = _swap(questionnaire.ordered_questions(include_hidden=True), question, direction)
    seen = set()
    for item in order:
        if item.show_if_question and not item.hidden and item.show_if_question not in seen:
            numbers = numbering(questionnaire.ordered_questions(include_hidden=True))
            raise Refused(
                _(
                    "Question %(number)s is shown only after an answer to question "
                    "%(parent)s, so it must come after it.",
                    number=numbers.get(item.key, item.key),
                    parent=numbers.get(item.show_if_question, item.show_if_question),
                )
            )
        seen.add(item.key)
    with database.atomic():
        for position, item in enumerate(order):
            Question.update(position=position).where(Question.id == item.id).execute()
        _touch(questionnaire)
        _record(user, "question.move", f"{questionnaire.slug}/{question.key}", direction=direction)


# --- Choices ---


def create_choice(user, question, key, label, other=False):
    """Add a choice at the end of a single/multi question (always allowed).

    `other` makes it a “Khác (ghi rõ)” choice, whose pick asks for a written answer.
    """
    if question.kind not in CHOICE_KINDS:
        raise Refused(_("Only one-choice and several-choices questions have choices."))
    used = {c.key for c in question.choices}
    if len(used) >= rules.MAX_CHOICES:
        raise Refused(_("A question has at most %(n)s choices.", n=rules.MAX_CHOICES))
    _check_label(label)
    _check_label_unique(question, label)
    if other:
        _check_one_other(question)
    key = key or make_key(label, used)
    _check_choice_keys([key])
    if key in used:
        raise Refused(_("Another choice already has the key %(key)s.", key=key), "key")
    position = (
        Choice.select(fn.MAX(Choice.position)).where(Choice.question == question).scalar() or 0
    ) + 1
    with database.atomic():
        choice = Choice.create(
            question=question, key=key, label=label, position=position, other=bool(other)
        )
        _touch(question.questionnaire)
        _record(user, "choice.create", _choice_target(choice), label=label, other=bool(other))
    return choice


def _check_one_other(question, own_id=None):
    """Refuse a second “other” choice on a question (its text has one column in exports)."""
    if question.choices.where(Choice.other & (Choice.id != (own_id or 0))).exists():
        raise Refused(rules.one_other_message(), "other")


def _check_label_unique(question, label, own_id=None):
    """Refuse a choice label another choice of the question already has (case and spaces aside)."""
    wanted = rules.same_label(label)
    for other in question.choices:
        if other.id != own_id and rules.same_label(other.label) == wanted:
            raise Refused(_("Two choices of a question cannot have the same wording."), "label")


def _choice_target(choice):
    """Name a choice in the audit log: slug/question/choice."""
    return f"{choice.question.questionnaire.slug}/{choice.question.key}/{choice.key}"


def update_choice(user, choice, key, label, other=None):
    """Relabel a choice; its key may change only while nothing is answered.

    `other` (None: unchanged) makes it a “Khác (ghi rõ)” choice or a plain one.
    """
    question = choice.question
    _check_label(label)
    _check_label_unique(question, label, choice.id)
    if key != choice.key:
        reasons = locks(question.questionnaire)
        if "key" in reasons:
            raise Refused(reasons["key"], "key")
        _check_choice_keys([key])
        if question.choices.where((Choice.key == key) & (Choice.id != choice.id)).exists():
            raise Refused(_("Another choice already has the key %(key)s.", key=key), "key")
    other = choice.other if other is None else bool(other)
    if other and not choice.other:
        _check_one_other(question, choice.id)
    changed = _changes(choice, {"key": key, "label": label, "other": other})
    old_target, old_key = _choice_target(choice), choice.key
    with database.atomic():
        choice.key, choice.label, choice.other = key, label, other
        choice.save()
        if key != old_key:  # only before answers: keep show_if references pointing here
            _rename_in_concern(question, old_key, key)
            Question.update(show_if_choice=key).where(
                (Question.questionnaire == question.questionnaire_id)
                & (Question.show_if_question == question.key)
                & (Question.show_if_choice == old_key)
            ).execute()
        _touch(question.questionnaire)
        _record(user, "choice.update", old_target, **changed)
    return choice


def _refuse_last_choice(choice):
    """Refuse removing the last visible choice of a question."""
    others = choice.question.choices.where((Choice.id != choice.id) & ~Choice.hidden)
    if not others.exists():
        raise Refused(_("A choice question keeps at least one choice."))
    question, left = choice.question, others.count()
    picks = max(question.min_picks or 0, question.max_picks or 0)
    if picks > left:
        raise Refused(
            _(
                "This question lets people pick up to %(n)s choices: lower its numbers of "
                "picks first, or %(left)s choices would be left.",
                n=picks,
                left=left,
            )
        )


def delete_choice(user, choice):
    """Delete a choice, only while nothing is answered."""
    question = choice.question
    if "delete" in locks(question.questionnaire):
        raise Refused(locks(question.questionnaire)["delete"])
    _refuse_dependents(question, choice.key)
    _refuse_last_choice(choice)
    with database.atomic():
        target = _choice_target(choice)
        choice.delete_instance()
        _touch(question.questionnaire)
        _record(user, "choice.delete", target, label=choice.label)


def set_choice_hidden(user, choice, hidden):
    """Hide a choice from the form (its answers stay), or show it again."""
    if hidden:
        _refuse_dependents(choice.question, choice.key)
        _refuse_last_choice(choice)
    with database.atomic():
        choice.hidden = hidden
        choice.save(only=[Choice.hidden])
        _touch(choice.question.questionnaire)
        _record(user, "choice.hide" if hidden else "choice.show", _choice_target(choice))


def move_choice(user, choice, direction):
    """Move a choice one place up or down."""
    order = _swap(choice.question.ordered_choices(include_hidden=True), choice, direction)
    with database.atomic():
        for position, item in enumerate(order):
            Choice.update(position=position).where(Choice.id == item.id).execute()
        _touch(choice.question.questionnaire)
        _record(user, "choice.move", _choice_target(choice), direction=direction)


# --- Concern: the answers that signal a hotspot ---


def concern_from_form(question, picked, mode, bound):
    """Return the concern the builder's form asks for (None: no concern), or raise Refused.

    picked: the choice keys ticked (choice questions); mode "", "at_most" or "at_least" and
    the bound as typed (scale and number questions).
    """
    if question.kind in CHOICE_KINDS:
        keys = [c.key for c in question.ordered_choices(include_hidden=True)]
        if any(key not in keys for key in picked):
            raise Refused(_("Pick among the question's own choices."), "concern")
        if not picked:
            return None
        if len(set(picked)) == len(keys):
            raise Refused(
                _(
                    "Leave at least one answer unmarked: when every answer signals concern, "
                    "none stands out."
                ),
                "concern",
            )
        return {"choices": [key for key in keys if key in picked]}
    if question.kind not in ("scale", "number"):
        raise Refused(_("Only choice, scale and number questions can mark concern."), "concern")
    if mode == "":
        return None
    if mode not in ("at_most", "at_least"):
        raise Refused(_("Choose “at most” or “at least”."), "concern")
    try:
        value = parse_number(bound)
    except ValueError as error:
        raise Refused(str(error), "concern") from None
    if value is None:
        raise Refused(_("Enter the number that marks concern."), "concern")
    if question.kind == "scale":
        low, high = scale_bounds(question)
        if value != int(value) or not low <= value <= high:
            raise Refused(
                _(
                    "On this scale the bound is a whole number from %(low)s to %(high)s.",
                    low=low,
                    high=high,
                ),
                "concern",
            )
    return {mode: int(value) if value == int(value) else value}


def _rename_in_concern(question, old_key, key):
    """Keep a question's concern naming a choice whose key changed."""
    if not question.concern:
        return
    try:
        concern = json.loads(question.concern)
    except ValueError:
        return  # unreadable: stored_concern ignores it anyway
    if isinstance(concern, dict) and isinstance(concern.get("choices"), list):
        concern["choices"] = [key if c == old_key else c for c in concern["choices"]]
        question.concern = json.dumps(concern)
        Question.update(concern=question.concern).where(Question.id == question.id).execute()


def set_concern(user, question, concern):
    """Store a question's concern as the file writes it (None clears it); audited."""
    problems = []
    keys = {c.key for c in question.choices}
    rules.check_concern("concern", {"kind": question.kind, "concern": concern}, keys, problems)
    _refuse(problems)
    stored = json.dumps(concern) if concern is not None else None
    old = rules.stored_concern(question.kind, question.concern, keys)
    with database.atomic():
        Question.update(concern=stored).where(Question.id == question.id).execute()
        _touch(question.questionnaire)
        _record(
            user,
            "question.update",
            f"{question.questionnaire.slug}/{question.key}",
            concern=[old, concern],
        )
