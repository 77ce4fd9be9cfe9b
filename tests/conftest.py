"""Shared fixtures: an app on a fresh real database (SQLite file or PostgreSQL), clients, data.

Set SURVEY_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test to run the suite on
PostgreSQL; under CI=true an unreachable PostgreSQL fails the run instead of skipping it.
"""

import os

import pytest

from survey import create_app
from survey.db import database, migrate
from survey.models import Collaborator, Organisation, Ward
from survey.questionnaires.file_format import import_questionnaire
from tests.helpers import FAST_HASH, SAMPLE, TALLY_ROWS, make_user, store_answers

PG_URL = os.environ.get("SURVEY_TEST_DATABASE_URL", "")


def _pg_connect(url):
    """Connect to PostgreSQL, failing under CI and skipping elsewhere when it is unreachable."""
    import psycopg2

    try:
        conn = psycopg2.connect(url.replace("+pool", ""), connect_timeout=5)
    except psycopg2.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable under CI: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def postgres_url():
    """Create a database of this test session's own beside PG_URL's, and drop it at the end."""
    if not PG_URL:
        yield None
        return
    name = f"survey_test_{os.getpid()}"
    admin = _pg_connect(PG_URL)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    if database.obj is not None:
        database.obj.close_all()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


@pytest.fixture
def database_url(tmp_path, postgres_url):
    """Return the URL of an empty database: a SQLite file under tmp_path, or the test PostgreSQL."""
    if postgres_url:
        if database.obj is not None:
            database.obj.close_all()
        conn = _pg_connect(postgres_url)
        with conn.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        conn.close()
        return postgres_url
    return "sqlite:///" + str(tmp_path / "test.sqlite3")


@pytest.fixture
def app(database_url, tmp_path):
    """Create an app on a fresh, migrated database."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "http://survey.test",
            "PASSWORD_HASH_METHOD": FAST_HASH,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    migrate()
    yield app
    database.obj.close_all()


@pytest.fixture
def client(app):
    """Return a test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """Hold a database connection open for code run outside a request."""
    with database.connection_context():
        yield database


@pytest.fixture
def network(db):
    """Create two wards, two organisations and four collaborators (one per ward × organisation)."""
    wards = [Ward.create(code="P1", name="Phường 1"), Ward.create(code="P2", name="Phường 2")]
    orgs = [
        Organisation.create(code="MTTQ", name="Ủy ban MTTQ"),
        Organisation.create(code="DOAN", name="Đoàn Thanh niên"),
    ]
    people = {}
    for ward in wards:
        for org in orgs:
            people[(ward.code, org.code)] = Collaborator.create(
                name=f"CTV {ward.code} {org.code}",
                phone=f"09{ward.id}{org.id}000000",
                ward=ward,
                organisation=org,
            )
    return {"wards": wards, "organisations": orgs, "collaborators": people}


@pytest.fixture
def sample(network):
    """Import the sample questionnaire (every question kind, one show_if)."""
    return import_questionnaire(SAMPLE)


@pytest.fixture
def login(client, db):
    """Return a function that creates an account and logs the test client in as it."""

    def log_in(role="admin", organisation=None, username=None):
        username = username or f"{role}-{organisation.code if organisation else 'all'}"
        make_user(username, role, organisation)
        response = client.post("/login", data={"username": username, "password": "secret-pass"})
        assert response.status_code == 302, response.data
        return client

    return log_in


@pytest.fixture
def tally_sample(app, sample):
    """Store the six hand-counted responses of TALLY_ROWS in the sample questionnaire."""
    with app.app_context():
        for ward, org, local, answers in TALLY_ROWS:
            store_answers(sample, Ward.get(code=ward), Organisation.get(code=org), answers, local)
    return sample


@pytest.fixture
def csrf_time_limit():
    """Return how long a form token lives (a test of token expiry overrides it)."""
    return 3600


@pytest.fixture
def csrf_app(database_url, tmp_path, csrf_time_limit):
    """Create an app with CSRF on, as in production, on a fresh database."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": True,
            "WTF_CSRF_TIME_LIMIT": csrf_time_limit,
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "http://survey.test",
            "PASSWORD_HASH_METHOD": FAST_HASH,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    migrate()
    yield app
    database.obj.close_all()
