"""The submit path as a phone meets it: authoring changes at once, public limit, the bare 303."""

import uuid

from survey import create_app
from survey.db import database, migrate
from survey.models import Answer
from survey.questionnaires.file_format import import_questionnaire
from tests.helpers import SAMPLE


def _send(client, token, **answers):
    """Post a form to a collaborator's link; return the response."""
    data = {"client_uuid": str(uuid.uuid4()), **answers}
    return client.post(f"/c/{token}/sample", data=data)


def test_form_follows_authoring_changes_at_once(login, client, sample, network):
    """A question added or hidden by a coordinator changes what the next submission accepts."""
    token = network["collaborators"][("P1", "MTTQ")].token
    assert _send(client, token, agree="yes", extra="5").status_code == 303
    assert Answer.select().count() == 1  # "extra" is not a question yet: ignored
    coordinator = login("coordinator")
    added = coordinator.post(
        "/questionnaires/sample/questions",
        data={"key": "extra", "kind": "number", "prompt": "Thêm?"},
    )
    assert added.status_code == 302
    sample_2 = network["collaborators"][("P1", "DOAN")].token
    assert _send(client, sample_2, agree="yes", extra="5").status_code == 303
    assert Answer.select().count() == 3  # agree + extra
    hidden = coordinator.post("/questionnaires/sample/questions/topics/hide", data={"hidden": "1"})
    assert hidden.status_code == 302
    sample_3 = network["collaborators"][("P2", "MTTQ")].token
    # A hidden question's answer is no longer taken.
    assert _send(client, sample_3, agree="yes", topics="roads").status_code == 303
    assert Answer.select().count() == 4


def limited_client(database_url, **limits):
    """Return a test client of an app with rate limits on and these limits, holding the sample."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "s",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            **limits,
        }
    )
    migrate()
    with database.connection_context():
        import_questionnaire({**SAMPLE, "targets": {}})
    return app.test_client()


def test_public_pages_are_rate_limited(database_url):
    """Past the public limit a phone page answers 429 with a clear page."""
    client = limited_client(database_url, PUBLIC_RATE_LIMIT="3 per minute")
    codes = [client.get("/s/sample").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "Quá nhiều lần thử" in client.get("/s/sample").get_data(as_text=True)


def test_a_stored_answer_is_a_bare_303_to_the_thanks_page(client, sample, network):
    """A stored submission answers 303 to its thank-you page with an empty body."""
    token = network["collaborators"][("P1", "MTTQ")].token
    response = _send(client, token, agree="yes")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/c/{token}/sample/thanks")
    assert response.get_data() == b""
    assert "nosniff" in response.headers["X-Content-Type-Options"]
