"""The rules a questionnaire keeps, whichever way it arrives: the builder or the questionnaire file.

Everything here works on the file's shape (plain JSON values) and needs no database: types,
lengths, counts, bounds, times, keys and the order of show-if references. file_format.py adds
what needs the database (known codes, a free slug); authoring.py turns a problem into a refusal.
Each problem names its place, such as `questions[3].choices[0].key`.
"""

import datetime
import json
import math
import unicodedata
from typing import NamedTuple

from survey import text as text_rules
from survey.i18n import gettext as _
from survey.models import CHOICE_KINDS, KEY_PATTERN, KINDS, SLUG_PATTERN, STATUSES

MAX_TITLE = 300
MAX_DESCRIPTION = 5000
MAX_PROMPT = 2000  # a question's prompt and its help text
MAX_LABEL = 500
MAX_KEY = 64
MAX_SLUG = 80
MAX_CODE = 64
MAX_QUESTIONS = 200
MAX_CHOICES = 100
MAX_CODES = 500  # organisations or wards listed as targets
MAX_SCALE_POINTS = 11
MAX_BOUND = 10**12  # a number question's bound, either side of zero
MAX_SUPPRESS = 1000
MAX_DEPTH = 8  # the file itself nests five levels deep
FIRST_YEAR, LAST_YEAR = 2000, 2100
DEFAULT_SCALE = (1, 5)
# Field names the phone form uses itself, so no question may take them as its key.
RESERVED_KEYS = {"client_uuid", "csrf_token", "ward", "organisation", "lang"}

SETTINGS_KEYS = (
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
FILE_KEYS = frozenset(SETTINGS_KEYS + ("organisation", "targets", "questions", "repeat_of"))
QUESTION_KEYS = frozenset(
    ("key", "kind", "prompt", "help", "required", "min", "max", "choices", "show_if", "concern")
    + ("low_label", "high_label", "min_picks", "max_picks")
)
CHOICE_KEYS = frozenset(("key", "label", "other"))
SHOW_IF_KEYS = frozenset(("question", "choice"))
CONCERN_KEYS = ("choices", "at_most", "at_least")  # exactly one of them
TARGET_KEYS = frozenset(("organisations", "wards"))


class Problem(NamedTuple):
    """One broken rule: its place in the file and what is wrong, in the user's language."""

    where: str
    message: str

    def __str__(self):
        """Show the problem as `place: message`."""
        return f"{self.where}: {self.message}"


def depth(value):
    """Return how deeply lists and objects nest in a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in items)
    return deepest


def parse(raw):
    """Read a questionnaire file's bytes as JSON; return (data, None) or (None, [problem])."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [_("The file is not UTF-8 text.")]
    try:
        return json.loads(text, parse_constant=_refuse_constant), None
    except json.JSONDecodeError as error:
        return None, [
            _(
                "The file is not valid JSON (line %(line)s, column %(col)s).",
                line=error.lineno,
                col=error.colno,
            )
        ]
    except RecursionError:
        return None, [_("The file nests lists and objects too deeply.")]
    except ValueError:  # NaN, Infinity, or an integer of thousands of digits
        return None, [_("The file holds a number that is not a finite number.")]


def _refuse_constant(name):
    """Refuse NaN and Infinity, which JSON itself does not have."""
    raise ValueError(name)


# --- Single values: each returns a message, or None when the value keeps the rule ---


def text_problem(value, limit, required=False, multiline=True):
    """Check a text: a string, not longer than limit, without control characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        return _("must be text")
    if required and not value.strip():
        return _("must not be empty")
    if len(value) > limit:
        return _("at most %(n)s characters", n=limit)
    if text_rules.has_refused(value, multiline):
        return _("must not contain control characters or broken characters")
    return None


def flag_problem(value):
    """Check a yes/no setting: a JSON boolean (or absent)."""
    if value is None or isinstance(value, bool):
        return None
    return _("must be true or false")


def number_problem(value):
    """Check an optional bound: a finite number within the allowed range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _("must be a number")
    if not (isinstance(value, int) or math.isfinite(value)) or abs(value) > MAX_BOUND:
        return _("must be a number between -%(n)s and %(n)s", n=MAX_BOUND)
    return None


def bounds_problem(kind, minimum, maximum):
    """Check a question's bounds against its kind; return (field, message) or None."""
    for field, value in (("min", minimum), ("max", maximum)):
        problem = number_problem(value)
        if problem:
            return field, problem
    if kind not in ("scale", "number"):
        if minimum is not None or maximum is not None:
            return "min", _("only scale and number questions have a minimum and maximum")
        return None
    if kind == "scale":
        low = DEFAULT_SCALE[0] if minimum is None else minimum
        high = DEFAULT_SCALE[1] if maximum is None else maximum
        if low != int(low) or high != int(high):
            return "min", _("A scale runs between whole numbers.")
        if high <= low or high - low + 1 > MAX_SCALE_POINTS:
            return "max", _(
                "A scale needs a maximum above its minimum and at most %(n)s points.",
                n=MAX_SCALE_POINTS,
            )
    elif minimum is not None and maximum is not None and maximum < minimum:
        return "max", _("The maximum must not be below the minimum.")
    return None


def end_labels_problem(kind, low_label, high_label):
    """Check the words under a scale's two ends; return (field, message) or None."""
    for field, value in (("low_label", low_label), ("high_label", high_label)):
        if value is None:
            continue
        problem = text_problem(value, MAX_LABEL, multiline=False)
        if not problem and kind != "scale" and value.strip():
            problem = _("only a scale has labels on its two ends")
        if problem:
            return field, problem
    return None


def picks_problem(kind, min_picks, max_picks, choices):
    """Check how many choices a multiple choice takes: 0 ≤ min ≤ max ≤ choices (None: any)."""
    for field, value in (("min_picks", min_picks), ("max_picks", max_picks)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return field, _("must be a whole number of at least 0")
        if kind != "multi":
            return field, _("only a several-choices question has a number of picks")
        if value > choices:
            return field, _(
                "The question has %(n)s choices: at most %(n)s can be picked.", n=choices
            )
    if min_picks is not None and max_picks is not None and min_picks > max_picks:
        return "max_picks", _("The most picks must not be below the fewest.")
    if max_picks == 0:
        return "max_picks", _("At least one choice must be allowed.")
    return None


def suppress_problem(value):
    """Check the small-count suppression: a whole number from 0 to MAX_SUPPRESS."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SUPPRESS:
        return _("must be a whole number from 0 to %(n)s", n=MAX_SUPPRESS)
    return None


def year_problem(moment):
    """Check that a time falls within the years a questionnaire may run."""
    if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return _("the year must be from %(first)s to %(last)s", first=FIRST_YEAR, last=LAST_YEAR)
    return None


def parse_time(value):
    """Parse an optional ISO 8601 time of the file; return (datetime or None, message or None)."""
    if value in (None, ""):
        return None, None
    if not isinstance(value, str) or len(value) > 40:
        return None, _("must be an ISO 8601 time, for example 2025-07-01T08:00")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None, _("must be an ISO 8601 time, for example 2025-07-01T08:00")
    problem = year_problem(moment)
    return (None, problem) if problem else (moment, None)


def key_problem(value):
    """Check a question or choice key: letters, digits and _, starting with a letter."""
    if not isinstance(value, str) or not KEY_PATTERN.match(value) or len(value) > MAX_KEY:
        return _("must be letters, digits and _, starting with a letter (at most 64)")
    return None


def slug_problem(value):
    """Check a questionnaire's address."""
    if not isinstance(value, str) or not SLUG_PATTERN.match(value) or len(value) > MAX_SLUG:
        return _("must be lower-case letters, digits and - (at most 80)")
    return None


def _choice_problem(value, allowed):
    """Check a value that must be one of a few strings."""
    if value not in allowed or not isinstance(value, str):
        return _("must be one of %(values)s", values=", ".join(allowed))
    return None


# --- The whole file ---


def _unknown(data, allowed, where, problems):
    """Note every key of an object that the file format does not have."""
    for key in data:
        if key not in allowed:
            name = key if isinstance(key, str) and len(key) <= 40 else "…"
            problems.append(Problem(f"{where}{name}", _("unknown key")))


def _note(problems, where, message):
    """Add a problem when there is one."""
    if message:
        problems.append(Problem(where, message))


def check_settings(data, problems, normalise=None):
    """Check the questionnaire's own settings; normalise turns file times into comparable ones."""
    _note(problems, "slug", slug_problem(data.get("slug")))
    _note(problems, "title", text_problem(data.get("title"), MAX_TITLE, True, False))
    _note(problems, "description", text_problem(data.get("description"), MAX_DESCRIPTION))
    _note(problems, "status", _choice_problem(data.get("status", "draft"), STATUSES))
    _note(
        problems,
        "per_collaborator",
        _choice_problem(data.get("per_collaborator", "one"), ("one", "many")),
    )
    for flag in ("anonymous", "open_link"):
        _note(problems, flag, flag_problem(data.get(flag)))
    _note(problems, "suppress_below", suppress_problem(data.get("suppress_below")))
    times = {}
    for name in ("opens_at", "closes_at"):
        value = data.get(name)
        if isinstance(value, datetime.datetime):  # the builder hands over parsed times
            times[name], message = value, year_problem(value)
        else:
            times[name], message = parse_time(value)
        _note(problems, name, message)
    normalise = normalise or (lambda moment: moment)
    opens, closes = normalise(times["opens_at"]), normalise(times["closes_at"])
    if opens and closes and closes <= opens:
        problems.append(Problem("closes_at", _("The closing time must be after the opening time.")))


def check_targets(targets, problems):
    """Check the targets object: lists of codes of organisations and wards."""
    if targets is None:
        return
    if not isinstance(targets, dict):
        problems.append(Problem("targets", _("must be an object")))
        return
    _unknown(targets, TARGET_KEYS, "targets.", problems)
    for kind in sorted(TARGET_KEYS):
        codes = targets.get(kind)
        if codes is None:
            continue
        where = f"targets.{kind}"
        if not isinstance(codes, list):
            problems.append(Problem(where, _("must be a list of codes")))
        elif len(codes) > MAX_CODES:
            problems.append(Problem(where, _("at most %(n)s items", n=MAX_CODES)))
        else:
            for index, code in enumerate(codes):
                _note(problems, f"{where}[{index}]", code_problem(code))


def code_problem(code):
    """Check an organisation or ward code's form (whether it exists is for the database)."""
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
        return _("must be a code (text of at most %(n)s characters)", n=MAX_CODE)
    return text_problem(code, MAX_CODE, True, False)


def check_question(index, item, seen, problems):
    """Check one question; seen maps earlier keys to (kind, choice keys) for show-if."""
    where = f"questions[{index}]"
    if not isinstance(item, dict):
        problems.append(Problem(where, _("must be an object")))
        return
    _unknown(item, QUESTION_KEYS, f"{where}.", problems)
    key, kind = item.get("key"), item.get("kind")
    message = key_problem(key)
    if not message and key in RESERVED_KEYS:
        message = _("is used by the form itself: %(keys)s", keys=", ".join(sorted(RESERVED_KEYS)))
    if not message and key in seen:
        message = _("used twice")
    _note(problems, f"{where}.key", message)
    _note(problems, f"{where}.kind", _choice_problem(kind, KINDS))
    _note(
        problems,
        f"{where}.prompt",
        text_problem(item.get("prompt"), MAX_PROMPT, required=kind != "section"),
    )
    _note(problems, f"{where}.help", text_problem(item.get("help"), MAX_PROMPT))
    _note(problems, f"{where}.required", flag_problem(item.get("required")))
    bounds = bounds_problem(kind, item.get("min"), item.get("max"))
    if bounds:
        problems.append(Problem(f"{where}.{bounds[0]}", bounds[1]))
    choice_keys = _check_choices(where, kind, item.get("choices"), problems)
    for found in (
        end_labels_problem(kind, item.get("low_label"), item.get("high_label")),
        picks_problem(kind, item.get("min_picks"), item.get("max_picks"), len(choice_keys)),
    ):
        if found:
            problems.append(Problem(f"{where}.{found[0]}", found[1]))
    _check_show_if(where, item.get("show_if"), seen, problems)
    check_concern(where, item, choice_keys, problems)
    if isinstance(key, str):
        seen.setdefault(key, (kind, choice_keys))


def one_other_message():
    """Return the refusal of a second “other” choice on one question."""
    return _("A question has at most one “other, please specify” choice.")


def same_label(label):
    """Return the form in which two choice labels count as the same ("Có" and " có ")."""
    return " ".join(unicodedata.normalize("NFC", str(label)).casefold().split())


def _check_choices(where, kind, choices, problems):
    """Check a question's choices; return the set of their keys."""
    keys, labels = set(), set()
    if choices is None:
        choices = []
    if not isinstance(choices, list):
        problems.append(Problem(f"{where}.choices", _("must be a list")))
        return keys
    if kind in CHOICE_KINDS and not choices:
        problems.append(Problem(f"{where}.choices", _("a choice question needs choices")))
    elif kind not in CHOICE_KINDS and choices:
        problems.append(
            Problem(
                f"{where}.choices",
                _("Only one-choice and several-choices questions have choices."),
            )
        )
    if len(choices) > MAX_CHOICES:
        problems.append(Problem(f"{where}.choices", _("at most %(n)s items", n=MAX_CHOICES)))
        return keys
    others = 0  # “other” choices so far: one a question, whose text has a column of its own
    for index, choice in enumerate(choices):
        c_where = f"{where}.choices[{index}]"
        if not isinstance(choice, dict):
            problems.append(Problem(c_where, _("must be an object")))
            continue
        _unknown(choice, CHOICE_KEYS, f"{c_where}.", problems)
        message = key_problem(choice.get("key"))
        if not message and choice["key"] in keys:
            message = _("used twice")
        _note(problems, f"{c_where}.key", message)
        message = text_problem(choice.get("label"), MAX_LABEL, True, False)
        if not message and same_label(choice["label"]) in labels:
            message = _("Two choices of a question cannot have the same wording.")
        _note(problems, f"{c_where}.label", message)
        message = flag_problem(choice.get("other"))
        if not message and choice.get("other") and others:
            message = one_other_message()
        _note(problems, f"{c_where}.other", message)
        others += 1 if choice.get("other") is True else 0
        if isinstance(choice.get("label"), str):
            labels.add(same_label(choice["label"]))
        if isinstance(choice.get("key"), str):
            keys.add(choice["key"])
    return keys


def _check_show_if(where, show_if, seen, problems):
    """Check that a show-if names a choice of an earlier one-choice or several-choices question."""
    if show_if is None:
        return
    where = f"{where}.show_if"
    if not isinstance(show_if, dict):
        problems.append(Problem(where, _("must be an object")))
        return
    _unknown(show_if, SHOW_IF_KEYS, f"{where}.", problems)
    question, choice = show_if.get("question"), show_if.get("choice")
    parent = seen.get(question) if isinstance(question, str) else None
    if parent is None or parent[0] not in CHOICE_KINDS:
        problems.append(
            Problem(f"{where}.question", _("must name an earlier single or multi question"))
        )
    elif not isinstance(choice, str) or choice not in parent[1]:
        problems.append(Problem(f"{where}.choice", _("not a choice of that question")))


def check_concern(where, item, choice_keys, problems):
    """Check a question's concern: choices of its own (choice kinds) or a bound (scale, number)."""
    concern, kind = item.get("concern"), item.get("kind")
    if concern is None:
        return
    where = f"{where}.concern"
    if not isinstance(concern, dict):
        problems.append(Problem(where, _("must be an object")))
        return
    _unknown(concern, frozenset(CONCERN_KEYS), f"{where}.", problems)
    given = [name for name in CONCERN_KEYS if name in concern]
    if len(given) != 1:
        message = _("must have exactly one of %(keys)s", keys=", ".join(CONCERN_KEYS))
        problems.append(Problem(where, message))
        return
    name = given[0]
    value = concern[name]
    if name == "choices":
        _check_concern_choices(f"{where}.choices", kind, value, choice_keys, problems)
        return
    if kind not in ("scale", "number"):
        problems.append(
            Problem(f"{where}.{name}", _("only scale and number questions have a bound here"))
        )
        return
    message = number_problem(value) if value is not None else _("must be a number")
    if not message and kind == "scale" and value != int(value):
        message = _("A scale runs between whole numbers.")
    _note(problems, f"{where}.{name}", message)


def _check_concern_choices(where, kind, value, choice_keys, problems):
    """Check the choices a question's concern names: its own, each once, not all of them."""
    if kind not in CHOICE_KINDS:
        problems.append(
            Problem(where, _("Only one-choice and several-choices questions have choices."))
        )
        return
    if not isinstance(value, list) or not value:
        problems.append(Problem(where, _("must be a list of choice keys")))
        return
    seen = set()
    for index, key in enumerate(value):
        message = None
        if not isinstance(key, str) or key not in choice_keys:
            message = _("not a choice of that question")
        elif key in seen:
            message = _("used twice")
        _note(problems, f"{where}[{index}]", message)
        if isinstance(key, str):
            seen.add(key)
    if choice_keys and seen >= choice_keys:
        problems.append(Problem(where, _("must leave at least one choice out")))


def stored_concern(kind, raw, choice_keys):
    """Return a stored concern (JSON text) still valid for the kind and choices, else None."""
    try:
        concern = json.loads(raw) if raw else None
    except ValueError:
        return None
    problems = []
    check_concern("q", {"kind": kind, "concern": concern}, set(choice_keys), problems)
    return None if problems else concern


def check_questions(data, problems):
    """Check the list of questions, and that an open questionnaire asks something."""
    questions = data.get("questions")
    if not isinstance(questions, list):
        problems.append(Problem("questions", _("must be a list")))
        return
    if len(questions) > MAX_QUESTIONS:
        problems.append(Problem("questions", _("at most %(n)s items", n=MAX_QUESTIONS)))
        return
    seen = {}
    for index, item in enumerate(questions):
        check_question(index, item, seen, problems)
    asks = any(isinstance(q, dict) and q.get("kind") != "section" for q in questions)
    if data.get("status") == "open" and not asks:
        problems.append(
            Problem("questions", _("Add at least one question before opening the questionnaire."))
        )


def check_file(data, normalise=None):
    """Return every problem of a questionnaire file's data that needs no database."""
    if depth(data) > MAX_DEPTH:
        return [Problem("file", _("The file nests lists and objects too deeply."))]
    if not isinstance(data, dict):
        return [Problem("file", _("the file must hold one JSON object"))]
    problems = []
    _unknown(data, FILE_KEYS, "", problems)
    check_settings(data, problems, normalise)
    owner = data.get("organisation")
    if owner is not None:
        _note(problems, "organisation", code_problem(owner))
    if data.get("repeat_of") is not None:  # the earlier wave's address (file_format finds it)
        _note(problems, "repeat_of", slug_problem(data["repeat_of"]))
    check_targets(data.get("targets"), problems)
    check_questions(data, problems)
    return problems
