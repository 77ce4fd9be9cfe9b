"""Waves: a questionnaire that repeats an earlier one, and which of its questions compare.

Two questions compare when they have the same key and the same kind (a scale also the same
bounds): the earlier wave's figures of that question are shown beside the current ones. A
question of the repeat that the earlier wave did not ask is shown without a previous figure;
a key the earlier wave gave to a question of another kind makes the pair incomparable, which
the builder and the file refuse when the earlier wave is chosen.
"""

from survey.i18n import gettext as _
from survey.i18n import kind_label
from survey.models import Question, Questionnaire
from survey.respond.rules import scale_bounds

COUNTED_KINDS = ("single", "multi", "scale", "number")
LONGEST_CHAIN = 1000  # waves followed back, at most, when looking for a circle


def shape(question):
    """Return what two questions must share to compare: the kind, and a scale's bounds."""
    if question.kind == "scale":
        return ("scale", *scale_bounds(question))
    return (question.kind,)


def counted_questions(questionnaire):
    """Return a questionnaire's counted questions (hidden ones too), in order."""
    return list(
        questionnaire.ordered_questions(include_hidden=True).where(Question.kind.in_(COUNTED_KINDS))
    )


def matched(questions, earlier_questions):
    """Return {key: earlier question} of the questions found in the earlier wave, same shape."""
    earlier = {q.key: q for q in earlier_questions}
    return {
        q.key: earlier[q.key]
        for q in questions
        if q.key in earlier and shape(earlier[q.key]) == shape(q)
    }


def _shape_label(question):
    """Name a question's kind for a message, with a scale's bounds."""
    if question.kind == "scale":
        low, high = scale_bounds(question)
        return f"{kind_label('scale')} {low}–{high}"
    return kind_label(question.kind)


def repeat_problem(questionnaire, earlier):
    """Return why `earlier` cannot be the earlier wave of `questionnaire` (None: it can).

    questionnaire is None while it is being created: anything may be its earlier wave then.
    """
    if questionnaire is not None and questionnaire.id is not None:
        if earlier.id == questionnaire.id:
            return _("A questionnaire cannot be a repeat of itself.")
        step, seen = earlier, 0
        while step.repeat_of_id is not None and seen < LONGEST_CHAIN:
            if step.repeat_of_id == questionnaire.id:
                return _(
                    "“%(title)s” is itself a later wave of this questionnaire.",
                    title=earlier.title,
                )
            step = Questionnaire.get_or_none(Questionnaire.id == step.repeat_of_id)
            seen += 1
            if step is None:
                break
        return questions_problem(counted_questions(questionnaire), earlier)
    return None


def questions_problem(questions, earlier):
    """Return why questions (with key, kind, bounds) cannot be compared with the earlier wave's."""
    if not questions:
        return None  # nothing counted yet: every question added later is compared if it can be
    before = {q.key: q for q in counted_questions(earlier)}
    for q in questions:
        old = before.get(q.key)
        if old is not None and shape(old) != shape(q):
            return _(
                "Question %(key)s is “%(kind)s” here but “%(old)s” in “%(title)s”: a repeat "
                "asks each question it shares with the earlier wave the same way.",
                key=q.key,
                kind=_shape_label(q),
                old=_shape_label(old),
                title=earlier.title,
            )
    if not matched(questions, before.values()):
        return _(
            "None of the counted questions of this questionnaire is in “%(title)s” with the "
            "same key and kind, so there is nothing to compare.",
            title=earlier.title,
        )
    return None


def choosable(questionnaire=None):
    """Return the questionnaires a user may pick as the earlier wave, newest first.

    Every reader of the tallies may read any questionnaire (within their organisation's
    answers), so every other questionnaire is offered; the one edited is left out.
    """
    query = Questionnaire.select(
        Questionnaire.id, Questionnaire.slug, Questionnaire.title
    ).order_by(Questionnaire.created_at.desc(), Questionnaire.id.desc())
    if questionnaire is not None and questionnaire.id is not None:
        query = query.where(Questionnaire.id != questionnaire.id)
    return query
