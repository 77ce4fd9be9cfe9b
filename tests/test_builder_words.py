"""The builder in the coordinator's words: two choices of one question never share a wording."""

import pytest

from survey.models import Question
from survey.questionnaires import authoring
from survey.questionnaires.file_format import check, import_questionnaire
from tests.helpers import SAMPLE, make_user


def test_a_file_with_a_choice_twice_is_refused(app, network):
    """ "Có" and " có " are the same wording: the file names the second one."""
    spec = {
        "slug": "twice",
        "title": "Hai lần",
        "questions": [
            {
                "key": "q",
                "kind": "single",
                "prompt": "Đồng ý?",
                "choices": [{"key": "a", "label": "Có"}, {"key": "b", "label": " có "}],
            }
        ],
    }
    with app.test_request_context("/?lang=vi"):
        problems = check(spec)
    assert len(problems) == 1 and "questions[0].choices[1].label" in problems[0]
    assert "cùng nội dung" in problems[0]


def test_the_builder_refuses_a_choice_label_twice(app, network):
    """Adding or relabelling a choice to an existing wording is refused, nothing changed."""
    questionnaire = import_questionnaire(SAMPLE)
    user = make_user("builder", "admin")
    question = Question.get(Question.questionnaire == questionnaire, Question.key == "agree")
    with app.test_request_context():
        with pytest.raises(authoring.Refused):
            authoring.create_choice(user, question, "", "đồng ý")
        first = question.ordered_choices()[0]
        with pytest.raises(authoring.Refused):
            authoring.update_choice(user, first, first.key, "Không đồng ý")
        authoring.update_choice(user, first, first.key, "Đồng ý lắm")
    assert [c.label for c in question.ordered_choices()] == ["Đồng ý lắm", "Không đồng ý"]
