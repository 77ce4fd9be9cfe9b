"""Running tallies (migration 0015) equal a GROUP BY of the answers, whoever changed them.

Seeded random runs (no Hypothesis here) of submits through the phone form's path, bulk fakes,
re-dated responses, voids and restores moved in SQL as the void screen does, deletes and
cascades, hidden questions and choices; after each run the three running-count tables equal
the GROUP BY of `answer` and `response` they stand for, and every tally read through them
equals the same tally counted from the answers (RUNNING_TALLIES off).
"""

import dataclasses
import datetime
import random

import pytest
from playhouse.migrations import Migration, Runner

from survey.cli import fake
from survey.db import MIGRATIONS_DIR, database, migrate
from survey.models import (
    Answer,
    AuditEvent,
    Choice,
    Organisation,
    Question,
    Response,
    TallyAnswer,
    TallyAnswerDay,
    TallyClock,
    TallyResponse,
    Ward,
)
from survey.questionnaires.file_format import import_questionnaire
from survey.tallies import aggregates
from survey.tallies.counting import Filters, tally
from tests.helpers import SAMPLE, store_answers

ANSWER_COLUMNS = (
    '"response_id", "question_id", "choice_id", "text", "number", "questionnaire_id", '
    '"ward_id", "organisation_id", "submitted_at", "first_row"'
)
SEEDS = [1, 2, 3]
STEPS = 40


def expected():
    """Return the three running-count tables as a GROUP BY of the stored rows would give them."""
    offset = datetime.timedelta(minutes=aggregates.clock_offset())
    answers, days, responses = {}, {}, {}
    for row in Answer.select().tuples().iterator():
        a = dict(zip([f.name for f in Answer._meta.sorted_fields], row))
        key = (
            a["questionnaire"],
            a["question"],
            a["ward"],
            a["organisation"],
            a["choice"] or 0,
            int(a["number"] is not None),
            a["number"] or 0.0,
        )
        day = (key[0], key[1], *key[4:], (a["submitted_at"] + offset).date())
        for table, k in ((answers, key), (days, day)):
            n, first = table.get(k, (0, 0))
            table[k] = (n + 1, first + int(bool(a["first_row"])))
    for q, w, o, at in (
        Response.select(
            Response.questionnaire, Response.ward, Response.organisation, Response.submitted_at
        )
        .where(Response.state == Response.COUNTED)
        .tuples()
    ):
        key = (q, w, o, (at + offset).date())
        responses[key] = responses.get(key, 0) + 1
    return answers, days, responses


def kept():
    """Return the three running-count tables as stored, cells fallen back to 0 left out."""
    keys = ("questionnaire", "question_id", "ward", "organisation", "choice_id")
    answers = {
        tuple(getattr(r, k) for k in keys) + (r.valued, r.value): (r.answers, r.answered)
        for r in TallyAnswer.select().where(TallyAnswer.answers != 0)
    }
    days = {
        (r.questionnaire, r.question_id, r.choice_id, r.valued, r.value, _day(r.day)): (
            r.answers,
            r.answered,
        )
        for r in TallyAnswerDay.select().where(TallyAnswerDay.answers != 0)
    }
    responses = {
        (r.questionnaire, r.ward, r.organisation, _day(r.day)): r.responses
        for r in TallyResponse.select().where(TallyResponse.responses != 0)
    }
    return answers, days, responses


def _day(value):
    """Return a stored day as a date (SQLite hands back its text)."""
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


def published(result):
    """Return a Tally as plain data, means rounded (float sums may add in another order)."""

    def clean(value):
        """Round floats, recurse into containers, keep the rest."""
        if isinstance(value, float):
            return round(value, 9)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    data = {
        "responses": result.responses,
        "cross": result.cross,
        "wards": result.ward_totals,
        "organisations": result.organisation_totals,
        "questions": [
            (
                q.key,
                q.answered,
                q.skipped,
                q.mean,
                [dataclasses.astuple(c) for c in q.columns],
                [dataclasses.astuple(r) for r in q.rows],
            )
            for q in result.questions
        ],
    }
    return clean(data)


def both_ways(app, questionnaire, filters):
    """Return the tally through the running counts and through the answers."""
    found = []
    for running in (True, False):
        app.config["RUNNING_TALLIES"] = running
        try:
            with app.test_request_context():
                found.append(published(tally(questionnaire, filters)))
        finally:
            app.config["RUNNING_TALLIES"] = True
    return found


def filter_sets(questionnaire):
    """Return the filters a tally is asked with: none, each breakdown, a place, a date range."""
    ward, org = Ward.get(Ward.code == "P1"), Organisation.get(Organisation.code == "MTTQ")
    days = {"start": datetime.date(2025, 7, 2), "end": datetime.date(2025, 7, 4)}
    found = [Filters(), Filters(by="ward"), Filters(by="organisation"), Filters(ward=ward)]
    found += [Filters(organisation=org, by="ward"), Filters(scope=org.id, by="organisation")]
    found += [Filters(by="agree", question=Question.get(key="agree", questionnaire=questionnaire))]
    if questionnaire.suppress_below <= 1:
        found += [Filters(**days), Filters(ward=ward, by="organisation", **days)]
        found += [Filters(end=datetime.date(2025, 7, 3)), Filters(start=days["start"])]
    return found


def random_answers(rng, questionnaire):
    """Return one valid random form of the sample questionnaire, as its visible parts allow."""
    shown = {
        q.key: [c.key for c in q.ordered_choices()]
        for q in questionnaire.ordered_questions(include_hidden=False)
    }
    answers = {}
    if shown.get("agree"):
        answers["agree"] = rng.choice(shown["agree"])
        if answers["agree"] == "no" and "why" in shown:
            answers["why"] = rng.choice(["Xa", "Tốn kém", "Ồn ào"])
    if "topics" in shown:
        answers["topics"] = rng.sample(shown["topics"], rng.randint(0, len(shown["topics"])))
    if "score" in shown and rng.random() < 0.8:
        answers["score"] = str(rng.randint(1, 5))
    if "age" in shown and rng.random() < 0.8:
        answers["age"] = str(rng.choice([18, 25.5, 40, 40, 67, 0]))
    return answers


def random_time(rng):
    """Return a local time in early July 2025, near midnight at times (the edge of a day)."""
    day = datetime.date(2025, 7, 1) + datetime.timedelta(days=rng.randint(0, 4))
    hour, minute = rng.choice([(0, 0), (23, 59), (0, 1), (rng.randint(0, 23), rng.randint(0, 59))])
    return f"{day.isoformat()} {hour:02d}:{minute:02d}"


def void(response_id, state=Response.VOIDED):
    """Set a response aside as the void screen does: its answer rows moved, its state changed."""
    with database.atomic():
        database.execute_sql(
            f'INSERT INTO "set_aside_answer" ({ANSWER_COLUMNS}) SELECT {ANSWER_COLUMNS} '
            'FROM "answer" WHERE "response_id" = ' + database.obj.param,
            [response_id],
        )
        Answer.delete().where(Answer.response == response_id).execute()
        Response.update(state=state).where(Response.id == response_id).execute()


def restore(response_id):
    """Count a voided response again: its rows moved back, its state counted."""
    with database.atomic():
        database.execute_sql(
            f'INSERT INTO "answer" ({ANSWER_COLUMNS}) SELECT {ANSWER_COLUMNS} '
            'FROM "set_aside_answer" WHERE "response_id" = ' + database.obj.param,
            [response_id],
        )
        database.execute_sql(
            'DELETE FROM "set_aside_answer" WHERE "response_id" = ' + database.obj.param,
            [response_id],
        )
        Response.update(state=Response.COUNTED).where(Response.id == response_id).execute()


def response_ids(state):
    """Return the ids of the responses in a state."""
    return [r.id for r in Response.select(Response.id).where(Response.state == state)]


def step(rng, questionnaire):
    """Make one random change of the kinds every writer makes."""
    wards, orgs = list(Ward.select()), list(Organisation.select())
    move = rng.random()
    if move < 0.45:
        store_answers(
            questionnaire,
            rng.choice(wards),
            rng.choice(orgs),
            random_answers(rng, questionnaire),
            local=random_time(rng),
        )
    elif move < 0.5:
        fake.generate(questionnaire, rng.randint(1, 20), seed=rng.randint(0, 1000))
    elif move < 0.62 and response_ids(Response.COUNTED):
        void(
            rng.choice(response_ids(Response.COUNTED)), rng.choice([Response.VOIDED, Response.TEST])
        )
    elif move < 0.72 and response_ids(Response.VOIDED):
        restore(rng.choice(response_ids(Response.VOIDED)))
    elif move < 0.82 and (Response.select().exists()):
        Response.delete().where(
            Response.id == rng.choice(response_ids(rng.randint(0, 1)) or [0])
        ).execute()
    elif move < 0.9:
        question = rng.choice(list(Question.select().where(Question.kind != "section")))
        Question.update(hidden=~Question.hidden).where(Question.id == question.id).execute()
    else:  # a question keeps a choice to give, so a required one can still be answered
        choice = rng.choice(list(Choice.select()))
        shown = Choice.select().where(Choice.question == choice.question_id, ~Choice.hidden)
        if choice.hidden or shown.count() > 1:
            Choice.update(hidden=~Choice.hidden).where(Choice.id == choice.id).execute()


@pytest.fixture(params=[0, 3], ids=["open", "suppressed"])
def questionnaire(request, network):
    """The sample questionnaire, with every response counted or with groups below 3 withheld."""
    return import_questionnaire({**SAMPLE, "suppress_below": request.param})


@pytest.mark.parametrize("seed", SEEDS)
def test_running_counts_equal_the_group_by_after_random_changes(app, questionnaire, seed):
    """After random submits, voids, restores, deletes and hidings, every count is exact."""
    rng = random.Random(seed)
    with app.app_context():
        for n in range(STEPS):
            step(rng, questionnaire)
            if n % 10 == 9:
                assert kept() == expected(), f"seed {seed}, step {n}"
        assert kept() == expected()
    assert Response.select().where(Response.state == Response.COUNTED).exists()
    for filters in filter_sets(questionnaire):
        running, counted = both_ways(app, questionnaire, filters)
        assert running == counted, (seed, filters.params())


def test_migration_builds_the_counts_of_answers_already_stored(app, sample):
    """0015 run on a database that has answers builds the counts a GROUP BY gives."""
    rng = random.Random(7)
    with app.app_context():
        for _ in range(30):
            step(rng, sample)
        fake.generate(sample, 50, seed=3)
    names = [m.name for m in Migration.load_directory(str(MIGRATIONS_DIR))]
    before = names[names.index("0015_running_tallies") - 1]
    Runner(database.obj, str(MIGRATIONS_DIR)).down(target=before)
    assert not TallyAnswer.table_exists()
    migrate()
    assert kept() == expected() and kept()[0]


def test_date_ranges_use_the_days_only_at_their_own_offset(app, sample):
    """A range is read from the day counts only while its ends are midnights at their offset."""
    ward, org = Ward.get(Ward.code == "P1"), Organisation.get(Organisation.code == "MTTQ")
    filters = Filters(start=datetime.date(2025, 7, 2), end=datetime.date(2025, 7, 2))
    with app.test_request_context():
        for local in ("07-01 23:59", "07-02 00:00", "07-02 06:59", "07-02 07:00"):
            store_answers(sample, ward, org, {"agree": "yes"}, local="2025-" + local)
        assert aggregates.day_range(filters) == (filters.start, filters.end)
        assert tally(sample, filters).responses == 3
        app.config["TIMEZONE"] = "UTC"  # the zone changed, the days were counted at +07:00
        assert aggregates.day_range(filters) is None
        assert aggregates.day_range(Filters()) == (None, None)
        assert tally(sample, filters).responses == 1  # 00:00 UTC only, counted from the answers
        assert aggregates.rebuild() == ("UTC", 0)
        assert TallyClock.get_by_id(1).offset_minutes == 0
        assert aggregates.day_range(filters) == (filters.start, filters.end)
        assert tally(sample, filters).responses == 1
        assert kept() == expected()


def test_rebuild_tallies_command_counts_again_and_is_audited(app, runner, sample):
    """`survey rebuild-tallies` mends counts changed behind the triggers' back, and says so."""
    with app.app_context():
        for _ in range(5):
            store_answers(sample, Ward.get(), Organisation.get(), {"agree": "yes"})
        TallyAnswer.update(answers=TallyAnswer.answers + 7).execute()
        TallyResponse.delete().execute()
        assert kept() != expected()
    result = runner.invoke(args=["rebuild-tallies"])
    assert result.exit_code == 0, result.output
    assert "Asia/Ho_Chi_Minh (UTC+07:00)" in result.output and "Đã tính lại" in result.output
    with app.app_context():
        assert kept() == expected() and kept()[2]
        event = AuditEvent.select().order_by(AuditEvent.id.desc()).get()
        assert (event.action, event.target) == ("tallies.rebuild", "Asia/Ho_Chi_Minh +420 min")
