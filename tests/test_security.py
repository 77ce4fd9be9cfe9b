"""Security defaults: headers, cookie flags, CSRF, login rate limit, tokens."""

import pytest

from survey import create_app
from survey.db import database, migrate
from survey.models import Collaborator, new_token
from survey.security import hash_password
from tests.helpers import csrf_token_of, make_user


def test_security_headers(client):
    """Every page carries a strict CSP (no inline script), nosniff, no framing, no Referer out."""
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"  # never to another site


def test_pages_have_no_inline_script_or_style(client, login):
    """The rendered pages hold no inline script or style attribute the CSP would block."""
    login("admin")
    for path in ("/", "/admin/users", "/admin/audit", "/account/password"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "onclick" not in html, path


def test_session_cookie_flags(client, db):
    """The session cookie is HttpOnly and SameSite=Lax."""
    make_user("an", "viewer")
    response = client.post("/login", data={"username": "an", "password": "secret-pass"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.fixture
def strict_app(database_url, tmp_path):
    """An app with CSRF and rate limits switched on, as in production."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "strict",
            "RATELIMIT_ENABLED": True,
            "LOGIN_RATE_LIMIT": "3 per minute",
            "SESSION_COOKIE_SECURE": True,
        }
    )
    migrate()
    return app


def test_post_without_csrf_token_is_refused(strict_app):
    """A login post without its CSRF token is refused with 400 and a message in Vietnamese."""
    client = strict_app.test_client()
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)


def test_login_with_csrf_token_works(strict_app):
    """With its token the same form logs in."""
    with database.connection_context():
        make_user("an", "viewer")
    client = strict_app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "an", "password": "secret-pass", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_attempts_are_limited(strict_app):
    """After the limit a login post gets 429 with a clear page."""
    client = strict_app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    codes = [
        client.post(
            "/login", data={"username": "x", "password": "wrong-one", "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    page = client.post("/login", data={"username": "x", "password": "y", "csrf_token": token})
    assert "Quá nhiều lần thử" in page.get_data(as_text=True)


def test_personal_tokens_carry_enough_entropy(network):
    """Personal tokens are unique and carry at least 128 bits (URL-safe base64: 6 bits a char)."""
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) * 6 >= 128 for t in tokens)
    assert all(len(c.token) * 6 >= 128 for c in Collaborator.select())


def test_passwords_are_hashed_with_scrypt_by_default(strict_app):
    """By default passwords are stored as Werkzeug scrypt hashes, never in clear."""
    with strict_app.app_context():
        stored = hash_password("a-clear-password")
    assert stored.startswith("scrypt:") and "a-clear-password" not in stored


def test_request_too_large_is_refused(app, client):
    """A body over MAX_CONTENT_LENGTH gets 413, not a crash."""
    response = client.post(
        "/login", data={"username": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10), "password": "y"}
    )
    assert response.status_code == 413


def test_rate_limit_is_shared_through_redis(database_url, tmp_path):
    """With Redis storage, two app processes (here two app objects) share one login budget."""
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as error:
        import os

        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unreachable under CI: {error}")
        pytest.skip(f"Redis unreachable: {error}")
    prefix = f"survey-test-{tmp_path.name}"
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT": "2 per minute",
    }
    first = create_app(config)
    migrate()
    codes = [
        first.test_client().post("/login", data={"username": "x", "password": "y"}).status_code
        for _ in range(2)
    ]
    second = create_app(config)
    third = second.test_client().post("/login", data={"username": "x", "password": "y"})
    assert codes == [401, 401] and third.status_code == 429
    keys = redis.Redis(host="127.0.0.1", port=6379).keys(f"*{prefix}*")
    assert keys, "the counts live in Redis"
    redis.Redis(host="127.0.0.1", port=6379).delete(*keys)
