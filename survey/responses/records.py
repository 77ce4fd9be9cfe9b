"""Single responses: listing them readably, voiding and restoring them, and test answers.

A response that is not counted (voided, or a test answer from the preview) keeps its answer
rows in set_aside_answer, never in `answer` (migration 0012). Voiding and restoring move those
rows and change the response's state in SQL, in one transaction, so whatever the database
keeps over `answer` and `response` (its triggers included) follows without being told.
"""

import json

from peewee import JOIN, IntegrityError, fn

from survey import text as text_rules
from survey.db import database
from survey.i18n import gettext as _
from survey.i18n import other_words
from survey.models import (
    Answer,
    AuditEvent,
    Choice,
    Collaborator,
    Organisation,
    Receipt,
    Response,
    SetAsideAnswer,
    Ward,
)
from survey.numbers import format_number

REASON_LIMIT = 500
# The columns an answer row has in both tables, in the same order.
ANSWER_COLUMNS = (
    "response",
    "question",
    "choice",
    "text",
    "number",
    "first_row",
    "questionnaire",
    "ward",
    "organisation",
    "submitted_at",
)
SET_ASIDE_COLUMNS = tuple(
    c if c in ("response", "text", "number", "first_row", "submitted_at") else c + "_id"
    for c in ANSWER_COLUMNS
)


class Refused(Exception):
    """A void, restore or clearing that may not happen; its text is for the user."""


def _fields(model, names):
    """Return a model's fields by name."""
    return [getattr(model, name) for name in names]


def scope_terms(scope):
    """Return the WHERE terms that keep the responses of an organisation scope (None: all)."""
    return [] if scope is None else [Response.organisation == scope]


def listed(questionnaire, state, conditions=()):
    """Return a questionnaire's responses in a state, newest first, with their places and names."""
    return (
        Response.select(Response, Ward, Organisation, Collaborator)
        .join_from(Response, Ward)
        .join_from(Response, Organisation)
        .join_from(Response, Collaborator, JOIN.LEFT_OUTER)
        .where(Response.questionnaire == questionnaire.id, Response.state == state, *conditions)
        # Newest first by id: a response's id and time are both taken as it is stored, and the
        # (questionnaire, state, id) index (migration 0016) then pages without sorting them all.
        .order_by(Response.id.desc())
    )


def counts(questionnaire, states, conditions=()):
    """Return {state: how many responses of a questionnaire are in it} (under conditions).

    One pass over the questionnaire's responses for every state asked, not one each.
    """
    query = (
        Response.select(Response.state, fn.COUNT(Response.id))
        .where(Response.questionnaire == questionnaire.id, Response.state.in_(states), *conditions)
        .group_by(Response.state)
        .tuples()
    )
    return dict.fromkeys(states, 0) | dict(query)


def count(questionnaire, state, conditions=()):
    """Return how many responses of a questionnaire are in a state (under conditions)."""
    return counts(questionnaire, (state,), conditions)[state]


def readable(questionnaire, items):
    """Return {response id: [(question, [answer as words])]} in question order, for responses.

    A counted response's answers are read from `answer`, the others' from set_aside_answer;
    a choice reads as its label (an “other” choice with the text written beside it), a number
    as the page's language writes it.
    """
    by_state = {}
    for item in items:
        by_state.setdefault(item.state == Response.COUNTED, []).append(item.id)
    rows = []
    for counted, ids in by_state.items():
        model, names = (Answer, ANSWER_COLUMNS) if counted else (SetAsideAnswer, SET_ASIDE_COLUMNS)
        fields = _fields(model, names[:5])
        rows.extend(model.select(*fields).where(fields[0].in_(ids)).order_by(model.id).tuples())
    questions = {q.id: q for q in questionnaire.ordered_questions(include_hidden=True)}
    labels = dict(
        Choice.select(Choice.id, Choice.label).where(Choice.question.in_(list(questions))).tuples()
    )
    found = {}
    for response_id, question_id, choice_id, text, number in rows:
        if question_id not in questions:
            continue  # a test answer to a question deleted since
        if choice_id is not None:
            words = other_words(labels.get(choice_id, "?"), text)
        elif number is not None:
            words = format_number(number)
        else:
            words = text or ""
        found.setdefault(response_id, {}).setdefault(question_id, []).append(words)
    return {
        response_id: [(questions[qid], answers[qid]) for qid in questions if qid in answers]
        for response_id, answers in found.items()
    }


def check_reason(raw):
    """Return a void's reason cleaned, or raise Refused saying what is wrong with it."""
    reason = text_rules.clean(raw or "")
    if reason is None:
        raise Refused(_("The reason contains characters that are not allowed."))
    if not reason:
        raise Refused(_("Say why this response is voided."))
    if len(reason) > REASON_LIMIT:
        raise Refused(_("Keep the reason under %(limit)s characters.", limit=REASON_LIMIT))
    return reason


def _move(source, source_names, target, target_names, response_id):
    """Move a response's answer rows from one table to the other, in SQL."""
    query = source.select(*_fields(source, source_names)).where(
        _fields(source, source_names)[0] == response_id
    )
    target.insert_from(query, _fields(target, target_names)).execute()
    source.delete().where(_fields(source, source_names)[0] == response_id).execute()


def _audit(user, action, response, **detail):
    """Record a change to a response: questionnaire/response id, and what as JSON."""
    AuditEvent.record(
        user,
        action,
        f"{response.questionnaire.slug}/{response.id}",
        json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )


def _receipt(response):
    """Return the WHERE term of the receipt a response's collaborator holds."""
    return (Receipt.questionnaire == response.questionnaire_id) & (
        Receipt.collaborator == response.collaborator_id
    )


def _set_state(response, was, state, reason, refusal):
    """Move a response from one state to another in SQL, or raise Refused if it was not in `was`.

    The state checked in the UPDATE itself: of two clicks at once, one changes it, one is told.
    """
    moved = (
        Response.update(state=state, void_reason=reason)
        .where((Response.id == response.id) & (Response.state == was))
        .execute()
    )
    if moved != 1:
        raise Refused(refusal)


def void(user, response, raw_reason):
    """Void a counted response of a non-anonymous questionnaire, with a reason.

    Its answers move to set_aside_answer and its collaborator's receipt loses one (and goes
    at 0), so figures, rates, reminders and the one-response rule go on as if it was not sent.
    """
    if response.questionnaire.anonymous:
        raise Refused(
            _(
                "A response to an anonymous questionnaire cannot be voided: nothing ties it "
                "to anyone, so nobody can tell it is the one to void."
            )
        )
    reason = check_reason(raw_reason)
    with database.atomic():
        _set_state(
            response,
            Response.COUNTED,
            Response.VOIDED,
            reason,
            _("This response is not counted any more: it was voided already."),
        )
        _move(Answer, ANSWER_COLUMNS, SetAsideAnswer, SET_ASIDE_COLUMNS, response.id)
        if response.collaborator_id is not None:
            Receipt.update(count=Receipt.count - 1).where(_receipt(response)).execute()
            Receipt.delete().where(_receipt(response) & (Receipt.count <= 0)).execute()
        _audit(user, "response.void", response, reason=reason)
    response.state, response.void_reason = Response.VOIDED, reason


def restore(user, response):
    """Count a voided response again: its answers and its collaborator's receipt come back.

    Refused when its collaborator has answered a one-response questionnaire again since.
    """
    again = _(
        "This collaborator has answered again since this response was voided, and may answer "
        "only once: void their newer response first if this one is the right one."
    )
    one = response.questionnaire.per_collaborator == "one"
    linked = response.collaborator_id is not None
    if linked and one and Receipt.select().where(_receipt(response)).exists():
        raise Refused(again)
    try:
        with database.atomic():
            _set_state(
                response,
                Response.VOIDED,
                Response.COUNTED,
                None,
                _("This response is not voided: there is nothing to restore."),
            )
            if linked:
                insert = Receipt.insert(
                    questionnaire=response.questionnaire_id,
                    collaborator=response.collaborator_id,
                    count=1,
                )
                if not one:
                    insert = insert.on_conflict(
                        conflict_target=[Receipt.questionnaire, Receipt.collaborator],
                        update={Receipt.count: Receipt.count + 1},
                    )
                insert.execute()
            _move(SetAsideAnswer, SET_ASIDE_COLUMNS, Answer, ANSWER_COLUMNS, response.id)
            _audit(user, "response.restore", response, reason=response.void_reason)
    except IntegrityError:  # the collaborator's new answer arrived between the check and here
        raise Refused(again) from None
    response.state, response.void_reason = Response.COUNTED, None


def clear_tests(user, questionnaire, conditions=()):
    """Delete a questionnaire's test answers (within conditions: a scope); return how many."""
    ids = [
        r.id
        for r in Response.select(Response.id).where(
            Response.questionnaire == questionnaire.id,
            Response.state == Response.TEST,
            *conditions,
        )
    ]
    with database.atomic():
        for start in range(0, len(ids), 500):  # within any database's parameter limit
            chunk = ids[start : start + 500]
            SetAsideAnswer.delete().where(SetAsideAnswer.response.in_(chunk)).execute()
            Response.delete().where(Response.id.in_(chunk)).execute()
        AuditEvent.record(
            user, "response.test_clear", questionnaire.slug, json.dumps({"count": len(ids)})
        )
    return len(ids)
