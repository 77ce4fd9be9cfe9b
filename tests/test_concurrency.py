"""Races on the submit path, through a real threaded HTTP server: a re-sent form counts once,
a one-response questionnaire keeps one response, whatever the timing."""

import http.client
import threading
import uuid
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from survey.models import Answer, Receipt, Response
from survey.questionnaires.file_format import import_questionnaire

THREADS = 16
FORM = [("agree", "yes"), ("topics", "roads"), ("topics", "parks"), ("score", "4")]
ANSWERS = len(FORM)  # one Answer row per field above (a multi choice is a row each)
MANY = {
    "slug": "many",
    "title": "Phỏng vấn người dân",
    "status": "open",
    "per_collaborator": "many",
    "questions": [
        {
            "key": "agree",
            "kind": "single",
            "prompt": "Đồng ý?",
            "required": True,
            "choices": [{"key": "yes", "label": "Có"}, {"key": "no", "label": "Không"}],
        },
        {
            "key": "topics",
            "kind": "multi",
            "prompt": "Chủ đề",
            "choices": [{"key": "roads", "label": "Đường"}, {"key": "parks", "label": "Công viên"}],
        },
        {"key": "score", "kind": "scale", "prompt": "Hài lòng", "min": 1, "max": 5},
    ],
}


@pytest.fixture
def server(app):
    """Serve the app from a real threaded HTTP server on a free loopback port; yield the port."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def post_all_at_once(port, path, uuids):
    """POST the form once per client_uuid, each from its own thread and connection, all at once."""
    gate = threading.Barrier(len(uuids))
    statuses = [None] * len(uuids)

    def send(i):
        """Send one submission when every thread is ready; note its status."""
        body = urlencode(FORM + [("client_uuid", uuids[i])]).encode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.connect()
            gate.wait()
            conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            statuses[i] = response.status
        finally:
            conn.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(uuids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def stored(questionnaire):
    """Return (responses, answer rows, receipt count sum) stored for a questionnaire."""
    responses = Response.select().where(Response.questionnaire == questionnaire).count()
    answers = Answer.select().where(Answer.questionnaire == questionnaire).count()
    receipts = sum(r.count for r in Receipt.select().where(Receipt.questionnaire == questionnaire))
    return responses, answers, receipts


@pytest.mark.parametrize("per_collaborator", ["many", "one"])
def test_same_client_uuid_from_many_threads_is_stored_once(server, network, per_collaborator):
    """The same form sent 16 times at once is stored once, and every sender gets the 303."""
    questionnaire = import_questionnaire({**MANY, "per_collaborator": per_collaborator})
    collaborator = network["collaborators"][("P1", "MTTQ")]
    path = f"/c/{collaborator.token}/{questionnaire.slug}"
    for round_ in range(3):
        statuses = post_all_at_once(server, path, [str(uuid.uuid4())] * THREADS)
        assert statuses == [303] * THREADS, statuses
        if per_collaborator == "one":
            break  # a second round would be a new response: refused, tested below
    rounds = round_ + 1
    assert stored(questionnaire) == (rounds, rounds * ANSWERS, rounds)


def test_one_response_questionnaire_from_many_threads_keeps_one(server, network):
    """16 different forms from one collaborator at once: one stored, the other 15 told 409."""
    questionnaire = import_questionnaire({**MANY, "slug": "once", "per_collaborator": "one"})
    collaborator = network["collaborators"][("P2", "DOAN")]
    path = f"/c/{collaborator.token}/once"
    statuses = post_all_at_once(server, path, [str(uuid.uuid4()) for _ in range(THREADS)])
    assert sorted(statuses) == [303] + [409] * (THREADS - 1), statuses
    assert stored(questionnaire) == (1, ANSWERS, 1)


def test_many_forms_from_many_threads_are_all_stored(server, network):
    """16 different forms at once to a many-response questionnaire: all 16 stored, each once."""
    questionnaire = import_questionnaire(MANY)
    collaborator = network["collaborators"][("P2", "MTTQ")]
    uuids = [str(uuid.uuid4()) for _ in range(THREADS)]
    statuses = post_all_at_once(server, f"/c/{collaborator.token}/many", uuids)
    assert statuses == [303] * THREADS, statuses
    assert stored(questionnaire) == (THREADS, THREADS * ANSWERS, THREADS)
    assert {r.client_uuid for r in Response.select()} == set(uuids)
