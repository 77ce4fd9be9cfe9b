"""Hostile input on the public forms: never a 500, nothing stored when refused (property-based)."""

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.models import Answer, AuditEvent, Response, User

KEYS = [
    "agree",
    "why",
    "topics",
    "score",
    "age",
    "note",
    "day",
    "client_uuid",
    "ward",
    "organisation",
    "csrf_token",
    "x",
    "agree\x00",
    "' OR 1=1 --",
]
NASTY = st.one_of(
    st.text(max_size=50),
    st.sampled_from(
        [
            "\x00",
            "\ud800",
            "<script>alert(1)</script>",
            "'; DROP TABLE answer; --",
            "1e309",
            "NaN",
            "-0",
            "9" * 400,
            "x" * 200_000,
            "yes\x00",
            "2025-02-30",
            "0000-00-00",
            "P1",
            "MTTQ",
            "yes",
            "no",
            "5",
            "ﷺ",
            "\u202e",
        ]
    ),
)
FORMS = st.lists(st.tuples(st.sampled_from(KEYS), NASTY), max_size=12)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _encode(pairs):
    """Turn pairs into a form body werkzeug will send (lone surrogates become bytes as-is)."""
    return [(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs]


def _body(pairs):
    """Return an urlencoded body that can carry any bytes, surrogates included."""
    from urllib.parse import quote_from_bytes

    return "&".join(
        quote_from_bytes(k.encode("utf-8", "surrogatepass")) + "=" + quote_from_bytes(v)
        for k, v in _encode(pairs)
    )


def _post(client, path, pairs):
    """Post raw form pairs to a path."""
    return client.post(path, data=_body(pairs), content_type="application/x-www-form-urlencoded")


def _counts():
    """Return the number of stored responses and answers."""
    return Response.select().count(), Answer.select().count()


@SETTINGS
@given(pairs=FORMS)
def test_personal_form_never_fails(client, sample, network, pairs):
    """Any form posted to a personal link gets 303/4xx; a refusal stores nothing."""
    token = next(iter(network["collaborators"].values())).token
    before = _counts()
    response = _post(client, f"/c/{token}/sample", pairs)
    assert response.status_code in (303, 400, 409, 413, 422), response.status_code
    if response.status_code != 303:
        assert _counts() == before


@SETTINGS
@given(pairs=FORMS)
def test_open_link_never_fails(client, sample, pairs):
    """Any form posted to the open link gets 303/4xx; a refusal stores nothing."""
    before = _counts()
    pairs = pairs + [("client_uuid", str(uuid.uuid4()))]
    response = _post(client, "/s/sample", pairs)
    assert response.status_code in (303, 400, 413, 422), response.status_code
    if response.status_code != 303:
        assert _counts() == before


@SETTINGS
@given(username=NASTY, password=NASTY)
def test_login_never_fails(client, db, username, password):
    """Any login attempt gets 401/422/413, never a 500, and logs nobody in."""
    response = _post(client, "/login", [("username", username), ("password", password)])
    assert response.status_code in (400, 401, 413, 422), response.status_code
    assert User.select().count() == 0
    assert AuditEvent.select().where(AuditEvent.action == "user.login").count() == 0


@SETTINGS
@given(path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_unknown_tokens_and_slugs_are_plain_404(client, sample, path):
    """Made-up tokens and slugs are a plain 404 (a redirect for a trailing slash), never a 500."""
    from urllib.parse import quote

    for url in (
        f"/c/{quote(path, safe='')}",
        f"/s/{quote(path, safe='')}",
        f"/c/{quote(path, safe='')}/sample",
    ):
        response = client.get(url)
        assert response.status_code in (404, 308, 301, 405), (url, response.status_code)
