"""Arbitrary query strings and path values at every GET route, as every kind of user: never a 5xx.

The routes come from app.url_map, so a new route is covered the day it is added. Path parameters
take the sample data's real values (so the views run past their 404s) or junk; query strings mix
the parameters the views read with random keys, and values from huge numbers and Unicode digits
to NUL, lone surrogates (sent as the invalid UTF-8 they become) and dates at the calendar's ends.
"""

import re
from urllib.parse import quote, quote_from_bytes

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.models import (
    Answer,
    Collaborator,
    Organisation,
    Question,
    Questionnaire,
    Response,
    User,
    Ward,
)
from survey.questionnaires.file_format import import_questionnaire
from survey.respond.links import sign_group
from tests.helpers import SAMPLE, make_user, store_answers

KNOWN_KEYS = [
    "ward",
    "organisation",
    "from",
    "to",
    "by",
    "page",
    "q",
    "status",
    "action",
    "lang",
    "next",
    "_method",
    "_external",
    "_anchor",
    "csrf_token",
    "show",
]
NASTY = [
    "",
    " ",
    "9999-12-31",
    "0001-01-01",
    "2025-07-01",
    "2025-02-30",
    "²",
    "٣",
    "１２",
    "99999999999999999999999",
    "9223372036854775808",
    "-1",
    "0",
    "1e308",
    "nan",
    "\x00",
    "\u202e",
    "\u200b",
    "P1",
    "MTTQ",
    "ward",
    "organisation",
    "active",
    "all",
    "en",
    "vi",
    "POST",
    "//evil.example/",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "x" * 5000,
]
PERSONAS = ("anonymous", "viewer", "coordinator", "admin")
JUNK_PATH = ["x", "0", "-1", "99999999999999999999999", "²", "%00", "%ED%A0%80", "a" * 300]


def encode(value):
    """Percent-encode a value: text as UTF-8 (lone surrogates as the bytes they would be)."""
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# Hostile values and the known keys are drawn more often than pure noise.
values = st.one_of(
    st.sampled_from(NASTY),
    st.sampled_from(NASTY),
    st.text(max_size=20),
    st.text(st.characters(categories=["Cs", "Cc", "Cf", "Nd", "No"]), max_size=6),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.dates().map(str),
    st.binary(max_size=6),
)
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS), st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=8)
)
queries = st.lists(st.tuples(keys, values), max_size=8)


def query_string(pairs):
    """Return a raw query string of (key, value) pairs."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)


def world(app):
    """Create the sample data, a draft and one logged-in client per persona; return path values."""
    sample = import_questionnaire({**SAMPLE, "slug": "sample"})
    import_questionnaire({**SAMPLE, "slug": "draft", "status": "draft"})
    import_questionnaire({**SAMPLE, "slug": "anon", "anonymous": True, "suppress_below": 3})
    ward, organisation = Ward.get(code="P1"), Organisation.get(code="MTTQ")
    person = Collaborator.get(Collaborator.ward == ward, Collaborator.organisation == organisation)
    clients = {"anonymous": app.test_client()}
    for persona in PERSONAS[1:]:
        make_user(persona, persona, organisation if persona == "coordinator" else None)
        client = app.test_client()
        reply = client.post("/login", data={"username": persona, "password": "secret-pass"})
        assert reply.status_code == 302
        clients[persona] = client
    with app.test_request_context():
        group = sign_group(ward, organisation)
    store_answers(sample, ward, organisation, {"agree": "yes"}, None, person)
    response = Response.get(Response.collaborator == person.id)  # the response list's pages
    real = {
        "slug": ["sample", "draft", "anon"],
        "token": [person.token],
        "key": ["note", "why", "agree", "day", "s1"],
        "choice_key": ["yes"],
        "group": [group],
        "kind": ["wards", "organisations"],
        "filename": ["style.css", "form.js"],
        "collaborator_id": [person.id],
        "user_id": [User.get(User.username == "admin").id],
        "group_id": [ward.id, organisation.id],
        "token_id": [1],
        "ending": ["csv", "xlsx"],
        "response_id": [response.id],
    }
    assert sample.id is not None
    return clients, real


def get_rules(app):
    """Return the GET routes of the app."""
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods), key=lambda r: r.rule)


PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def fill(rule, choose):
    """Return the rule's path with each placeholder replaced by choose(name)."""
    return PLACEHOLDER.sub(lambda m: choose(m.group(1)), rule.rule)


def counts():
    """Return the number of rows of every table a GET must leave alone."""
    return tuple(
        m.select().count()
        for m in (Questionnaire, Question, Response, Answer, Collaborator, User, Ward)
    )


def fetch(client, path, query):
    """GET a path with a raw query string, reading the whole body (streams included)."""
    response = client.get(path, query_string=query)
    response.get_data()
    response.close()
    return response


def test_every_get_route_with_nasty_parameters_as_everyone(app, network):
    """Each GET route, for each persona, with every known parameter set to hostile values."""
    clients, real = world(app)
    before = counts()
    hostile = [
        [(k, v) for k in KNOWN_KEYS if k not in ("lang",)]
        for v in ("9999-12-31", "²", "99999999999999999999999", "\u202e\x85")
    ]
    for rule in get_rules(app):
        # A parameter this file does not know yet (a new route) gets a plain word.
        path = fill(rule, lambda name: quote(str(real.get(name, ["x"])[0]), safe=""))
        for persona, client in clients.items():
            for pairs in hostile:
                response = fetch(client, path, query_string(pairs))
                assert response.status_code < 500, (persona, path, pairs[0][1])
    assert counts() == before


def test_random_query_strings_never_answer_5xx(app, network):
    """Hypothesis: random routes, path values, users and query strings; no 5xx, nothing changed."""
    clients, real = world(app)
    rules = get_rules(app)
    before = counts()

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        rule=st.sampled_from(rules),
        persona=st.sampled_from(PERSONAS),
        data=st.data(),
        pairs=queries,
    )
    def check(rule, persona, data, pairs):
        """Send one request and check its status."""

        def choose(name):
            """Pick a real value of the sample data or junk for one path parameter."""
            options = [quote(str(v), safe="") for v in real.get(name, [])] + JUNK_PATH
            return data.draw(st.sampled_from(options), label=name)

        path = fill(rule, choose)
        response = fetch(clients[persona], path, query_string(pairs))
        assert response.status_code < 500, (persona, path, pairs)

    check()
    assert counts() == before
