"""A form opened before a change: the answer sent from it follows the change, or is refused."""

import datetime
import uuid

import pytest

from survey.models import (
    Answer,
    Choice,
    Collaborator,
    Organisation,
    Question,
    Questionnaire,
    Receipt,
    Response,
    RetiredToken,
    Ward,
    utcnow,
)
from survey.questionnaires.authoring import set_status
from survey.questionnaires.file_format import import_questionnaire
from survey.respond.links import sign_group
from tests.helpers import SAMPLE


@pytest.fixture
def alice(network):
    """Return collaborator P1/MTTQ."""
    return network["collaborators"][("P1", "MTTQ")]


def send(client, token, **answers):
    """Post an answer to the sample questionnaire through a collaborator's link."""
    return client.post(
        f"/c/{token}/sample", data={"client_uuid": str(uuid.uuid4()), "agree": "yes", **answers}
    )


def counts():
    """Return how many responses, answers and receipted responses are stored."""
    receipts = sum(r.count for r in Receipt.select())
    return Response.select().count(), Answer.select().count(), receipts


def test_answers_sent_from_one_opened_form_are_all_stored(client, sample, alice):
    """Three answers sent from one opened many-responses form: three responses, in her ward."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    for _ in range(3):
        sent = send(client, alice.token, topics="roads")
        assert sent.status_code == 303
        assert sent.headers["Location"].endswith(f"/c/{alice.token}/sample/thanks")
    assert counts() == (3, 6, 3)
    assert {r.ward_id for r in Response.select()} == {alice.ward_id}


def close_by_coordinator(questionnaire, person):
    """Close the questionnaire as the coordinator's page does."""
    set_status(None, Questionnaire.get_by_id(questionnaire.id), "closed")


def close_behind_the_apps_back(questionnaire, person):
    """Close the questionnaire in the database, behind the app's back."""
    Questionnaire.update(status="closed").where(Questionnaire.id == questionnaire.id).execute()


def deactivate(questionnaire, person):
    """Take the collaborator out of the network, behind the app's back (no retired link kept)."""
    Collaborator.update(active=False).where(Collaborator.id == person.id).execute()


def rotate_long_ago(questionnaire, person):
    """Give the collaborator a new link, the old one retired before the grace period."""
    Collaborator.get_by_id(person.id).rotate_token()
    RetiredToken.update(retired_at=utcnow() - datetime.timedelta(days=31)).execute()


def rotate_token(questionnaire, person):
    """Give the collaborator a new link; answers kept under the old one still arrive a while."""
    Collaborator.get_by_id(person.id).rotate_token()


@pytest.mark.parametrize(
    "change,status",
    [
        (close_by_coordinator, 410),
        (close_behind_the_apps_back, 410),
        (deactivate, 404),
        (rotate_long_ago, 404),
    ],
)
def test_an_opened_form_refuses_once_its_rows_change(client, sample, alice, change, status):
    """A questionnaire closed or a collaborator removed after the form was opened: refused,
    nothing more is stored."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    assert send(client, alice.token).status_code == 303
    change(sample, alice)
    assert send(client, alice.token).status_code == status
    assert counts() == (1, 1, 1)


@pytest.mark.parametrize("grace_days", [30, 0])
def test_answers_kept_under_a_replaced_link_arrive_within_the_grace(
    client, app, sample, alice, grace_days
):
    """A new link made while answers waited on the phone: the old link opens no page, yet its
    answers are taken (once each) for the grace period, and refused with none."""
    app.config["TOKEN_GRACE_DAYS"] = grace_days
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    old = alice.token
    rotate_token(sample, alice)
    assert client.get(f"/c/{old}").status_code == 404
    assert client.get(f"/c/{old}/sample").status_code == 404
    kept = {"client_uuid": str(uuid.uuid4()), "agree": "yes"}
    first = client.post(f"/c/{old}/sample", data=kept)
    again = client.post(f"/c/{old}/sample", data=kept)
    if grace_days:
        assert first.status_code == again.status_code == 303
        new = Collaborator.get_by_id(alice.id).token
        assert new not in first.headers["Location"]  # the old card never learns the new link
        assert counts() == (1, 1, 1)
        assert Response.get().collaborator_id == alice.id
    else:
        assert first.status_code == again.status_code == 404
        assert counts() == (0, 0, 0)


def test_an_opened_form_follows_a_move_and_a_new_question(client, sample, alice, network, login):
    """A collaborator moved to another ward, a question added: the next answer follows both."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    p2 = network["wards"][1]
    Collaborator.update(ward=p2).where(Collaborator.id == alice.id).execute()
    assert send(client, alice.token).status_code == 303
    assert Response.get().ward_id == p2.id  # the new ward, not the one of the opened form
    coordinator = login("coordinator")
    added = coordinator.post(
        "/questionnaires/sample/questions",
        data={"key": "extra", "kind": "number", "prompt": "Thêm?"},
    )
    assert added.status_code == 302
    assert send(client, alice.token, extra="7").status_code == 303
    assert Answer.select().where(Answer.number == 7).count() == 1


def test_a_second_answer_to_a_one_response_form_is_still_409(client, sample, alice):
    """The receipt's key refuses a collaborator's second answer."""
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    assert send(client, alice.token).status_code == 303
    assert send(client, alice.token).status_code == 409
    assert counts() == (1, 1, 1)


def test_the_open_link_refuses_a_ward_closed_since_it_was_opened(client, sample, network):
    """Answers through an opened open link are stored; a ward made inactive since is refused."""
    assert client.get("/s/sample").status_code == 200
    for ward in ("P1", "P2"):
        sent = client.post(
            "/s/sample",
            data={
                "client_uuid": str(uuid.uuid4()),
                "agree": "yes",
                "ward": ward,
                "organisation": "DOAN",
            },
        )
        assert sent.status_code == 303
    Ward.update(active=False).where(Ward.code == "P2").execute()
    refused = client.post(
        "/s/sample",
        data={
            "client_uuid": str(uuid.uuid4()),
            "agree": "yes",
            "ward": "P2",
            "organisation": "DOAN",
        },
    )
    assert refused.status_code == 400
    assert counts() == (2, 2, 0)


def test_a_poster_is_404_once_its_organisation_closes(client, sample, network, app):
    """A poster's answers are stored; its organisation made inactive since, it is a 404."""
    with app.test_request_context():
        group = sign_group(network["wards"][1], network["organisations"][0])
    assert client.get(f"/s/sample/{group}").status_code == 200
    sent = client.post(
        f"/s/sample/{group}", data={"client_uuid": str(uuid.uuid4()), "agree": "yes"}
    )
    assert sent.status_code == 303
    assert (Response.get().ward.code, Response.get().organisation.code) == ("P2", "MTTQ")
    Organisation.update(active=False).where(Organisation.code == "MTTQ").execute()
    gone = client.post(
        f"/s/sample/{group}", data={"client_uuid": str(uuid.uuid4()), "agree": "yes"}
    )
    assert gone.status_code == 404
    assert counts() == (1, 1, 0)


def test_the_open_link_turned_off_is_404_for_a_form_opened_before(client, sample, network):
    """The open link switched off in the database after the form was opened: 404, nothing stored."""
    assert client.get("/s/sample").status_code == 200
    Questionnaire.update(open_link=False).where(Questionnaire.id == sample.id).execute()
    sent = client.post(
        "/s/sample",
        data={
            "client_uuid": str(uuid.uuid4()),
            "agree": "yes",
            "ward": "P1",
            "organisation": "MTTQ",
        },
    )
    assert sent.status_code == 404
    assert counts() == (0, 0, 0)


def schema_version(questionnaire):
    """Return the questionnaire's schema version as the database holds it now."""
    return Questionnaire.get_by_id(questionnaire.id).schema_version


def test_the_database_moves_the_schema_version_at_every_change_of_the_form(sample, network):
    """Inserts, updates and deletes of questions, choices and targets, in plain SQL, each
    move the version on; a change of another questionnaire's form or of a title does not."""
    from survey.db import database

    other = import_questionnaire({**SAMPLE, "slug": "other"})
    agree = Question.get(Question.questionnaire == sample, Question.key == "agree")
    ward = network["wards"][0]
    organisation = network["organisations"][0]
    statements = [
        ('UPDATE "question" SET "prompt" = \'Đổi\' WHERE "id" = {p}', [agree.id]),
        (
            'UPDATE "choice" SET "label" = \'Có\' WHERE "question_id" = {p} AND "key" = {p}',
            [agree.id, "yes"],
        ),
        (
            'INSERT INTO "choice" ("question_id", "key", "position", "label", "hidden") '
            "VALUES ({p}, 'maybe', 9, 'Có lẽ', {p})",
            [agree.id, False],
        ),
        ('DELETE FROM "choice" WHERE "question_id" = {p} AND "key" = \'maybe\'', [agree.id]),
        (
            'INSERT INTO "questionnaire_ward" ("questionnaire_id", "ward_id") VALUES ({p}, {p})',
            [sample.id, ward.id],
        ),
        (
            'INSERT INTO "questionnaire_organisation" ("questionnaire_id", "organisation_id") '
            "VALUES ({p}, {p})",
            [sample.id, organisation.id],
        ),
        ('DELETE FROM "questionnaire_ward" WHERE "questionnaire_id" = {p}', [sample.id]),
        ('DELETE FROM "question" WHERE "questionnaire_id" = {p} AND "key" = \'day\'', [sample.id]),
    ]
    for statement, params in statements:
        before, others = schema_version(sample), schema_version(other)
        database.execute_sql(statement.format(p=database.obj.param), params)
        assert schema_version(sample) > before, statement
        assert schema_version(other) == others, statement
    before = schema_version(sample)
    Questionnaire.update(title="Khác").where(Questionnaire.id == sample.id).execute()
    assert schema_version(sample) == before


def test_a_form_changed_in_sql_behind_the_apps_back_is_followed_at_once(client, sample, alice):
    """A kept form never outlives a change: a choice added and a target set in plain SQL are
    followed by the very next answer."""
    from survey.db import database

    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert send(client, alice.token, agree="yes").status_code == 303  # the form is now kept
    assert send(client, alice.token, agree="maybe").status_code == 422
    agree = Question.get(Question.questionnaire == sample, Question.key == "agree")
    Choice.insert(question=agree, key="maybe", position=9, label="Có lẽ").execute()
    assert send(client, alice.token, agree="maybe").status_code == 303
    other_ward = Ward.select().where(Ward.id != alice.ward_id).first()
    database.execute_sql(
        'INSERT INTO "questionnaire_ward" ("questionnaire_id", "ward_id") VALUES '
        f"({database.obj.param}, {database.obj.param})",
        [sample.id, other_ward.id],
    )
    assert send(client, alice.token, agree="yes").status_code == 403  # not sent to her now
    assert Response.select().count() == 2


def test_a_new_questionnaire_on_a_deleted_ones_id_gets_its_own_form(client, sample, alice):
    """SQLite may reuse a deleted questionnaire's id: the new one is checked by its own form."""
    first = import_questionnaire({**SAMPLE, "slug": "tam", "per_collaborator": "many"})
    assert client.get(f"/c/{alice.token}/tam").status_code == 200  # its form is now kept
    version = Questionnaire.get_by_id(first.id).schema_version
    Questionnaire.delete().where(Questionnaire.id == first.id).execute()
    questions = [{"key": "only", "kind": "text", "prompt": "Chỉ một câu", "required": True}]
    second = import_questionnaire(
        {**SAMPLE, "slug": "tam", "per_collaborator": "many", "questions": questions}
    )
    # The worst case: the same id (SQLite reuses the highest one freed) and the same version.
    Questionnaire.update(schema_version=version).where(Questionnaire.id == second.id).execute()
    refused = client.post(
        f"/c/{alice.token}/tam", data={"client_uuid": str(uuid.uuid4()), "agree": "yes"}
    )
    assert refused.status_code == 422  # "only" is required; "agree" is no question of it
    assert Response.select().where(Response.questionnaire == second).count() == 0
