"""Fake responses: valid by the same rules as real ones, spread over the targeted groups."""

from peewee import fn

from survey.cli import fake
from survey.models import Answer, Choice, Question, Response, Ward
from survey.questionnaires.file_format import set_targets


def answers_of(question_key):
    """Return the Answer rows of a sample question."""
    return Answer.select().join(Question).where(Question.key == question_key)


def test_generates_valid_responses(sample):
    assert fake.generate(sample, 300, seed=7) == 300
    assert Response.select().where(Response.questionnaire == sample).count() == 300
    # required and shown: every response answers "agree", exactly once
    assert answers_of("agree").count() == 300
    assert answers_of("agree").select(Answer.response).distinct().count() == 300
    # "why" is shown (and then required) only after "no"
    said_no = (
        answers_of("agree")
        .join_from(Answer, Choice)
        .where(Choice.key == "no")
        .select(Answer.response)
    )
    why = answers_of("why").select(Answer.response)
    assert {r.response_id for r in why} == {r.response_id for r in said_no}
    assert 0 < why.count() < 300
    low, high = (
        answers_of("score")
        .select(fn.MIN(Answer.number), fn.MAX(Answer.number))
        .scalar(as_tuple=True)
    )
    assert 1 <= low and high <= 5 and low < high
    low, high = (
        answers_of("age").select(fn.MIN(Answer.number), fn.MAX(Answer.number)).scalar(as_tuple=True)
    )
    assert 0 <= low and high <= 120
    # optional questions are sometimes skipped, multi-choice sometimes has several answers
    assert answers_of("note").count() < 300
    per_response = (
        answers_of("topics")
        .select(Answer.response, fn.COUNT(Answer.id).alias("n"))
        .group_by(Answer.response)
    )
    assert max(row.n for row in per_response) > 1
    assert Response.select().where(Response.collaborator.is_null(False)).count() == 0


def test_spreads_over_targeted_groups_only(sample, network):
    set_targets(sample, ["DOAN"], ["P2"])
    fake.generate(sample, 40, seed=1)
    groups = set(Response.select(Response.ward, Response.organisation).tuples())
    ward = Ward.get(Ward.code == "P2")
    doan = network["organisations"][1]
    assert groups == {(ward.id, doan.id)}


def test_spreads_over_every_group_when_untargeted(sample):
    fake.generate(sample, 200, seed=2)
    groups = set(Response.select(Response.ward, Response.organisation).tuples())
    assert len(groups) == 4


def test_refuses_without_a_ward(sample):
    Ward.update(active=False).execute()
    try:
        fake.generate(sample, 5)
    except fake.FakeError:
        pass
    else:
        raise AssertionError("generated responses with no active ward")
    assert Response.select().count() == 0


def test_inactive_targets_are_not_replaced_by_everyone(sample):
    set_targets(sample, [], ["P2"])
    Ward.update(active=False).where(Ward.code == "P2").execute()
    try:
        fake.generate(sample, 5)
    except fake.FakeError:
        pass
    else:
        raise AssertionError("answered from wards the questionnaire was not sent to")
    assert Response.select().count() == 0
