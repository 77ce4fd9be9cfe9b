"""The lean submit path: cached schema, limits, the bare 303, one lookup query, the pool's ping."""
import uuid

import psycopg2
import pytest

from survey import create_app
from survey.db import database, is_sqlite, migrate
from survey.models import Answer, questionnaire_and_collaborator
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


def limited_client(database_url, **limits):
    """Return a test client of an app with rate limits on and these limits, holding the sample."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "s",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, **limits})
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


def test_an_app_wide_limit_keeps_flask_limiters_own_hook(database_url):
    """Flask-Limiter's per-request hook is left out only while no app-wide limit needs it."""
    from survey.security import limiter
    bare = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "s",
                       "RATELIMIT_ENABLED": True})
    assert limiter._check_request_limit not in bare.before_request_funcs[None]
    try:
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "s",
                          "RATELIMIT_ENABLED": True, "RATELIMIT_DEFAULT": "2 per minute"})
        migrate()
        client = app.test_client()
        assert [client.get("/login").status_code for _ in range(3)] == [200, 200, 429]
    finally:  # the limiter is module-wide: later apps of this test run must not inherit the limit
        limiter.limit_manager.set_default_limits([])


def test_limiter_headers_still_come_where_a_limit_was_checked(database_url):
    """Flask-Limiter's after-request hook still writes its headers on a limited login attempt,
    and leaves a phone page, which checks its limit without Flask-Limiter's context, alone."""
    from survey.security import limiter
    client = limited_client(database_url, LOGIN_RATE_LIMIT="5 per minute")
    # The module-wide limiter read RATELIMIT_HEADERS_ENABLED from the first app of the run.
    headers_enabled, limiter._headers_enabled = limiter._headers_enabled, True
    try:
        login_page = client.post("/login", data={"username": "nobody", "password": "wrong"})
        phone_page = client.get("/s/sample")
    finally:
        limiter._headers_enabled = headers_enabled
    assert login_page.status_code in (200, 401)
    assert login_page.headers["X-RateLimit-Limit"] == "5"
    assert int(login_page.headers["X-RateLimit-Remaining"]) < 5  # this attempt counted
    assert phone_page.status_code == 200
    assert "X-RateLimit-Limit" not in phone_page.headers


def test_a_stored_answer_is_a_bare_303_to_the_thanks_page(client, sample, network):
    """A stored submission answers 303 to its thank-you page with an empty body (nothing to show)."""
    token = network["collaborators"][("P1", "MTTQ")].token
    response = _send(client, token, agree="yes")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/c/{token}/sample/thanks")
    assert response.get_data() == b""
    assert "nosniff" in response.headers["X-Content-Type-Options"]


def test_one_query_finds_the_questionnaire_and_an_active_collaborator(sample, network):
    """questionnaire_and_collaborator: both found, the collaborator missing, or nothing at all."""
    person = network["collaborators"][("P1", "MTTQ")]
    questionnaire, collaborator = questionnaire_and_collaborator("sample", person.token)
    assert (questionnaire.id, collaborator.id) == (sample.id, person.id)
    assert collaborator.ward_id == person.ward_id and questionnaire.updated_at == sample.updated_at
    assert not collaborator.is_dirty()  # as loaded: nothing to save
    assert questionnaire_and_collaborator("sample", "x" * 32)[1] is None
    person.active = False
    person.save()
    assert questionnaire_and_collaborator("sample", person.token) == (
        questionnaire_and_collaborator("sample", "x" * 32)[0], None)
    assert questionnaire_and_collaborator("nothing-here", person.token) == (None, None)


def test_a_pooled_postgres_connection_is_pinged_only_after_a_rest(app, monkeypatch):
    """A connection given back a moment ago is handed out unasked; after a rest it is pinged first."""
    if is_sqlite():
        pytest.skip("the pool's ping is PostgreSQL's")
    pool = database.obj
    with database.connection_context():
        conn = database.connection()
        pid = conn.get_backend_pid()
    killer = psycopg2.connect(app.config["DATABASE_URL"])
    killer.autocommit = True
    with killer.cursor() as cur:  # the server drops it, as on a restart
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    killer.close()
    # Given back just now: trusted without a round trip (a ping would have found it dead).
    assert pool._is_closed(conn) is False
    monkeypatch.setattr(pool, "PING_AFTER_SECONDS", 0.0)  # as if it had rested
    assert pool._is_closed(conn) is True  # pinged, found dead: the pool opens another
    assert pool.conn_key(conn) not in pool._given_back_at  # and forgets the dead one
    with database.connection_context():
        assert database.connection().get_backend_pid() != pid
        assert database.execute_sql("SELECT 1").fetchone() == (1,)


def _prepared_statements():
    """Return the statements this connection has prepared (PostgreSQL's own view of them)."""
    return [row[0] for row in database.execute_sql(
        "SELECT statement FROM pg_prepared_statements ORDER BY name").fetchall()]


def test_postgres_prepares_the_submit_statement_once_per_connection(client, sample, network):
    """The store and lookup statements are prepared on first use and then only executed."""
    if is_sqlite():
        pytest.skip("SQLite's driver caches prepared statements itself")
    for score, place in enumerate((("P1", "MTTQ"), ("P1", "DOAN"), ("P2", "MTTQ")), 1):
        token = network["collaborators"][place].token
        assert _send(client, token, agree="yes", score=str(score)).status_code == 303
    with database.connection_context():
        statements = _prepared_statements()
        stores = [s for s in statements if 'INSERT INTO "response"' in s]
        assert len(stores) == 1 and "$1" in stores[0] and "%s" not in stores[0]
        assert len(statements) == len(set(statements))  # each prepared once
    # The numbered parameters landed in their columns.
    assert sorted(a.number for a in Answer.select() if a.number is not None) == [1, 2, 3]


def test_a_prepared_statement_dropped_behind_the_pool_runs_unprepared(client, sample, network):
    """DEALLOCATE ALL (or a pooler that loses it): the connection runs unprepared from then on."""
    if is_sqlite():
        pytest.skip("PostgreSQL's prepared statements")
    tokens = [network["collaborators"][place].token
              for place in (("P1", "MTTQ"), ("P1", "DOAN"), ("P2", "MTTQ"))]
    assert _send(client, tokens[0], agree="yes", score="1").status_code == 303
    with database.connection_context():
        database.execute_sql("DEALLOCATE ALL")
    assert _send(client, tokens[1], agree="yes", score="2").status_code == 303
    assert _send(client, tokens[2], agree="yes", score="3").status_code == 303
    with database.connection_context():
        assert _prepared_statements() == []  # nothing prepared again on this connection
    assert sorted(a.number for a in Answer.select() if a.number is not None) == [1, 2, 3]


def test_past_its_bound_a_connection_runs_statements_unprepared(client, sample, network,
                                                               monkeypatch):
    """A connection never holds more than MAX_PREPARED statements; the rest still run."""
    if is_sqlite():
        pytest.skip("PostgreSQL's prepared statements")
    monkeypatch.setattr(type(database.obj), "MAX_PREPARED", 0)
    token = network["collaborators"][("P1", "MTTQ")].token
    assert _send(client, token, agree="yes").status_code == 303
    with database.connection_context():
        assert _prepared_statements() == []
    assert Answer.select().count() == 1
