"""The lean submit path: the cached schema follows every change, and the public limit holds."""
import uuid

from survey import create_app
from survey.db import database, migrate
from survey.models import Answer
from survey.questionnaire_json import import_questionnaire
from tests.conftest import SAMPLE


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
    added = coordinator.post("/questionnaires/sample/questions",
                             data={"key": "extra", "kind": "number", "prompt": "Thêm?"})
    assert added.status_code == 302
    sample_2 = network["collaborators"][("P1", "DOAN")].token
    assert _send(client, sample_2, agree="yes", extra="5").status_code == 303
    assert Answer.select().count() == 3  # agree + extra
    hidden = coordinator.post("/questionnaires/sample/questions/topics/hide",
                              data={"hidden": "1"})
    assert hidden.status_code in (302, 303)
    sample_3 = network["collaborators"][("P2", "MTTQ")].token
    # A hidden question's answer is no longer taken.
    assert _send(client, sample_3, agree="yes", topics="roads").status_code == 303
    assert Answer.select().count() == 4


def test_public_pages_are_rate_limited(database_url):
    """Past the public limit a phone page answers 429 with a clear page."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "s",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "PUBLIC_RATE_LIMIT": "3 per minute"})
    migrate()
    with database.connection_context():
        import_questionnaire({**SAMPLE, "targets": {}})
    client = app.test_client()
    codes = [client.get("/s/sample").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "Quá nhiều lần thử" in client.get("/s/sample").get_data(as_text=True)
