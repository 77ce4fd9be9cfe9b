"""Random valid responses for demos and benchmarks, checked and stored like a real form.

Each fake form is a MultiDict keyed by question key, checked by `rules.check_answers`
and stored by `respond.submit.store_many`, so fakes obey exactly the rules real answers do.
Checking a form costs more than storing it, so at scale each response is drawn from a pool
of POOL checked forms (each checked once), and stored BATCH at a time.

A questionnaire without an open link is answered only through personal links, so its fake
responses come from its targeted active collaborators, stored one by one like a phone's
(receipts kept, one response each where it allows one); only an open link's come from nobody.
"""

import datetime
import itertools
import math
import random
import uuid

from werkzeug.datastructures import MultiDict

from survey.db import bulk_load
from survey.models import Collaborator, Organisation, Receipt, Ward
from survey.respond import submit
from survey.respond.rules import Schema, check_answers, other_field, scale_bounds

# Responses a transaction. PostgreSQL's statement-level tally triggers take a batch at once:
# 250, 2,000 and 5,000 measured alike there (1,849, 1,902, 1,904/s).
BATCH = 5000
POOL = 5000  # distinct checked forms a run draws from: more varied answers than any tally shows
SKIP_OPTIONAL = 0.15
TEXTS = [
    "Cần sửa lại vỉa hè trước chợ.",
    "Đề nghị tăng cường chiếu sáng hẻm.",
    "Thông tin đến người dân còn chậm.",
    "Đồng ý, nhưng cần làm nhanh gọn.",
    "Nên lắng nghe ý kiến các hộ kinh doanh.",
    "Không có ý kiến thêm.",
    "Cần thêm cây xanh ở các tuyến đường.",
    "Lo ngại chỗ đậu xe khi thi công.",
]


class FakeError(ValueError):
    """The questionnaire cannot get fake responses (no ward or organisation to send them from)."""


class TooFewCollaborators(FakeError):
    """A questionnaire without an open link has fewer collaborators left to answer than asked."""

    def __init__(self, available):
        """Keep how many could still answer."""
        super().__init__(f"only {available} collaborators can still answer")
        self.available = available


def _active(targets, model):
    """Return the active rows among a questionnaire's targets, or every active row if untargeted."""
    targets = list(targets)
    return [t for t in targets if t.active] if targets else list(model.ordered())


def _groups(questionnaire):
    """Return the (ward id, organisation id) pairs the questionnaire goes to (untargeted: all)."""
    wards = _active(questionnaire.target_wards(), Ward)
    orgs = _active(questionnaire.target_organisations(), Organisation)
    if not wards or not orgs:
        raise FakeError("there is no active ward or organisation to answer from")
    return [(w.id, o.id) for w in wards for o in orgs]


class _Faker:
    """Draws answers for one questionnaire, with per-choice weights so tallies are not flat."""

    def __init__(self, schema, rng):
        self.schema, self.rng = schema, rng
        self.weights = {
            q.id: [rng.random() + 0.1 for _ in schema.choices[q.id]] for q in schema.questions
        }

    def form(self):
        """Return a random form that answers every shown question validly."""
        form, chosen = MultiDict(), {}
        for question in self.schema.questions:
            parent = question.show_if_question
            if question.kind == "section" or (
                parent and question.show_if_choice not in chosen.get(parent, ())
            ):
                continue
            if not question.required and self.rng.random() < SKIP_OPTIONAL:
                continue
            values = self.answer(question)
            chosen[question.key] = values
            for value in values:
                form.add(question.key, value)
                if value in self.schema.others.get(question.id, ()):  # “Khác (ghi rõ)”
                    form.add(other_field(question, value), self.rng.choice(TEXTS))
        return form

    def answer(self, question):
        """Return the submitted strings of one random valid answer."""
        rng = self.rng
        if question.kind == "multi" and (
            question.min_picks is not None or question.max_picks is not None
        ):
            return self._picks(question)
        if question.kind in ("single", "multi"):
            keys = [c.key for c in self.schema.choices[question.id]]
            picks = rng.choices(
                keys,
                self.weights[question.id],
                k=1 if question.kind == "single" else rng.randint(1, 3),
            )
            return list(dict.fromkeys(picks))
        if question.kind == "scale":
            return [str(rng.randint(*scale_bounds(question)))]
        if question.kind == "number":
            return [str(self._number(question))]
        if question.kind == "date":
            day = datetime.date.today() - datetime.timedelta(days=rng.randint(0, 60))
            return [day.isoformat()]
        return [rng.choice(TEXTS)]

    def _picks(self, question):
        """Return a multiple choice's distinct picks, as many as its limits allow (weighted)."""
        keys, weights = [c.key for c in self.schema.choices[question.id]], self.weights[question.id]
        low = question.min_picks or 1
        high = min(len(keys), question.max_picks if question.max_picks is not None else 3)
        want, picks = self.rng.randint(min(low, high), max(low, high)), []
        while len(picks) < want:
            pick = self.rng.choices(keys, weights)[0]
            if pick not in picks:
                picks.append(pick)
        return picks

    def _number(self, question):
        """Return a whole number within the question's bounds (0–100 when unbounded)."""
        low = question.minimum if question.minimum is not None else 0
        high = question.maximum if question.maximum is not None else max(low, 0) + 100
        if math.ceil(low) <= math.floor(high):
            return self.rng.randint(math.ceil(low), math.floor(high))
        return round(self.rng.uniform(low, high), 6)


def generate(questionnaire, n, seed=None):
    """Store n random valid responses spread over the questionnaire's wards and organisations.

    Every form goes through rules.check_answers; each response is one of min(n, POOL) checked
    forms drawn at random, and BATCH of them are stored together by submit.store_many. The
    planner's statistics are refreshed afterwards. Return the number stored.
    """
    rng = random.Random(seed)
    schema = Schema.load(questionnaire)
    people = None if questionnaire.open_link else _answering(questionnaire, n)
    groups = _groups(questionnaire) if people is None else None
    faker = _Faker(schema, rng)
    checked = []
    for _ in range(min(n, POOL)):
        outcome = check_answers(schema, faker.form())
        if not outcome.ok:
            raise AssertionError(f"fake form refused by the rules: {outcome.errors}")
        checked.append(outcome.values)
    if people is not None:
        return _from_collaborators(questionnaire, n, rng, checked, people)
    pool = [submit.answer_rows(values) for values in checked]
    stored = 0
    with bulk_load():
        for start in range(0, n, BATCH):
            batch = _batch(rng, pool, groups, start, min(BATCH, n - start))
            stored += submit.store_many(questionnaire, batch)
    return stored


def _answering(questionnaire, n):
    """Return the targeted active collaborators who may still answer (all, where many may);
    raise FakeError when there are none, or fewer than n where each answers once."""
    people = list(questionnaire.targeted_collaborators().order_by(Collaborator.id))
    if questionnaire.per_collaborator == "one":
        answered = {
            r.collaborator_id
            for r in Receipt.select(Receipt.collaborator).where(
                Receipt.questionnaire == questionnaire.id
            )
        }
        people = [p for p in people if p.id not in answered]
        if len(people) < n:
            raise TooFewCollaborators(len(people))
    if not people:
        raise TooFewCollaborators(0)
    return people


def _from_collaborators(questionnaire, n, rng, checked, people):
    """Store n responses through collaborators, as their phones would; return how many.

    Each answers once where the questionnaire allows one response; else they take turns.
    """
    if questionnaire.per_collaborator == "one":
        chosen = rng.sample(people, n)
    else:
        chosen = [people[i % len(people)] for i in range(n)]
    stored = 0
    for person, values in zip(chosen, itertools.chain(checked, rng.choices(checked, k=n))):
        outcome = submit.store(
            questionnaire, person.ward_id, person.organisation_id, person, str(uuid.uuid4()), values
        )
        stored += outcome == submit.STORED
    return stored


def _batch(rng, pool, groups, start, size):
    """Return the responses of one batch: pool forms (each once at first) and random groups."""
    # The first draws take each pool form once, so a run no larger than the pool is all distinct.
    fits = start + size <= len(pool)
    forms = pool[start : start + size] if fits else rng.choices(pool, k=size)
    pairs = rng.choices(groups, k=size)
    return [(w, o, str(uuid.uuid4()), rows) for (w, o), rows in zip(pairs, forms)]
