"""Request parameters an outside tester sent: each answers 400/404 with a message, never a 500."""

import uuid

import pytest

from survey.models import (
    Answer,
    AuditEvent,
    Collaborator,
    Organisation,
    Questionnaire,
    Response,
    User,
    Ward,
)
from survey.network import roster
from survey.network.routes.cards import CARDS_PER_PAGE
from survey.questionnaires.file_format import import_questionnaire
from survey.tallies import exports
from tests.helpers import SAMPLE

FILTERED = [
    "/questionnaires/sample/tallies",
    "/questionnaires/sample/tallies/live",
    "/questionnaires/sample/report",
    "/questionnaires/sample/answers/note",
    "/questionnaires/sample/export.csv",
    "/questionnaires/sample/export.xlsx",
    "/questionnaires/sample/tallies.xlsx",
    "/api/v1/questionnaires/sample/tallies",
]
PAGED = [
    "/admin/audit",
    "/admin/users",
    "/network/collaborators",
    "/network/cards",
    "/questionnaires/sample/answers/note",
]


def audit_count(action=None):
    """Return how many audit entries there are (of one action)."""
    query = AuditEvent.select()
    if action:
        query = query.where(AuditEvent.action == action)
    return query.count()


def test_dates_off_the_calendar_are_a_400(tally_sample, login):
    """A filter date at the end of the calendar is refused with the range, in Vietnamese."""
    client = login("admin")
    for path in FILTERED:
        for query in ("to=9999-12-31", "from=0001-01-01", "from=9999-12-31", "to=1899-12-31"):
            response = client.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            message = response.json["error"] if response.is_json else response.text
            assert "01/01/1900" in message and "31/12/9998" in message
            assert "phải nằm trong khoảng" in message
    assert audit_count("responses.export") == 0


def test_bad_page_numbers_are_a_400(tally_sample, login):
    """Unicode digits, huge numbers and zero are no page number: 400 and a message."""
    client = login("admin")
    for path in PAGED:
        for page in ("²", "٣", "99999999999999999999999", "0", "-1", "1e3", "1.0", "\x00"):
            response = client.get(path, query_string={"page": page})
            assert response.status_code == 400, (path, page)
            if page != "\x00":  # NUL is refused earlier, with its own message
                assert "Số trang phải là số nguyên" in response.text
        assert client.get(path, query_string={"page": "1"}).status_code == 200
    english = client.get("/admin/audit?lang=en&page=²")
    assert english.status_code == 400
    assert "The page number must be a whole number" in english.text


def test_path_numbers_beyond_any_id_are_a_404(network, login):
    """A number in the path that no 64-bit id can hold is simply not found."""
    client = login("admin")
    for path in (
        "/network/collaborators/99999999999999999999999",
        "/network/collaborators/99999999999999999999999/qr.svg",
        "/admin/users/99999999999999999999999",
        "/network/wards/99999999999999999999999/rename",
        "/network/collaborators/9223372036854775808",
        "/network/collaborators/9223372036854775807",
    ):
        assert client.get(path).status_code == 404, path


def test_roster_export_with_bad_filters_is_a_400_and_not_audited(network, login):
    """A bad roster filter answers 400 with the field's message, and writes no audit entry."""
    client = login("admin")
    for query in ("ward=NOPE", "status=x", "organisation=NOPE", "q=" + "x" * 101):
        response = client.get(f"/network/collaborators/export.csv?{query}")
        assert response.status_code == 400, query
        assert "text/html" in response.content_type
    assert audit_count("collaborator.export") == 0


def test_url_for_words_in_the_query_are_plain_parameters(network, login):
    """?_method=POST and friends do not reach url_for as orders: the list renders."""
    client = login("admin")
    for name in ("_method", "_external", "_anchor", "_scheme"):
        for path in ("/network/collaborators", "/network/cards"):
            response = client.get(f"{path}?{name}=POST")
            assert response.status_code == 200, (path, name)
            assert "CTV P1 MTTQ" in response.text


def test_empty_password_on_admin_reset_is_explained(network, login, client):
    """An admin reset with an empty password says why and leaves the password as it was."""
    login("admin")
    lan = User.create(username="lan", password_hash="x", role="viewer")
    before = User.get_by_id(lan.id).password_hash
    response = client.post(f"/admin/users/{lan.id}/password", data={"password": ""})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and 'class="flash' in page.text
    assert User.get_by_id(lan.id).password_hash == before
    assert audit_count("user.password_reset") == 0


def test_client_uuid_of_one_questionnaire_is_refused_on_another(client, sample, network):
    """A client_uuid stored for A and sent again to B is not acknowledged and stores nothing."""
    other = import_questionnaire({**SAMPLE, "slug": "other"})
    token = network["collaborators"][("P1", "MTTQ")].token
    client_uuid = str(uuid.uuid4())
    first = client.post(f"/c/{token}/sample", data={"client_uuid": client_uuid, "agree": "yes"})
    assert first.status_code == 303
    again = client.post(f"/c/{token}/other", data={"client_uuid": client_uuid, "agree": "yes"})
    assert again.status_code == 400
    assert Response.select().where(Response.questionnaire == other.id).count() == 0
    assert Answer.select().where(Answer.questionnaire == other.id).count() == 0


# ---- exports: checked before the first byte, audited once sent


def test_export_audit_is_written_when_the_file_has_been_sent(tally_sample, login):
    """No entry while the body is unread; exactly one once the whole file went out."""
    response = login("viewer").get("/questionnaires/sample/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # charset once
    assert audit_count("responses.export") == 0
    assert response.get_data().count(b"\n") == 7
    assert audit_count("responses.export") == 1


def test_export_failing_mid_stream_is_not_audited(tally_sample, login, monkeypatch):
    """An export whose query breaks after the first chunk leaves no audit entry."""
    monkeypatch.setattr(exports, "CHUNK", 2)
    calls = []
    real = exports._Layout.chunk_rows

    def breaks_on_second_chunk(self, responses):
        """Give the first chunk, then fail as a lost database would."""
        calls.append(len(responses))
        if len(calls) > 1:
            raise RuntimeError("connection lost mid-export")
        return real(self, responses)

    monkeypatch.setattr(exports._Layout, "chunk_rows", breaks_on_second_chunk)
    response = login("viewer").get("/questionnaires/sample/export.csv")
    assert response.status_code == 200  # the first rows were read before the response began
    with pytest.raises(RuntimeError):
        response.get_data()
    assert len(calls) == 2
    assert audit_count("responses.export") == 0


def test_export_failing_before_the_first_byte_is_an_error_page(tally_sample, login, monkeypatch):
    """A query that fails on the first rows answers an error status, not a 200 with a cut file."""

    def broken(self, responses):
        """Fail at once."""
        raise RuntimeError("no rows today")

    monkeypatch.setattr(exports._Layout, "chunk_rows", broken)
    client = login("viewer")
    for path in ("export.csv", "export.xlsx"):
        response = client.get(f"/questionnaires/sample/{path}")
        assert response.status_code == 500
        assert b"\xef\xbb\xbf" not in response.get_data()
    assert audit_count("responses.export") == 0


def test_bad_export_filter_is_a_400_with_no_audit(tally_sample, login):
    """Another organisation, an unknown ward or a bad date: 400 before any byte, not audited."""
    client = login("coordinator", Organisation.get(code="DOAN"))
    for query in ("organisation=MTTQ", "ward=NOPE", "from=2025-13-01", "by=nope"):
        for path in ("export.csv", "export.xlsx", "tallies.xlsx"):
            response = client.get(f"/questionnaires/sample/{path}?{query}")
            assert response.status_code == 400, (path, query)
            assert "text/html" in response.content_type
    assert audit_count("responses.export") == 0


def test_roster_export_failing_mid_stream_is_not_audited(network, login, monkeypatch):
    """The roster export breaking after its first rows writes no audit entry."""
    seen = []
    real = roster.personal_link

    def breaks_on_second(person):
        """Give one link, then fail."""
        seen.append(person.id)
        if len(seen) > 1:
            raise RuntimeError("broken")
        return real(person)

    monkeypatch.setattr(roster, "personal_link", breaks_on_second)
    response = login("admin").get("/network/collaborators/export.csv")
    assert response.status_code == 200
    with pytest.raises(RuntimeError):
        response.get_data()
    assert audit_count("collaborator.export") == 0


def test_roster_export_is_audited_once_sent(network, login):
    """A whole roster export is audited once, with its filters; its type is stated once."""
    response = login("admin").get("/network/collaborators/export.csv?ward=P1")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert audit_count("collaborator.export") == 0
    assert response.get_data().decode("utf-8-sig").count("\n") == 3
    entry = AuditEvent.get(AuditEvent.action == "collaborator.export")
    assert "ward=P1" in entry.target


# ---- drafts, invisible and reordering characters


def test_draft_title_is_not_shown_to_the_public(client, sample, network):
    """A draft's thank-you page is a 404 and its refusals do not name it."""
    Questionnaire.update(status="draft", title="Kế hoạch mật").where(
        Questionnaire.id == sample.id
    ).execute()
    token = network["collaborators"][("P1", "MTTQ")].token
    assert client.get("/s/sample/thanks").status_code == 404
    assert client.get(f"/c/{token}/sample/thanks").status_code == 404
    for path in ("/s/sample", f"/c/{token}/sample"):
        page = client.get(path)
        assert page.status_code == 403
        assert "Kế hoạch mật" not in page.text


def test_invisible_text_does_not_meet_required(client, sample, network):
    """A required text made only of zero-width characters is unanswered: 422, nothing stored."""
    token = network["collaborators"][("P1", "MTTQ")].token
    for text in ("\u200b", "\u200b\u200c\u200d", " \ufeff\u2060 ", "\u00ad"):
        response = client.post(
            f"/c/{token}/sample",
            data={"client_uuid": str(uuid.uuid4()), "agree": "no", "why": text},
        )
        assert response.status_code == 422, repr(text)
    assert Response.select().count() == 0


def test_bidi_controls_and_next_line_are_refused(client, sample, network):
    """Bidi embeddings, overrides, isolates and U+0085 are refused: 422, nothing stored."""
    token = network["collaborators"][("P1", "MTTQ")].token
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u0085":
        for text in (f"abc{char}def", f"{char}tail", f"head{char}"):
            response = client.post(
                f"/c/{token}/sample",
                data={"client_uuid": str(uuid.uuid4()), "agree": "yes", "note": text},
            )
            assert response.status_code == 422, repr(text)
    assert Response.select().count() == 0


def test_zero_width_at_the_ends_is_trimmed_and_emoji_kept(client, sample, network):
    """An answer keeps its joiners inside (emoji) and loses invisible padding at its ends."""
    token = network["collaborators"][("P1", "MTTQ")].token
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    response = client.post(
        f"/c/{token}/sample",
        data={"client_uuid": str(uuid.uuid4()), "agree": "no", "why": f"\u200b{family} ok\u200b"},
    )
    assert response.status_code == 303
    assert Answer.get(Answer.text.is_null(False)).text == f"{family} ok"


# ---- large rosters


def add_collaborators(count):
    """Add count collaborators in P1/MTTQ in one statement per thousand."""
    ward, organisation = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    rows = [(f"Người {i:05d}", ward.id, organisation.id, uuid.uuid4().hex) for i in range(count)]
    for start in range(0, count, 1000):
        Collaborator.insert_many(
            rows[start : start + 1000],
            fields=[
                Collaborator.name,
                Collaborator.ward,
                Collaborator.organisation,
                Collaborator.token,
            ],
        ).execute()


def test_cards_are_printed_a_page_at_a_time(network, login):
    """A large roster's cards come at most CARDS_PER_PAGE a page, every card on exactly one page,
    with links between pages (how groups share pages: tests/test_qrcodes.py)."""
    add_collaborators(CARDS_PER_PAGE + 10)
    client = login("admin")
    counts, page = [], 1
    while (response := client.get(f"/network/cards?page={page}")).status_code == 200:
        counts.append(response.text.count('class="qr-card"'))
        if page > 1:
            assert f"page={page - 1}" in response.text
        page += 1
    assert response.status_code == 404  # past the last page
    assert sum(counts) == CARDS_PER_PAGE + 10 + 4  # the 4 of the sample network, each once
    assert max(counts) == CARDS_PER_PAGE and len(counts) >= 2
    assert client.get(f"/network/cards?ward=P2&page={len(counts)}").status_code == 404


def test_cli_imports_a_roster_beyond_sqlite_variable_limit(runner, network, tmp_path):
    """Seven thousand rows (35,000 values) go in through the CLI, all of them."""
    lines = ["name,phone,organisation,ward"] + [f"Người {i},,MTTQ,P1" for i in range(7000)]
    path = tmp_path / "roster.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = runner.invoke(args=["collaborators", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert Collaborator.select().count() == 4 + 7000
