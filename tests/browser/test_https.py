"""survey under gunicorn over HTTPS, directly and behind a TLS-terminating proxy, in Chromium.

Login, an admin form, a phone answer and the phone's offline outbox replay must all succeed
over TLS (each post passes Flask-WTF's HTTPS check of the Referer), with HSTS and Secure cookies.
"""

import secrets

import pytest

from tests import served

pytestmark = pytest.mark.browser


@pytest.fixture
def token(database_url):
    """Seed the test's database; return the collaborator's personal token."""
    return served.seed(database_url)


@pytest.fixture
def tls(tmp_path):
    """Return a throwaway CA, and a certificate with its key for 127.0.0.1."""
    return served.certificates(tmp_path)


def environment(database_url, **extra):
    """Return production settings for gunicorn: the test's database, a random key, CSRF on."""
    return {
        "SURVEY_DATABASE_URL": database_url,
        "SURVEY_SECRET_KEY": secrets.token_hex(32),
        "SURVEY_BASE_URL": "https://127.0.0.1",
        **extra,
    }


def drive(browser, base, token):
    """Log in, create an account, answer on the phone and replay an offline answer at base."""
    context = browser.new_context(ignore_https_errors=True, locale="vi-VN")
    try:
        page = context.new_page()
        first = page.goto(f"{base}/login")
        assert first.headers["strict-transport-security"].startswith("max-age=")
        assert first.headers["referrer-policy"] == "same-origin"
        page.fill("#username", "boss")
        page.fill("#password", "secret-pass")
        with page.expect_response(lambda r: r.request.method == "POST") as login:
            page.click("button[type=submit]")
        assert login.value.status == 302, login.value.text()
        page.wait_for_url(f"{base}/")
        assert context.cookies() and all(c["secure"] for c in context.cookies())

        page.goto(f"{base}/admin/users/new")
        page.fill("#username", "nhanvien")
        page.select_option("#role", "viewer")
        page.fill("#password", "giấy-bút-xanh-7")
        with page.expect_response(lambda r: r.request.method == "POST") as created:
            page.click("form:has(#username) button[type=submit]")
        assert created.value.status == 302, created.value.text()
        page.wait_for_url(f"{base}/admin/users")
        assert "nhanvien" in page.content()

        phone = context.new_page()
        form = f"{base}/c/{token}/{served.SLUG}"
        phone.goto(form)
        phone.get_by_text("Đồng ý", exact=True).click()
        with phone.expect_response(lambda r: r.request.method == "POST") as answered:
            phone.click("button.send")
        assert answered.value.status == 303
        phone.wait_for_url(f"{form}/thanks")

        phone.goto(form)
        phone.get_by_text("Không", exact=True).click()
        context.set_offline(True)
        phone.click("button.send")
        phone.locator("#outbox [data-state=queued]").wait_for()
        with phone.expect_response(lambda r: r.request.method == "POST") as replayed:
            context.set_offline(False)  # the `online` event sends what the phone kept
        assert replayed.value.status == 303
        phone.locator("#outbox [data-state=sent]").wait_for()
    finally:
        context.close()


def assert_stored(database_url):
    """Assert the two answers and the new account reached the database."""
    answers = served.query(database_url, "SELECT COUNT(*) FROM response")
    users = served.query(database_url, "SELECT role FROM \"user\" WHERE username = 'nhanvien'")
    assert answers == [(2,)] and users == [("viewer",)]


def test_gunicorn_over_tls(browser, database_url, token, tls, tmp_path):
    """gunicorn serving TLS itself: every post succeeds in Chromium, cookies Secure, HSTS sent."""
    ca, cert, key = tls
    port = served.free_port()
    server = served.start(
        environment(database_url), tmp_path / "gunicorn.log", port, (cert, key), ca
    )
    try:
        drive(browser, f"https://127.0.0.1:{port}", token)
    finally:
        served.stop(server)
    assert_stored(database_url)


def test_gunicorn_behind_tls_proxy(browser, database_url, token, tls, tmp_path):
    """Behind a TLS proxy (X-Forwarded-Proto read by ProxyFix) every post succeeds too."""
    ca, cert, key = tls
    port = served.free_port()
    env = environment(
        database_url,
        SURVEY_PROXY_FIX_X_FOR="1",
        SURVEY_PROXY_FIX_X_PROTO="1",
        # gunicorn itself trusts no forwarded header here: the app's ProxyFix does the work.
        SURVEY_FORWARDED_ALLOW_IPS="192.0.2.1",
    )
    server = served.start(env, tmp_path / "gunicorn.log", port)
    try:
        with served.tls_proxy(port, cert, key) as proxy:
            drive(browser, f"https://127.0.0.1:{proxy}", token)
        direct = served.connection(port)  # plain http straight to gunicorn: no HSTS, no Secure
        direct.request("GET", "/login")
        answer = direct.getresponse()
        answer.read()
        direct.close()
        assert answer.status == 200
        assert answer.getheader("Strict-Transport-Security") is None
        assert "Secure" not in (answer.getheader("Set-Cookie") or "")
    finally:
        served.stop(server)
    assert_stored(database_url)


@pytest.mark.parametrize("key", ["dev-only-change-me"])
def test_gunicorn_refuses_the_development_key(database_url, tmp_path, key):
    """gunicorn with the published development key does not start, and says why."""
    log = tmp_path / "gunicorn.log"
    with pytest.raises(RuntimeError, match="gunicorn exited"):
        served.start(
            {"SURVEY_DATABASE_URL": database_url, "SURVEY_SECRET_KEY": key},
            log,
            served.free_port(),
        )
    assert "development key" in log.read_text()
