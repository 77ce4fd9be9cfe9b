"""Response rates: how many targeted collaborators of each ward or organisation have answered.

Counted in SQL (one GROUP BY over collaborators left-joined to receipts). Only receipts are
read, never responses, so nothing here can tie an anonymous response to a person.
"""

from peewee import JOIN, fn

from survey.db import vietnamese
from survey.models import Collaborator, Organisation, Receipt, Response, Ward

BY = {"ward": (Ward, Collaborator.ward), "organisation": (Organisation, Collaborator.organisation)}


def grouping(by):
    """Return the asked grouping ("ward" or "organisation"), or None for anything else."""
    return by if by in BY else None


def _targeted_ids(questionnaire, organisation_scope):
    """Return a subquery of the ids of the active targeted collaborators (within the scope)."""
    query = questionnaire.targeted_collaborators().select(Collaborator.id)
    if organisation_scope is not None:
        query = query.where(Collaborator.organisation == organisation_scope)
    return query


def _candidate_groups(questionnaire, by):
    """Return a subquery of the group ids listed even if empty: the targets, else the active."""
    model = BY[by][0]
    targets = (
        questionnaire.target_wards() if by == "ward" else questionnaire.target_organisations()
    ).select(model.id)
    return targets if targets.exists() else model.select(model.id).where(model.active)


def response_rates(questionnaire, by, organisation_scope=None):
    """Return [{"code", "name", "expected", "answered"}] per ward or organisation, in code order.

    expected = active targeted collaborators of the group, answered = those of them with a
    receipt. Groups listed: the targeted (or active) ones, plus any other group that still has
    expected collaborators. A scope limits the counts, and the groups by organisation, to one
    organisation.
    """
    if by not in BY:
        raise ValueError(f"unknown grouping {by!r}")
    model, field = BY[by]
    expected = fn.COUNT(Collaborator.id)
    answered = fn.COUNT(Receipt.collaborator)
    query = (
        model.select(model.code, model.name, expected.alias("expected"), answered.alias("answered"))
        .join(
            Collaborator,
            JOIN.LEFT_OUTER,
            on=(field == model.id)
            & Collaborator.id.in_(_targeted_ids(questionnaire, organisation_scope)),
        )
        .join(
            Receipt,
            JOIN.LEFT_OUTER,
            on=(Receipt.collaborator == Collaborator.id)
            & (Receipt.questionnaire == questionnaire.id),
        )
        .group_by(model.id, model.code, model.name)
        .having(model.id.in_(_candidate_groups(questionnaire, by)) | (expected > 0))
        .order_by(model.code)
    )
    if by == "organisation" and organisation_scope is not None:
        query = query.where(model.id == organisation_scope)
    return [
        {
            "code": row["code"],
            "name": row["name"],
            "expected": row["expected"],
            "answered": row["answered"],
        }
        for row in query.dicts()
    ]


def totals(groups):
    """Return the expected and answered sums of a list of groups, for a total row."""
    return {
        "expected": sum(g["expected"] for g in groups),
        "answered": sum(g["answered"] for g in groups),
    }


def channels(questionnaire, organisation_scope=None):
    """Return how the counted responses came: {"responses", "personal", "open"}, or None.

    Personal links count in a collaborator's rate; posters and the open link (and made-up
    responses) count in the tallies only, which is why "3 answers" there can sit beside
    "2 / 31" here. None for an anonymous questionnaire, whose responses name nobody.
    """
    if questionnaire.anonymous:
        return None
    query = Response.select(fn.COUNT(Response.id), fn.COUNT(Response.collaborator)).where(
        (Response.questionnaire == questionnaire.id) & (Response.state == Response.COUNTED)
    )
    if organisation_scope is not None:
        query = query.where(Response.organisation == organisation_scope)
    responses, personal = query.tuples().get()
    return {"responses": responses, "personal": personal, "open": responses - personal}


def percent(answered, expected):
    """Return answered as a percentage of expected (0 when nobody is expected)."""
    return 100.0 * answered / expected if expected else 0.0


def not_answered(questionnaire, organisation_scope=None, ward=None, organisation=None):
    """Return the active targeted collaborators without a receipt, with ward and organisation."""
    receipts = Receipt.select(Receipt.collaborator).where(Receipt.questionnaire == questionnaire.id)
    query = (
        Collaborator.select(Collaborator, Ward, Organisation)
        .join_from(Collaborator, Ward)
        .join_from(Collaborator, Organisation)
        .where(
            Collaborator.id.in_(_targeted_ids(questionnaire, organisation_scope))
            & Collaborator.id.not_in(receipts)
        )
        .order_by(Ward.code, Organisation.code, vietnamese(Collaborator.name), Collaborator.id)
    )
    if ward is not None:
        query = query.where(Collaborator.ward == ward)
    if organisation is not None:
        query = query.where(Collaborator.organisation == organisation)
    return query
