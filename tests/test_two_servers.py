"""Two app servers, one PostgreSQL and one Redis: a phone's and a coordinator's requests alternate
between them; sessions, login limits and a questionnaire's closing hold on both at once."""

import os
import re
import secrets
import uuid
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from tests import served

REDIS = "redis://127.0.0.1:6379"


class Client:
    """A browser's cookie jar speaking plain HTTP to whichever server it is told."""

    def __init__(self):
        """Start with no cookies."""
        self.cookies = {}

    def send(self, port, method, path, fields=None):
        """Send one request to the server on port; return (status, Location, body text)."""
        conn = served.connection(port)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            text = answer.read().decode("utf-8", "replace")
            for header in answer.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return answer.status, answer.getheader("Location") or "", text
        finally:
            conn.close()

    def token(self, port, path):
        """Open a page on port and return its form token."""
        status, _, text = self.send(port, "GET", path)
        assert status == 200, (path, status)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text).group(1)

    def log_in(self, port_page, port_post, username, password):
        """Open the login form on one server and post it to another; return the status."""
        token = self.token(port_page, "/login")
        fields = {"username": username, "password": password, "csrf_token": token}
        return self.send(port_post, "POST", "/login", fields)[0]

    def answer(self, port_page, port_post, path, choice):
        """Open the phone form on one server and send an answer to another; return the status."""
        token = self.token(port_page, path)
        fields = {"agree": choice, "client_uuid": str(uuid.uuid4()), "csrf_token": token}
        return self.send(port_post, "POST", path, fields)[0]


@pytest.fixture
def redis_prefix(tmp_path):
    """Return a Redis key prefix of this test's own; skip (fail under CI) without Redis."""
    import redis

    connection = redis.Redis.from_url(REDIS)
    try:
        connection.ping()
    except redis.ConnectionError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unreachable under CI: {error}")
        pytest.skip(f"Redis unreachable: {error}")
    prefix = f"survey-two-{secrets.token_hex(4)}"
    yield prefix
    keys = connection.keys(f"*{prefix}*")
    if keys:
        connection.delete(*keys)


def test_two_servers_share_sessions_limits_and_closing(database_url, redis_prefix, tmp_path):
    """A session made on one server works on the other; a login limit reached on one holds on
    the other; a questionnaire closed on one refuses answers on the other at once."""
    if not database_url.startswith("postgres"):
        pytest.skip(
            "two app servers share one database only on PostgreSQL (SQLite is one machine's "
            "file): set SURVEY_TEST_DATABASE_URL to run this test"
        )
    token = served.seed(database_url)
    env = {
        "SURVEY_DATABASE_URL": database_url,
        "SURVEY_SECRET_KEY": secrets.token_hex(32),  # one key for both, as the README says
        "SURVEY_RATELIMIT_STORAGE_URI": REDIS,
        "SURVEY_RATELIMIT_KEY_PREFIX": redis_prefix,
        "SURVEY_LOGIN_RATE_LIMIT": "100 per minute",
        "SURVEY_LOGIN_ACCOUNT_RATE_LIMIT": "3 per minute",
    }
    a_port, b_port = served.free_port(), served.free_port()
    # One worker each: a worker that remembers the open form is sure to get the late answer.
    a = served.start(env, tmp_path / "a.log", a_port, workers=1)
    try:
        b = served.start(env, tmp_path / "b.log", b_port, workers=1)
        try:
            run_both(a_port, b_port, f"/c/{token}/{served.SLUG}")
        finally:
            served.stop(b)
    finally:
        served.stop(a)
    assert served.query(database_url, "SELECT COUNT(*) FROM response") == [(2,)]


def run_both(a, b, form):
    """Alternate a coordinator's and a phone's requests between servers a and b."""
    coordinator, phone = Client(), Client()
    assert coordinator.log_in(a, b, "boss", "secret-pass") == 302
    assert coordinator.send(a, "GET", "/admin/users")[0] == 200
    assert coordinator.send(b, "GET", "/admin/users")[0] == 200

    assert phone.answer(a, b, form, "yes") == 303
    assert phone.answer(b, a, form, "no") == 303  # both servers now remember the open form

    guesser = Client()
    guesses = [guesser.log_in(a, port, "victim", "wrong") for port in (a, b, a)]
    assert guesses == [401, 401, 401]
    assert Client().log_in(b, b, "victim", "secret-pass") == 429
    assert Client().log_in(a, a, "victim", "secret-pass") == 429

    late = phone.token(b, form)  # opened on b before the questionnaire closes
    closing = {"status": "closed", "csrf_token": coordinator.token(a, "/admin/users")}
    assert coordinator.send(a, "POST", f"/questionnaires/{served.SLUG}/status", closing)[0] == 302
    fields = {"agree": "yes", "client_uuid": str(uuid.uuid4()), "csrf_token": late}
    assert phone.send(b, "POST", form, fields)[0] == 410

    session = dict(coordinator.cookies)
    assert coordinator.send(b, "POST", "/logout", {"csrf_token": closing["csrf_token"]})[0] == 302
    copy = Client()
    copy.cookies = session
    assert copy.send(a, "GET", "/admin/users")[0] == 302  # logged out on b, ended on a too
