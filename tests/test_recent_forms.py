"""Forms remembered by the process: stored without a lookup, and never trusted once changed."""
import uuid

import pytest
from werkzeug.datastructures import MultiDict

from survey import respond
from survey.authoring import set_status
from survey.links import sign_group
from survey.models import (
    Answer,
    Collaborator,
    Organisation,
    Questionnaire,
    Receipt,
    Response,
    Ward,
    questionnaire_and_collaborator,
    utcnow,
)
from survey.respond import questionnaire_or_404
from survey.rules import check_answers, schema_of


@pytest.fixture
def alice(network):
    """Return collaborator P1/MTTQ."""
    return network["collaborators"][("P1", "MTTQ")]


@pytest.fixture
def lookups(monkeypatch):
    """Count the phone form's lookups of questionnaire and collaborator."""
    calls = []

    def counted(slug, token):
        """Look the form up as the view does, noting the call."""
        calls.append((slug, token))
        return questionnaire_and_collaborator(slug, token)
    monkeypatch.setattr(respond, "questionnaire_and_collaborator", counted)
    return calls


def send(client, token, **answers):
    """Post an answer to the sample questionnaire through a collaborator's link."""
    return client.post(f"/c/{token}/sample",
                       data={"client_uuid": str(uuid.uuid4()), "agree": "yes", **answers})


def counts():
    """Return how many responses, answers and receipted responses are stored."""
    receipts = sum(r.count for r in Receipt.select())
    return Response.select().count(), Answer.select().count(), receipts


def test_a_remembered_form_is_stored_without_looking_it_up(client, sample, alice, lookups):
    """Opening the form remembers it; the answers sent from it need no lookup and are all stored."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    assert len(lookups) == 1
    for _ in range(3):
        sent = send(client, alice.token, topics="roads")
        assert sent.status_code == 303
        assert sent.headers["Location"].endswith(f"/c/{alice.token}/sample/thanks")
    assert len(lookups) == 1
    assert counts() == (3, 6, 3)
    assert {r.ward_id for r in Response.select()} == {alice.ward_id}


def close_by_coordinator(questionnaire, person):
    """Close the questionnaire as the coordinator's page does."""
    set_status(None, Questionnaire.get_by_id(questionnaire.id), "closed")


def close_behind_the_apps_back(questionnaire, person):
    """Close the questionnaire in the database, without stamping updated_at."""
    Questionnaire.update(status="closed").where(Questionnaire.id == questionnaire.id).execute()


def deactivate(questionnaire, person):
    """Take the collaborator out of the network."""
    Collaborator.update(active=False).where(Collaborator.id == person.id).execute()


def rotate_token(questionnaire, person):
    """Give the collaborator a new link; the old one must stop working."""
    Collaborator.get_by_id(person.id).rotate_token()


@pytest.mark.parametrize("change,status", [
    (close_by_coordinator, 410), (close_behind_the_apps_back, 410), (deactivate, 404),
    (rotate_token, 404)])
def test_a_remembered_form_refuses_once_its_rows_change(client, sample, alice, lookups, change,
                                                        status):
    """A questionnaire closed or a collaborator removed after the form was remembered: the
    insert finds the change, the form is looked up afresh and refused, nothing more is stored."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    assert send(client, alice.token).status_code == 303
    assert len(lookups) == 1  # the answer was taken as remembered
    change(sample, alice)
    assert send(client, alice.token).status_code == status
    assert len(lookups) == 2  # looked up again
    assert counts() == (1, 1, 1)


def test_a_remembered_form_follows_a_move_and_a_new_question(client, sample, alice, network,
                                                           login):
    """A collaborator moved to another ward, a question added: the next answer follows both."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    p2 = network["wards"][1]
    Collaborator.update(ward=p2).where(Collaborator.id == alice.id).execute()
    assert send(client, alice.token).status_code == 303
    assert Response.get().ward_id == p2.id  # the new ward, not the remembered one
    coordinator = login("coordinator")
    added = coordinator.post("/questionnaires/sample/questions",
                             data={"key": "extra", "kind": "number", "prompt": "Thêm?"})
    assert added.status_code == 302
    assert send(client, alice.token, extra="7").status_code == 303
    assert Answer.select().where(Answer.number == 7).count() == 1


def test_a_second_answer_to_a_one_response_form_is_still_409(client, sample, alice):
    """The receipt's key, not the memory, refuses a collaborator's second answer."""
    assert client.get(f"/c/{alice.token}/sample").status_code == 200
    assert send(client, alice.token).status_code == 303
    assert send(client, alice.token).status_code == 409
    assert counts() == (1, 1, 1)


@pytest.fixture
def open_lookups(monkeypatch):
    """Count the open and poster links' lookups of their questionnaire."""
    calls = []

    def counted(slug):
        """Look the questionnaire up as the views do, noting the call."""
        calls.append(slug)
        return questionnaire_or_404(slug)
    monkeypatch.setattr(respond, "questionnaire_or_404", counted)
    return calls


def test_the_open_link_is_remembered_until_a_ward_closes(client, sample, network, open_lookups):
    """Answers through the open link need no lookup once it was opened; a ward made inactive
    since is refused as a fresh lookup refuses it, with nothing stored."""
    assert client.get("/s/sample").status_code == 200
    for ward in ("P1", "P2"):
        sent = client.post("/s/sample", data={"client_uuid": str(uuid.uuid4()), "agree": "yes",
                                              "ward": ward, "organisation": "DOAN"})
        assert sent.status_code == 303
    assert len(open_lookups) == 1
    Ward.update(active=False).where(Ward.code == "P2").execute()
    refused = client.post("/s/sample", data={"client_uuid": str(uuid.uuid4()), "agree": "yes",
                                             "ward": "P2", "organisation": "DOAN"})
    assert refused.status_code == 400 and len(open_lookups) == 2
    assert counts() == (2, 2, 0)


def test_a_poster_is_remembered_until_its_organisation_closes(client, sample, network, app,
                                                                open_lookups):
    """A poster's answers need no lookup once it was opened; its organisation made inactive
    since, the poster is a 404 again, with nothing stored."""
    with app.test_request_context():
        group = sign_group(network["wards"][1], network["organisations"][0])
    assert client.get(f"/s/sample/{group}").status_code == 200
    sent = client.post(f"/s/sample/{group}", data={"client_uuid": str(uuid.uuid4()),
                                                    "agree": "yes"})
    assert sent.status_code == 303 and len(open_lookups) == 1
    assert (Response.get().ward.code, Response.get().organisation.code) == ("P2", "MTTQ")
    Organisation.update(active=False).where(Organisation.code == "MTTQ").execute()
    gone = client.post(f"/s/sample/{group}", data={"client_uuid": str(uuid.uuid4()),
                                                    "agree": "yes"})
    assert gone.status_code == 404 and len(open_lookups) == 2
    assert counts() == (1, 1, 0)


def test_the_open_link_turned_off_is_404_even_when_remembered(client, sample, network):
    """The open link switched off in the database (its stamp unchanged): the insert still sees it."""
    assert client.get("/s/sample").status_code == 200
    Questionnaire.update(open_link=False).where(Questionnaire.id == sample.id).execute()
    sent = client.post("/s/sample", data={"client_uuid": str(uuid.uuid4()), "agree": "yes",
                                          "ward": "P1", "organisation": "MTTQ"})
    assert sent.status_code == 404
    assert counts() == (0, 0, 0)


def test_store_if_unchanged_inserts_nothing_for_rows_read_before_a_change(sample, alice):
    """Response.store(if_unchanged=True): stored while the rows are as read; once either has
    changed, nothing is written (no response, answer or receipt) and it says changed."""
    Questionnaire.update(per_collaborator="many").where(Questionnaire.id == sample.id).execute()
    values = check_answers(schema_of(sample), MultiDict({"agree": "yes"})).values

    def store(questionnaire, person):
        """Store one answer against the rows as given."""
        return Response.store(questionnaire, person.ward_id, person.organisation_id, person,
                              str(uuid.uuid4()), values, if_unchanged=True)
    read, person = Questionnaire.get_by_id(sample.id), Collaborator.get_by_id(alice.id)
    assert store(read, person) == Response.STORED
    Questionnaire.update(updated_at=utcnow()).where(Questionnaire.id == sample.id).execute()
    assert store(read, person) == Response.CHANGED
    fresh = Questionnaire.get_by_id(sample.id)
    Collaborator.update(active=False).where(Collaborator.id == alice.id).execute()
    assert store(fresh, person) == Response.CHANGED
    assert counts() == (1, 1, 1)
