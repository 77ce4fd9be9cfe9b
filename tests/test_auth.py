"""Login, logout, accounts and the audit log."""

from werkzeug.security import check_password_hash

from survey.models import AuditEvent, User
from tests.helpers import make_user


def test_login_page_is_vietnamese_by_default(client):
    """The login form is shown in Vietnamese unless English is asked for."""
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert "Đăng nhập" in page
    assert "Log in" in client.get("/login?lang=en").get_data(as_text=True)


def test_login_success_and_logout(client, db):
    """Right credentials open the dashboard; logout closes it again."""
    make_user("an", "coordinator")
    response = client.post("/login", data={"username": "an", "password": "secret-pass"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions == ["user.login", "user.logout"]


def test_wrong_password_is_refused_and_audited(client, db):
    """A wrong password gets 401 with a message and a failed-login audit entry."""
    make_user("an", "coordinator")
    response = client.post("/login", data={"username": "an", "password": "wrong-pass"})
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)
    assert AuditEvent.get().action == "user.login_failed"


def test_empty_form_is_refused(client, db):
    """An empty login form is answered 422 with field messages."""
    response = client.post("/login", data={})
    assert response.status_code == 422
    assert "Trường này là bắt buộc" in response.get_data(as_text=True)


def test_inactive_user_cannot_log_in(client, db):
    """A deactivated account is refused like a wrong password."""
    user = make_user("old", "coordinator")
    user.active = False
    user.save()
    assert (
        client.post("/login", data={"username": "old", "password": "secret-pass"}).status_code
        == 401
    )


def test_next_parameter_is_followed_only_when_local(client, db):
    """`next` may send the user to a page of this site, never to another host."""
    make_user("an", "admin")
    ok = client.post("/login?next=/admin/users", data={"username": "an", "password": "secret-pass"})
    assert ok.headers["Location"] == "/admin/users"
    client.post("/logout")
    for evil in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        response = client.post(
            "/login",
            query_string={"next": evil},
            data={"username": "an", "password": "secret-pass"},
        )
        assert response.headers["Location"] == "/", evil
        client.post("/logout")


def test_anonymous_is_sent_to_login(client):
    """A coordinator page answers an anonymous visitor with a redirect to /login."""
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/users")


def test_admin_creates_edits_and_resets_accounts(login, client):
    """An admin creates an account, changes its role and resets its password."""
    login("admin")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "binh",
            "role": "coordinator",
            "organisation": "",
            "active": "y",
            "password": "first-password",
        },
    )
    assert response.status_code == 302
    binh = User.get(User.username == "binh")
    assert binh.role == "coordinator" and check_password_hash(binh.password_hash, "first-password")
    response = client.post(
        f"/admin/users/{binh.id}",
        data={"username": "binh", "role": "viewer", "organisation": "", "active": "y"},
    )
    assert response.status_code == 302 and User.get_by_id(binh.id).role == "viewer"
    client.post(f"/admin/users/{binh.id}/password", data={"password": "second-password"})
    assert check_password_hash(User.get_by_id(binh.id).password_hash, "second-password")
    actions = {e.action for e in AuditEvent.select()}
    assert {"user.create", "user.update", "user.password_reset"} <= actions


def test_account_form_refuses_bad_input(login, client):
    """Duplicate names, unknown roles and short passwords are refused with 422, nothing stored."""
    login("admin", username="root")
    before = User.select().count()
    for data in (
        {"username": "root", "role": "viewer", "password": "long-enough"},
        {"username": "x", "role": "emperor", "password": "long-enough"},
        {"username": "y", "role": "viewer", "password": "short"},
        {"username": "bad name!", "role": "viewer", "password": "long-enough"},
        {"username": "z", "role": "viewer", "organisation": "NOPE", "password": "long-enough"},
    ):
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 422, data
    assert User.select().count() == before


def test_admin_cannot_demote_themselves(login, client):
    """An admin cannot take away their own admin rights (the last door would close)."""
    login("admin", username="root")
    me = User.get(User.username == "root")
    response = client.post(
        f"/admin/users/{me.id}",
        data={"username": "root", "role": "viewer", "organisation": "", "active": "y"},
    )
    assert response.status_code == 422
    assert User.get_by_id(me.id).role == "admin"


def test_change_own_password(login, client):
    """A user changes their own password after giving the current one."""
    login("viewer", username="vi")
    bad = client.post(
        "/account/password",
        data={"current": "nope", "password": "new-password-1", "confirm": "new-password-1"},
    )
    assert bad.status_code == 422
    good = client.post(
        "/account/password",
        data={"current": "secret-pass", "password": "new-password-1", "confirm": "new-password-1"},
    )
    assert good.status_code == 302
    assert check_password_hash(User.get(User.username == "vi").password_hash, "new-password-1")


def test_audit_log_page_lists_events(login, client):
    """The audit log shows who did what."""
    login("admin", username="root")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "login" in page and "root" in page
