"""Plain helpers and sample data the tests share; pytest fixtures live in the conftest files."""

import datetime
import os
import re
import shutil
import time
import uuid

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.security import generate_password_hash

from survey.i18n import to_utc
from survey.models import Answer, Response, User
from survey.respond import submit
from survey.respond.rules import Schema, check_answers

# scrypt costs ~0.5 s a hash on this machine; tests need no protection against cracking.
FAST_HASH = "pbkdf2:sha256:1000"


SAMPLE = {
    "slug": "sample",
    "title": "Ý kiến về chỉnh trang đô thị",
    "description": "Mẫu thử",
    "status": "open",
    "anonymous": False,
    "per_collaborator": "one",
    "open_link": True,
    "suppress_below": 0,
    "targets": {"organisations": [], "wards": []},
    "questions": [
        {"key": "s1", "kind": "section", "prompt": "Phần 1"},
        {
            "key": "agree",
            "kind": "single",
            "prompt": "Bạn có đồng ý?",
            "required": True,
            "choices": [{"key": "yes", "label": "Đồng ý"}, {"key": "no", "label": "Không đồng ý"}],
        },
        {
            "key": "why",
            "kind": "text",
            "prompt": "Vì sao không?",
            "show_if": {"question": "agree", "choice": "no"},
            "required": True,
        },
        {
            "key": "topics",
            "kind": "multi",
            "prompt": "Chủ đề quan tâm",
            "choices": [
                {"key": "roads", "label": "Đường sá"},
                {"key": "parks", "label": "Công viên"},
                {"key": "safety", "label": "An ninh"},
            ],
        },
        {"key": "score", "kind": "scale", "prompt": "Mức hài lòng", "min": 1, "max": 5},
        {"key": "age", "kind": "number", "prompt": "Tuổi", "min": 0, "max": 120},
        {"key": "note", "kind": "longtext", "prompt": "Góp ý thêm"},
        {"key": "day", "kind": "date", "prompt": "Ngày"},
    ],
}


def make_user(username, role, organisation=None, password="secret-pass"):
    """Create an account with a known password."""
    return User.create(
        username=username,
        password_hash=generate_password_hash(password, method=FAST_HASH),
        role=role,
        organisation=organisation,
    )


def csrf_token_of(html):
    """Return the CSRF token embedded in a rendered form."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else None


# Tallies: responses stored through the domain functions, with hand-counted totals.
TALLY_ROWS = [  # ward, organisation, local time, answers (see tests/test_tally.py for the counts)
    (
        "P1",
        "MTTQ",
        "2025-07-01 10:00",
        {
            "agree": "yes",
            "topics": ["roads", "parks"],
            "score": "5",
            "age": "30",
            "note": "Tốt lắm, cảm ơn",
            "day": "2025-07-01",
        },
    ),
    (
        "P1",
        "MTTQ",
        "2025-07-01 10:05",
        {"agree": "no", "why": "Ồn ào quá", "topics": ["roads"], "score": "4", "age": "45"},
    ),
    (
        "P1",
        "DOAN",
        "2025-07-02 09:00",
        {
            "agree": "yes",
            "topics": ["safety"],
            "score": "5",
            "age": "22",
            "note": '=HYPERLINK("http://x")',
        },
    ),
    ("P2", "MTTQ", "2025-07-02 12:00", {"agree": "yes", "score": "3"}),
    (
        "P2",
        "DOAN",
        "2025-07-02 23:30",
        {
            "agree": "no",
            "why": "<script>alert(1)</script>",
            "topics": ["roads", "parks", "safety"],
            "score": "1",
            "age": "60",
        },
    ),
    ("P2", "DOAN", "2025-07-03 00:30", {"agree": "yes", "topics": ["parks"], "age": "19"}),
]


def store_answers(questionnaire, ward, organisation, answers, local=None, collaborator=None):
    """Check and store one response as the phone form would; optionally date it (local time)."""
    form = MultiDict(
        [(k, v) for k, vs in answers.items() for v in (vs if isinstance(vs, list) else [vs])]
    )
    outcome = check_answers(Schema.load(questionnaire), form)
    assert outcome.ok, outcome.errors
    client_uuid = str(uuid.uuid4())
    assert (
        submit.store(
            questionnaire, ward.id, organisation.id, collaborator, client_uuid, outcome.values
        )
        == submit.STORED
    )
    if local:
        when = to_utc(datetime.datetime.fromisoformat(local))
        response = Response.get(Response.client_uuid == client_uuid)
        Response.update(submitted_at=when).where(Response.id == response.id).execute()
        Answer.update(submitted_at=when).where(Answer.response == response.id).execute()


def responses():
    """Return how many responses are stored."""
    return Response.select().count()


def wait_until(condition, timeout=10.0):
    """Poll a condition until it holds or the timeout passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def soffice():
    """Return LibreOffice's command, or skip when it is not installed."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        # Under CI the run installs it (.ci/run): missing there is a failure, never a skip.
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice is not installed, and CI must open every export with it")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    return found


# Indexes on an expression, which no model declares: index name -> table (0013: usernames
# unique whatever their case, on lower(username)).
EXPRESSION_INDEXES = {"user_username_lower": "user"}


def log_in_page(page, server, username, password="secret-pass", query=""):
    """Log in a browser page through the login form, as a person would; wait until it is left."""
    page.goto(f"{server}/login{query}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
