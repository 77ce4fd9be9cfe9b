"""One set of rules for a questionnaire, from the builder or from a file; and who may change it.

Every hostile file the testers sent is refused with its place named, through the function, the
upload screen and the command line, storing nothing; Hypothesis throws arbitrary JSON and
mutations of a valid file at all three.
"""

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.models import AuditEvent, Choice, Question, Questionnaire
from survey.questionnaires import authoring, rules
from survey.questionnaires.file_format import FileError, import_questionnaire
from tests.helpers import SAMPLE, make_user

VALID = {**copy.deepcopy(SAMPLE), "slug": "valid", "organisation": None}


def variant(**changes):
    """Return the valid file with top-level changes (a value of ... removes the key)."""
    data = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def with_question(index, **changes):
    """Return the valid file with one question changed."""
    data = copy.deepcopy(VALID)
    data["questions"][index].update(changes)
    return data


BOUNDARY = "----questionnaire-file"


def upload(client, raw):
    """Upload a questionnaire file's bytes through the import screen.

    The body is built here: Werkzeug's test client spools a large one to a temporary file
    it never closes, which this suite's warnings-as-errors would report.
    """
    body = (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="q.json"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode()
        + raw
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return client.post(
        "/questionnaires/import",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def stored():
    """Return how many rows authoring has written (questionnaires, questions, choices, audit)."""
    return (
        Questionnaire.select().count(),
        Question.select().count(),
        Choice.select().count(),
        AuditEvent.select().count(),
    )


DEEP = ("[" * 100_000 + "]" * 100_000).encode()
# The testers' files: (raw bytes, the place or words the refusal must name).
HOSTILE = {
    "deep nesting": (DEEP, "nests"),
    "deep nesting inside a question": (
        json.dumps(with_question(1, help=[[[[[[[[[["x"]]]]]]]]]])).encode(),
        "nests",
    ),
    "title as a number": (json.dumps(variant(title=5)).encode(), "title: must be text"),
    "targets as a list": (json.dumps(variant(targets=["MTTQ"])).encode(), "targets"),
    "targets as a string": (json.dumps(variant(targets="MTTQ")).encode(), "targets"),
    "choices as a string": (
        json.dumps(with_question(1, choices="yes,no")).encode(),
        "questions[1].choices: must be a list",
    ),
    "choices as a list of lists": (
        json.dumps(with_question(1, choices=[["yes", "Có"]])).encode(),
        "questions[1].choices[0]: must be an object",
    ),
    "show_if parts as lists": (
        json.dumps(with_question(2, show_if={"question": ["agree"], "choice": ["no"]})).encode(),
        "questions[2].show_if.question",
    ),
    "suppress_below 1e30": (
        json.dumps(variant(suppress_below=1e30)).encode(),
        "suppress_below: must be a whole number from 0 to 1000",
    ),
    "year 1": (json.dumps(variant(opens_at="0001-01-01T00:00")).encode(), "opens_at: the year"),
    "year 9999": (
        json.dumps(variant(closes_at="9999-12-31T23:59:59")).encode(),
        "closes_at: the year",
    ),
    "lone surrogate": (b'{"slug": "x", "title": "\\ud800", "questions": []}', "title: must not"),
    "NUL in a title": (json.dumps(variant(title="A\x00B")).encode(), "title: must not"),
    "open_link as a string": (json.dumps(variant(open_link="false")).encode(), "open_link"),
    "anonymous as a string": (json.dumps(variant(anonymous="false")).encode(), "anonymous"),
    "open without questions": (json.dumps(variant(questions=[])).encode(), "questions: Add"),
    "open with only a section": (
        json.dumps(variant(questions=[{"key": "s", "kind": "section", "prompt": "x"}])).encode(),
        "questions: Add",
    ),
    "number min above max": (
        json.dumps(with_question(5, min=10, max=1)).encode(),
        "questions[5].max: The maximum must not be below the minimum.",
    ),
    "900 KB prompt": (
        json.dumps(with_question(1, prompt="x" * 900_000)).encode(),
        "questions[1].prompt: at most 2000 characters",
    ),
    "scale of two million points": (
        json.dumps(with_question(4, min=1, max=2_000_000)).encode(),
        "questions[4].max: A scale needs",
    ),
    "NaN bound": (
        json.dumps(with_question(5, min=float("nan"))).encode(),
        "not a finite number",
    ),
    "Infinity bound": (
        json.dumps(with_question(5, max=float("inf"))).encode(),
        "not a finite number",
    ),
    "huge integer bound": (
        json.dumps(with_question(5, max=10**30)).encode(),
        "questions[5].max: must be a number between",
    ),
    "unknown key": (json.dumps(variant(colour="red")).encode(), "colour: unknown key"),
    "unknown question key": (
        json.dumps(with_question(1, colour="red")).encode(),
        "questions[1].colour: unknown key",
    ),
    "bad choice key": (
        json.dumps(with_question(1, choices=[{"key": "1x", "label": "a"}])).encode(),
        "questions[1].choices[0].key",
    ),
    "choices on a text question": (
        json.dumps(with_question(6, choices=[{"key": "a", "label": "a"}])).encode(),
        "questions[6].choices",
    ),
    "too many questions": (
        json.dumps(
            variant(
                questions=[
                    {"key": f"q{i}", "kind": "text", "prompt": "?"}
                    for i in range(rules.MAX_QUESTIONS + 1)
                ]
            )
        ).encode(),
        "questions: at most 200 items",
    ),
    "too many choices": (
        json.dumps(
            with_question(
                1, choices=[{"key": f"c{i}", "label": "c"} for i in range(rules.MAX_CHOICES + 1)]
            )
        ).encode(),
        "questions[1].choices: at most 100 items",
    ),
    "unknown owner": (json.dumps(variant(organisation="NOPE")).encode(), "organisation"),
    "unknown target code": (
        json.dumps(variant(targets={"organisations": ["NOPE"]})).encode(),
        "targets.organisations[0]: unknown code",
    ),
}


@pytest.fixture
def english_coordinator(login, network, app):
    """Return a client logged in as a coordinator without an organisation, in English."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    return login("coordinator")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_on_screen_with_its_place(english_coordinator, name):
    """The import screen answers 422 naming the place, and stores nothing."""
    raw, place = HOSTILE[name]
    before = stored()
    response = upload(english_coordinator, raw)
    assert response.status_code == 422
    assert place in response.get_data(as_text=True).replace("&#39;", "'")
    assert stored() == before


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_by_the_command(runner, network, tmp_path, name):
    """`survey questionnaire import` stops with status 1, names the place, and stores nothing."""
    raw, place = HOSTILE[name]
    path = tmp_path / "q.json"
    path.write_bytes(raw)
    runner.app.config["BABEL_DEFAULT_LOCALE"] = "en"
    before = stored()
    result = runner.invoke(args=["questionnaire", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert place in result.output
    assert stored() == before


def test_valid_file_imports_and_round_trips(english_coordinator, network):
    """The valid file of these tests imports (so each refusal above is the change's doing)."""
    assert upload(english_coordinator, json.dumps(VALID).encode()).status_code == 302
    exported = english_coordinator.get("/questionnaires/valid/export.json").get_json()
    assert exported["organisation"] is None
    assert exported["open_link"] is True and exported["anonymous"] is False


def test_refusals_are_in_vietnamese_by_default(login, network):
    """The default language names the problem in Vietnamese."""
    client = login("coordinator")
    body = upload(client, json.dumps(variant(open_link="false")).encode()).get_data(as_text=True)
    assert "open_link: phải là true hoặc false" in body


def test_python_values_json_cannot_hold_are_refused(network):
    """The function refuses NaN, infinity and huge numbers handed over as Python values."""
    for bad in (float("nan"), float("inf"), -float("inf"), 10**400):
        with pytest.raises(FileError) as error:
            import_questionnaire(with_question(5, max=bad))
        assert any(p.startswith("questions[5].max") for p in error.value.problems)
    assert Questionnaire.select().count() == 0


# --- Hypothesis: arbitrary JSON, and mutations of the valid file ---

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["open", "single", "agree", "no", "MTTQ", "P1", "2025-07-01T08:00"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["slug", "title", "questions", "key", "kind", "choices", "x"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def paths(value, prefix=()):
    """Return every path (tuple of keys and indexes) into a JSON value."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, prefix + (index,))
    return found


VALID_PATHS = paths(VALID)[1:]


@st.composite
def mutations(draw):
    """Return the valid file with one place replaced, removed, or given an extra key."""
    data = copy.deepcopy(VALID)
    path = draw(st.sampled_from(VALID_PATHS))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace" or (action == "remove" and isinstance(parent, list)):
        parent[path[-1]] = draw(JSON)
    elif action == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(JSON)
    return data


FILES = JSON | mutations()
HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def forget(slug):
    """Remove a questionnaire an example imported, so the next example starts afresh."""
    if isinstance(slug, str) and (found := Questionnaire.by_slug(slug)) is not None:
        found.delete_instance(recursive=True)


@HYPOTHESIS
@given(data=FILES)
def test_function_raises_only_file_errors(network, data):
    """import_questionnaire either imports or raises FileError, storing nothing then."""
    before = stored()
    try:
        questionnaire = import_questionnaire(copy.deepcopy(data))
    except FileError as error:
        assert error.problems and all(isinstance(p, str) for p in error.problems)
        assert stored() == before
    else:
        forget(questionnaire.slug)


def dumps(data):
    """Serialise a generated value as a file would hold it (NaN and Infinity included)."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


@HYPOTHESIS
@given(data=FILES)
def test_upload_never_fails_with_a_server_error(english_coordinator, data):
    """The import screen answers 302 or 422 to any file, storing nothing on 422."""
    before = stored()
    response = upload(english_coordinator, dumps(data))
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert stored() == before
    else:
        forget(data.get("slug"))


@settings(HYPOTHESIS, max_examples=25)
@given(data=FILES)
def test_command_never_crashes(runner, network, tmp_path, data):
    """`survey questionnaire import` ends with status 0 or 1, never an exception."""
    path = tmp_path / "q.json"
    path.write_bytes(dumps(data))
    before = stored()
    result = runner.invoke(args=["questionnaire", "import", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 1:
        assert stored() == before
    else:
        forget(data.get("slug"))


# --- The builder keeps the same rules ---


def test_builder_refuses_what_the_file_may_not_hold(english_coordinator, sample):
    """Year 1, control characters and a two-million-point scale are refused on screen (422)."""
    before = stored()
    created = english_coordinator.post(
        "/questionnaires/new",
        data={
            "title": "Ổn",
            "slug": "y1",
            "opens_at": "0001-01-01T00:00",
            "per_collaborator": "one",
        },
    )
    assert created.status_code == 422
    assert "the year must be from 2000 to 2100" in created.get_data(as_text=True)
    bell = english_coordinator.post(
        "/questionnaires/new",
        data={"title": "Chuông\x07", "slug": "bell", "per_collaborator": "one"},
    )
    assert bell.status_code == 422
    assert "control characters" in bell.get_data(as_text=True)
    scale = english_coordinator.post(
        "/questionnaires/sample/questions",
        data={"key": "big", "kind": "scale", "prompt": "?", "minimum": "1", "maximum": "2000000"},
    )
    assert scale.status_code == 422
    assert stored() == before


def test_authoring_refuses_long_labels_and_escape_characters(sample):
    """The rules hold for authoring's own functions, not only its forms."""
    agree = Question.get(key="agree")
    with pytest.raises(authoring.Refused):
        authoring.create_choice(None, agree, "", "x" * (rules.MAX_LABEL + 1))
    with pytest.raises(authoring.Refused):
        authoring.update_choice(None, Choice.get(key="yes"), "yes", "\x1b[31m")
    with pytest.raises(authoring.Refused) as refused:
        authoring.create_question(None, sample, {"key": "esc", "kind": "text", "prompt": "a\x00b"})
    assert refused.value.field == "prompt"
    assert Choice.get(key="yes").label == "Đồng ý"
    assert not Question.select().where(Question.key == "esc").exists()


def test_number_bounds_must_be_finite_in_the_builder(sample):
    """The builder refuses a number question with an infinite or huge bound."""
    for bad in (math.inf, 10.0**30):
        with pytest.raises(authoring.Refused):
            authoring.create_question(
                None, sample, {"key": "n", "kind": "number", "prompt": "?", "maximum": bad}
            )


# --- Who owns what ---


def test_owners_and_editors(app, network, client):
    """Admins change any questionnaire; a coordinator without an organisation the district's."""
    org_a, _org_b = network["organisations"]
    district = import_questionnaire(variant(slug="district"))
    owned = import_questionnaire(variant(slug="owned", organisation=org_a.code))
    assert owned.organisation_id == org_a.id and district.organisation_id is None
    admin, plain = make_user("root", "admin"), make_user("plain", "coordinator")
    scoped = make_user("scoped", "coordinator", org_a)
    assert authoring.may_edit(admin, owned) and authoring.may_edit(admin, district)
    assert authoring.may_edit(plain, district) and not authoring.may_edit(plain, owned)
    assert authoring.may_edit(scoped, owned) and not authoring.may_edit(scoped, district)
    client.post("/login", data={"username": "plain", "password": "secret-pass"})
    assert client.post("/questionnaires/owned/status", data={"status": "closed"}).status_code == 403
    assert Questionnaire.get(slug="owned").status == "open"
    client.post(
        "/questionnaires/new",
        data={"title": "Của quận", "slug": "mine", "per_collaborator": "one"},
    )
    assert Questionnaire.get(slug="mine").organisation_id is None
    scoped_client = app.test_client()
    scoped_client.post("/login", data={"username": "scoped", "password": "secret-pass"})
    scoped_client.post(
        "/questionnaires/new",
        data={"title": "Của MTTQ", "slug": "theirs", "per_collaborator": "one"},
    )
    assert Questionnaire.get(slug="theirs").organisation_id == org_a.id
    preview = scoped_client.get("/questionnaires/district/preview").get_data(as_text=True)
    assert "/questionnaires/district/edit" not in preview
    assert "/questionnaires/district/duplicate" in preview
