"""Usernames unique whatever their case (migration 0013), and the audit log in words."""

import datetime
import json
import re

import pytest
from peewee import IntegrityError
from playhouse.migrations import Runner

from survey import create_app
from survey.auth import audit
from survey.db import MIGRATIONS_DIR, database, migrate
from survey.models import AUDIT_ACTIONS, AuditEvent, Choice, Question, Questionnaire, User
from survey.questionnaires import authoring
from tests.helpers import make_user

BEFORE = "0012_response_state"


def sentences(app, event, lang):
    """Return an event's sentence and details in a language, as the page writes them."""
    with app.test_request_context(f"/?lang={lang}"):
        entry = audit.entries([event])[0]
        return entry.sentence, entry.details


def test_every_action_has_its_wording_in_both_languages(app, db):
    """No action of AUDIT_ACTIONS is shown raw, in Vietnamese or English."""
    user = make_user("Doan_Q10", "coordinator")
    assert set(AUDIT_ACTIONS) <= set(audit.WORDS), set(AUDIT_ACTIONS) - set(audit.WORDS)
    for action in sorted(AUDIT_ACTIONS):
        event = AuditEvent.record(user, action, "sample/agree/no")
        vi, _details = sentences(app, event, "vi")
        en, _details = sentences(app, event, "en")
        for sentence in (vi, en):
            assert action not in sentence and "%(" not in sentence, (action, sentence)
        assert vi != en, (action, vi)  # translated
        assert vi.startswith("Doan_Q10 ") or "Doan_Q10" not in en, vi


def test_a_deleted_question_reads_as_a_sentence_with_its_wording(app, sample, login, client):
    """“root đã xoá câu hỏi “Vì sao không?” của phiếu “…””, details in words, local time."""
    admin = login("admin", username="root")
    user = User.get(User.username == "root")
    question = Question.get(Question.key == "why")
    authoring.delete_question(user, question)
    event = AuditEvent.get(AuditEvent.action == "question.delete")
    AuditEvent.update(at=datetime.datetime(2026, 7, 1, 23, 30)).where(
        AuditEvent.id == event.id
    ).execute()
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "root đã xoá câu hỏi “Vì sao không?” của phiếu “Ý kiến về chỉnh trang đô thị”." in page
    assert "02/07/2026 06:30" in page  # 23:30 UTC is 06:30 the next day in Ho Chi Minh City
    table = re.search(r"<table>.*</table>", page, flags=re.DOTALL).group(0)
    assert "{" not in table and "question.delete" not in table  # no JSON, no code
    english = admin.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "root deleted the question “Vì sao không?” of the questionnaire" in english


def test_changes_read_old_to_new(app, sample, db):
    """A questionnaire's change lists each field by name: “Trạng thái: Bản nháp → Đang mở”."""
    user = make_user("root", "admin")
    event = AuditEvent.record(
        user, "questionnaire.status", "sample", json.dumps({"status": ["draft", "open"]})
    )
    sentence, details = sentences(app, event, "vi")
    assert sentence == "root đã đổi trạng thái phiếu “Ý kiến về chỉnh trang đô thị”."
    assert details == [("Trạng thái", "Bản nháp → Đang mở")]
    event = AuditEvent.record(user, "user.update", "binh", "role=viewer active=True")
    assert sentences(app, event, "vi")[1] == [("Vai trò", "Người xem"), ("Đang hoạt động", "có")]


def test_an_action_without_a_wording_still_reads(app, db):
    """Another feature's new action (not worded yet) gives a generic sentence, never a 500."""
    user = make_user("root", "admin")
    event = AuditEvent.create(user=user, action="export_job.start", target="#4 sample", detail="x")
    sentence, details = sentences(app, event, "vi")
    assert sentence == "root: thao tác “export_job.start” (sample)." and details == [("", "x")]


def test_usernames_are_unique_whatever_their_case(login, client):
    """DOAN_Q10 and doan_q10 cannot coexist; login takes any case; the database refuses too."""
    login("admin", username="root")
    data = {"username": "DOAN_Q10", "role": "viewer", "organisation": "", "active": "y"}
    data["password"] = "Ba-con-meo-2026"
    assert client.post("/admin/users/new", data=data).status_code == 302
    twin = dict(data, username="doan_q10")
    response = client.post("/admin/users/new", data=twin)
    assert response.status_code == 422 and "đã có người dùng" in response.get_data(as_text=True)
    root = User.get(User.username == "root")
    response = client.post(
        f"/admin/users/{root.id}",
        data={"username": "Doan_q10", "role": "admin", "organisation": "", "active": "y"},
    )
    assert response.status_code == 422 and User.get_by_id(root.id).username == "root"
    with pytest.raises(IntegrityError), database.atomic():
        User.create(username="doan_Q10", password_hash="x", role="viewer")
    client.post("/logout")
    response = client.post("/login", data={"username": "doan_q10", "password": "Ba-con-meo-2026"})
    assert response.status_code == 302
    assert AuditEvent.select().where(AuditEvent.action == "user.login").count() == 2


@pytest.fixture
def before_0013(database_url, tmp_path):
    """A database migrated up to 0012 only."""
    create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x"})
    with database.connection_context():
        Runner(database.obj, str(MIGRATIONS_DIR)).up(target=BEFORE)
    yield database.obj
    database.obj.close_all()


def test_upgrade_with_case_twins_renames_the_younger(before_0013):
    """Existing twins do not stop 0013: the oldest keeps its name, the others get "-id", audited."""
    db = before_0013
    with database.connection_context():
        for name in ("DOAN_Q10", "doan_q10", "Doan_Q10", "binh"):
            db.execute_sql(
                'INSERT INTO "user" ("username", "password_hash", "role", "active", '
                '"created_at", "session_version") VALUES (%s, %s, %s, %s, %s, %s)'.replace(
                    "%s", db.param
                ),
                [name, "x", "viewer", True, datetime.datetime(2026, 1, 1), 0],
            )
    migrate()
    with database.connection_context():
        names = [u.username for u in User.select().order_by(User.id)]
        assert names == ["DOAN_Q10", "doan_q10-2", "Doan_Q10-3", "binh"]
        renamed = AuditEvent.select().where(AuditEvent.action == "user.rename")
        assert sorted(e.target for e in renamed) == ["Doan_Q10-3", "doan_q10-2"]
        assert json.loads(renamed[0].detail)["from"] in ("doan_q10", "Doan_Q10")
        # The choice table kept 0010's triggers (no table rebuild): a change moves the version.
        q = Questionnaire.create(slug="t", title="t")
        question = Question.create(questionnaire=q, key="a", kind="single", prompt="?")
        version = Questionnaire.get_by_id(q.id).schema_version
        Choice.create(question=question, key="x", label="X", other=True)
        assert Questionnaire.get_by_id(q.id).schema_version > version
        assert Choice.get(Choice.key == "x").other is True
