"""The phone pages via the test client: each kind's rules, one response each, links, lifecycle."""

import datetime
import gzip
import re
import uuid

import pytest

from survey.models import (
    Answer,
    Collaborator,
    Organisation,
    Questionnaire,
    Receipt,
    Response,
    Ward,
    utcnow,
)
from survey.questionnaires.file_format import import_questionnaire
from survey.respond.links import sign_group
from tests.helpers import SAMPLE


@pytest.fixture
def alice(network):
    """Return collaborator P1/MTTQ."""
    return network["collaborators"][("P1", "MTTQ")]


def send(client, url, data=None, client_uuid=None):
    """Post a form with a fresh client_uuid unless one is given."""
    fields = {"client_uuid": client_uuid or str(uuid.uuid4())}
    fields.update(data or {})
    return client.post(url, data=fields)


def stored():
    """Return how many responses and answers are stored."""
    return Response.select().count(), Answer.select().count()


def change(questionnaire, **fields):
    """Update a questionnaire's columns."""
    Questionnaire.update(**fields).where(Questionnaire.id == questionnaire.id).execute()


# ---- the collaborator's page ----


def test_home_lists_what_is_open_and_answered(client, sample, alice):
    """The personal page offers the open questionnaire, then shows it answered."""
    page = client.get(f"/c/{alice.token}")
    assert page.status_code == 200
    assert f'href="/c/{alice.token}/sample?n=' in page.text and alice.name in page.text
    assert send(client, f"/c/{alice.token}/sample", {"agree": "yes"}).status_code == 303
    page = client.get(f"/c/{alice.token}")
    assert f'href="/c/{alice.token}/sample' not in page.text
    assert "done-tile" in page.text and 'id="outbox"' in page.text


def test_home_hides_questionnaires_not_sent_to_them(client, sample, alice, network):
    """A questionnaire targeted at another organisation is not offered."""
    import_questionnaire(
        {
            **SAMPLE,
            "slug": "doan-only",
            "title": "Chỉ cho Đoàn",
            "targets": {"organisations": ["DOAN"], "wards": []},
        }
    )
    assert "Chỉ cho Đoàn" not in client.get(f"/c/{alice.token}").text
    bob = network["collaborators"][("P1", "DOAN")]
    assert "Chỉ cho Đoàn" in client.get(f"/c/{bob.token}").text


@pytest.mark.parametrize("path", ["/c/{bad}", "/c/{bad}/sample", "/c/{bad}/sample/thanks"])
@pytest.mark.parametrize("bad", ["x" * 32, "short", "%00" * 20, "a" * 300])
def test_unknown_token_is_plain_404(client, sample, path, bad):
    """An unknown or malformed token is a plain 404 that names nothing."""
    response = client.get(path.format(bad=bad))
    assert response.status_code == 404
    assert "sample" not in response.text.lower().replace("/static", "")


def test_inactive_collaborator_is_404(client, sample, alice):
    """A revoked collaborator's link stops working at once, for pages and posts."""
    Collaborator.update(active=False).where(Collaborator.id == alice.id).execute()
    assert client.get(f"/c/{alice.token}").status_code == 404
    assert client.get(f"/c/{alice.token}/sample").status_code == 404
    assert send(client, f"/c/{alice.token}/sample", {"agree": "yes"}).status_code == 404
    assert stored() == (0, 0)


def test_rotated_token_old_link_404(client, sample, alice):
    """After rotation the old token is unknown and the new one works."""
    old = alice.token
    alice.rotate_token()
    assert client.get(f"/c/{old}").status_code == 404
    assert client.get(f"/c/{alice.token}").status_code == 200


def phone_page(response):
    """Return a phone page's text once checked to be the phone's own (no coordinator header)."""
    assert 'class="phone"' in response.text and 'href="/login"' not in response.text
    return response.text


@pytest.mark.parametrize("how", ["rotated", "deactivated", "deactivated by hand"])
def test_a_dead_card_is_a_plain_404_saying_whom_to_ask(client, app, sample, alice, how):
    """Replaced or deactivated, the card answers 404 (never 410) on every phone path, with the
    phone's own page naming its organisation and that organisation's contact, else the
    district's; an unknown card names no organisation."""
    old = alice.token
    if how == "rotated":
        alice.rotate_token()
    else:
        alice.active = False
        alice.save()
        if how == "deactivated":
            alice.retire_token()
    app.config["PHONE_CONTACT"] = "Ban Dân vận, 028 3864 0000"
    for path in (f"/c/{old}", f"/c/{old}/sample"):  # its thanks page lives on for the grace
        page = client.get(path)
        assert page.status_code == 404, path
        text = phone_page(page)
        assert "Ủy ban MTTQ" in text and "Ban Dân vận, 028 3864 0000" in text
    Organisation.update(contact="Chị Lan, 0908 111 222").where(
        Organisation.id == alice.organisation_id
    ).execute()
    text = phone_page(client.get(f"/c/{old}"))
    assert "Chị Lan, 0908 111 222" in text and "028 3864 0000" not in text
    unknown = client.get("/c/" + "Q" * 32)
    assert unknown.status_code == 404
    text = phone_page(unknown)
    assert "Ủy ban MTTQ" not in text and "Ban Dân vận, 028 3864 0000" in text


def test_other_phone_404s_are_the_phones_own_page(client, app, sample, alice):
    """An unknown questionnaire, a tampered poster and a closed open link answer 404 with the
    phone's page, not the coordinators' one."""
    change(sample, open_link=False)
    for path in ("/s/nope", f"/c/{alice.token}/nope", "/s/sample", "/s/sample/x.y"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "sample" not in phone_page(page).lower().replace("/static", "")


# ---- the form ----


def test_form_renders_every_kind(client, sample, alice):
    """Each kind has its control, labels are bound, choice groups are fieldsets."""
    html = client.get(f"/c/{alice.token}/sample").text
    assert re.search(r"<h2>Phần 1</h2>", html)
    assert html.count('type="radio" name="agree"') == 2
    assert html.count('type="checkbox" name="topics"') == 3
    assert html.count('type="radio" name="score"') == 5
    assert re.search(r'<input type="text" inputmode="decimal"[^>]*name="age"', html)
    assert re.search(r'<textarea[^>]*name="note"', html)
    assert re.search(r'<input type="date"[^>]*name="day"', html)
    assert re.search(r'<input type="text" maxlength="500"[^>]*name="why"', html)
    assert html.count("<fieldset") == 3 and html.count("<legend>") == 3
    for key in ("why", "age", "note", "day"):
        assert f'for="f-{key}"' in html and f'id="f-{key}"' in html
    assert 'data-show-if-question="agree" data-show-if-choice="no"' in html
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    assert uuid.UUID(client_uuid).version == 4
    assert 'name="csrf_token"' in html
    assert re.search(r'<script src="/static/form\.js\?v=\w+" defer>', html)
    assert "<script>" not in html and "style=" not in html


GOOD = [
    ("topics", ["roads", "parks"]),
    ("score", "1"),
    ("score", "5"),
    ("age", "42"),
    ("age", "4,5"),
    ("age", "0"),
    ("note", "Dòng một\r\nDòng hai"),
    ("day", "2025-07-01"),
    ("note", "ý" * 5000),
]
BAD = [
    ("agree", "maybe"),
    ("agree", ["yes", "no"]),
    ("topics", ["roads", "nope"]),
    ("score", "0"),
    ("score", "6"),
    ("score", "2.5"),
    ("score", "x"),
    ("score", ["1", "2"]),
    ("age", "abc"),
    ("age", "121"),
    ("age", "-1"),
    ("age", "inf"),
    ("age", "nan"),
    ("age", "1e400"),
    ("day", "2025-13-01"),
    ("day", "hôm qua"),
    ("note", "x" * 5001),
    ("note", "bell\x07"),
    ("day", "2025-02-30"),
]


@pytest.mark.parametrize("key,value", GOOD)
def test_good_values_are_stored(client, sample, alice, key, value):
    """A valid value of each kind is stored and thanked with a 303."""
    response = send(client, f"/c/{alice.token}/sample", {"agree": "yes", key: value})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/c/{alice.token}/sample/thanks")
    assert stored()[0] == 1


@pytest.mark.parametrize("key,value", BAD)
def test_bad_values_are_refused_with_messages(client, sample, alice, key, value):
    """A bad value re-renders the form with a summary and a message at its field; nothing stored."""
    response = send(client, f"/c/{alice.token}/sample", {"agree": "yes", key: value})
    assert response.status_code == 422
    html = response.text
    assert 'id="error-summary" role="alert"' in html and f'href="#f-{key}"' in html
    assert f'id="e-{key}"' in html and 'aria-invalid="true"' in html
    assert f'aria-describedby="e-{key}"' in html
    assert stored() == (0, 0)


def test_invalid_form_keeps_what_was_typed(client, sample, alice):
    """The re-rendered form carries the submitted values and the same client_uuid."""
    fixed = str(uuid.uuid4())
    html = send(
        client,
        f"/c/{alice.token}/sample",
        {"agree": "no", "topics": ["parks", "safety"], "age": "abc", "note": "<b>hi</b>"},
        client_uuid=fixed,
    ).text
    assert 'value="no" id="f-agree-no" checked' in html
    assert 'value="parks" id="f-topics-parks" checked' in html
    assert 'value="abc"' in html and "&lt;b&gt;hi&lt;/b&gt;" in html
    assert f'name="client_uuid" value="{fixed}"' in html


def test_required_applies_only_when_shown(client, sample, alice):
    """`why` is required only when agree = no; agree itself is always required."""
    url = f"/c/{alice.token}/sample"
    missing = send(client, url, {"agree": "no"})
    assert missing.status_code == 422 and 'id="e-why"' in missing.text
    none = send(client, url, {})
    assert none.status_code == 422 and 'id="e-agree"' in none.text
    assert stored() == (0, 0)
    assert send(client, url, {"agree": "yes"}).status_code == 303


def test_hidden_question_answer_is_discarded(client, sample, alice):
    """An answer to a question hidden by show_if is dropped, not refused."""
    response = send(client, f"/c/{alice.token}/sample", {"agree": "yes", "why": "secret"})
    assert response.status_code == 303
    assert Answer.select().where(Answer.text == "secret").count() == 0
    assert stored() == (1, 1)


def test_shown_question_answer_is_kept(client, sample, alice):
    """With agree = no, `why` is stored."""
    send(client, f"/c/{alice.token}/sample", {"agree": "no", "why": "Ồn"})
    assert Answer.select().where(Answer.text == "Ồn").count() == 1


def test_same_client_uuid_stores_once(client, sample, alice):
    """The same form sent twice is thanked twice and stored once."""
    fixed = str(uuid.uuid4())
    url = f"/c/{alice.token}/sample"
    for _ in range(3):
        response = send(client, url, {"agree": "yes", "topics": ["roads"]}, client_uuid=fixed)
        assert response.status_code == 303
        assert response.headers["Location"].split("?")[0].endswith("/thanks")
    assert stored() == (1, 2)
    assert Receipt.get().count == 1


def test_second_response_to_one_response_questionnaire_is_409(client, sample, alice):
    """A collaborator answers a one-response questionnaire once; the form then says so."""
    url = f"/c/{alice.token}/sample"
    assert send(client, url, {"agree": "yes"}).status_code == 303
    second = send(client, url, {"agree": "no", "why": "đổi ý"})
    assert second.status_code == 409
    assert "already answered" in second.text or "đã trả lời" in second.text.lower()
    assert stored() == (1, 1)
    again = client.get(url)
    assert again.status_code == 200 and 'id="answer-form"' not in again.text
    assert f'href="/c/{alice.token}"' in again.text


def test_many_response_questionnaire_counts_receipts(client, sample, alice):
    """An interviewer may send many responses; the receipt counts them."""
    change(sample, per_collaborator="many")
    url = f"/c/{alice.token}/sample"
    for _ in range(3):
        assert send(client, url, {"agree": "yes"}).status_code == 303
    assert stored()[0] == 3 and Receipt.get().count == 3
    assert Response.select().where(Response.collaborator == alice).count() == 3
    thanks = client.get(f"{url}/thanks")
    assert f'href="{url}?n=' in thanks.text  # fill in another, under a form id of its own
    assert 'id="answer-form"' in client.get(url).text


def pinned_to(html):
    """Return the form id a page holds and the address its <noscript> refresh goes to, if any."""
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    refresh = re.search(
        r'<noscript><meta http-equiv="refresh" content="0; url=([^"]+)"></noscript>', html
    )
    return client_uuid, refresh.group(1).replace("&amp;", "&") if refresh else None


@pytest.mark.parametrize("kind", ["personal", "open", "poster"])
def test_a_form_opened_without_an_id_pins_one_for_pages_without_script(
    client, sample, alice, network, app, kind
):
    """A typed address sends a page without script on to the same form under its own id; Back
    to that address, once the form was sent, thanks again and stores nothing."""
    change(sample, per_collaborator="many")
    if kind == "personal":
        url = f"/c/{alice.token}/sample"
    elif kind == "open":
        url = "/s/sample"
    else:
        with app.test_request_context():
            url = "/s/sample/" + sign_group(network["wards"][0], network["organisations"][0])
    client_uuid, refresh = pinned_to(client.get(url + "?lang=vi&n=nope").text)
    assert refresh == f"{url}?lang=vi&n={client_uuid}"  # the bad id gone, other keys kept
    page = client.get(refresh)
    assert pinned_to(page.text) == (client_uuid, None)  # the same form, nothing more to pin
    data = {"agree": "yes", "ward": "P1", "organisation": "MTTQ"}
    assert send(client, url, data, client_uuid=client_uuid).status_code == 303
    back = client.get(refresh)
    assert back.status_code == 303 and back.headers["Location"].endswith("/thanks?already=1")
    assert send(client, url, data, client_uuid=client_uuid).status_code == 303
    assert stored()[0] == 1


def test_thanks_names_the_typed_answers_that_did_not_apply(client, sample, alice):
    """An answer typed into a question its condition hides is named on the thanks page."""
    url = f"/c/{alice.token}/sample"
    sent = send(client, url, {"agree": "yes", "why": "Không có lý do", "note": " "})
    location = sent.headers["Location"]
    assert location.endswith("/thanks?dropped=why")
    thanks = client.get(location)
    assert "Vì sao không?" in thanks.text and "Góp ý thêm" not in thanks.text
    assert Answer.select().where(Answer.text == "Không có lý do").count() == 0
    change(sample, per_collaborator="many")
    kept = send(client, url, {"agree": "no", "why": "Ồn"})
    assert kept.headers["Location"].endswith("/thanks")
    assert "Vì sao không?" not in client.get(kept.headers["Location"]).text


def test_anonymous_questionnaire_stores_no_collaborator(client, sample, alice):
    """An anonymous questionnaire records the receipt but not who answered."""
    change(sample, anonymous=True)
    assert send(client, f"/c/{alice.token}/sample", {"agree": "yes"}).status_code == 303
    response = Response.get()
    assert response.collaborator_id is None
    assert (response.ward_id, response.organisation_id) == (alice.ward_id, alice.organisation_id)
    assert Receipt.has_answered(sample, alice)


def test_thanks_page_links_home(client, sample, alice):
    """The personal thank-you page leads back to the collaborator's page."""
    page = client.get(f"/c/{alice.token}/sample/thanks")
    assert page.status_code == 200 and f'href="/c/{alice.token}"' in page.text


# ---- lifecycle ----


@pytest.mark.parametrize(
    "fields,status",
    [
        ({"status": "draft"}, 403),
        ({"status": "closed"}, 410),
        ({"opens_at": utcnow() + datetime.timedelta(days=1)}, 403),
        ({"closes_at": utcnow() - datetime.timedelta(minutes=1)}, 410),
    ],
)
def test_lifecycle_refusals_store_nothing(client, sample, alice, fields, status):
    """Draft, closed, not yet open and past closing: a clear page, nothing stored."""
    change(sample, **fields)
    for url in (f"/c/{alice.token}/sample", "/s/sample"):
        page = client.get(url)
        assert page.status_code == status and 'id="answer-form"' not in page.text
        assert (
            send(client, url, {"agree": "yes", "ward": "P1", "organisation": "MTTQ"}).status_code
            == status
        )
    assert stored() == (0, 0)


def test_not_targeted_collaborator_is_refused(client, sample, network):
    """A collaborator outside the targets gets 403 and stores nothing."""
    import_questionnaire(
        {**SAMPLE, "slug": "p2-only", "targets": {"organisations": [], "wards": ["P2"]}}
    )
    token = network["collaborators"][("P1", "DOAN")].token
    assert client.get(f"/c/{token}/p2-only").status_code == 403
    assert send(client, f"/c/{token}/p2-only", {"agree": "yes"}).status_code == 403
    assert stored() == (0, 0)


def test_unknown_questionnaire_is_404(client, sample, alice):
    """An unknown or malformed slug is 404."""
    for slug in ("nope", "BAD SLUG", "a%00b", "x" * 200):
        assert client.get(f"/c/{alice.token}/{slug}").status_code == 404
        assert client.get(f"/s/{slug}").status_code == 404


# ---- the open link and the poster link ----


def test_open_link_offers_active_wards_and_organisations(client, sample, network):
    """The open link lists active wards and organisations by code."""
    Ward.create(code="P9", name="Phường 9", active=False)
    html = client.get("/s/sample").text
    assert '<select id="f-ward" name="ward"' in html and 'value="P1"' in html
    assert 'value="MTTQ"' in html and 'value="P9"' not in html


def test_open_link_stores_the_chosen_place(client, sample, network):
    """A resident's answer is recorded under the ward and organisation they picked."""
    response = send(client, "/s/sample", {"agree": "yes", "ward": "P2", "organisation": "DOAN"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/s/sample/thanks")
    row = Response.get()
    assert (row.ward.code, row.organisation.code, row.collaborator_id) == ("P2", "DOAN", None)
    assert Receipt.select().count() == 0
    assert client.get("/s/sample/thanks").status_code == 200


@pytest.mark.parametrize(
    "place",
    [
        {},
        {"ward": "P1"},
        {"ward": "P7", "organisation": "MTTQ"},
        {"ward": "P1", "organisation": "X" * 5000},
        {"ward": ["P1", "P2"], "organisation": "MTTQ"},
    ],
)
def test_open_link_needs_a_valid_place(client, sample, network, place):
    """A missing or unknown ward or organisation is a 400 with a message; nothing stored."""
    response = send(client, "/s/sample", {"agree": "yes", **place})
    assert response.status_code == 400
    assert 'id="error-summary"' in response.text
    assert stored() == (0, 0)


def test_open_link_limited_to_targets(client, sample, network):
    """The open link offers and accepts only the targeted organisations."""
    import_questionnaire(
        {**SAMPLE, "slug": "mttq-only", "targets": {"organisations": ["MTTQ"], "wards": []}}
    )
    html = client.get("/s/mttq-only").text
    assert 'value="MTTQ"' in html and 'value="DOAN"' not in html
    refused = send(client, "/s/mttq-only", {"agree": "yes", "ward": "P1", "organisation": "DOAN"})
    assert refused.status_code == 400 and stored() == (0, 0)


def test_open_link_off_is_404(client, sample, network, app):
    """Without open_link, the open and poster addresses do not exist."""
    change(sample, open_link=False)
    with app.test_request_context():
        group = sign_group(network["wards"][0], network["organisations"][0])
    assert client.get("/s/sample").status_code == 404
    assert (
        send(
            client, "/s/sample", {"agree": "yes", "ward": "P1", "organisation": "MTTQ"}
        ).status_code
        == 404
    )
    assert client.get(f"/s/sample/{group}").status_code == 404
    assert stored() == (0, 0)


def test_signed_group_fills_ward_and_organisation(client, sample, network, app):
    """The poster link's signed group decides the ward and organisation."""
    with app.test_request_context():
        group = sign_group(network["wards"][1], network["organisations"][0])
    page = client.get(f"/s/sample/{group}")
    assert page.status_code == 200 and "Phường 2" in page.text and 'name="ward"' not in page.text
    # A ward field smuggled into the post changes nothing.
    assert send(client, f"/s/sample/{group}", {"agree": "yes", "ward": "P1"}).status_code == 303
    row = Response.get()
    assert (row.ward.code, row.organisation.code) == ("P2", "MTTQ")


def test_tampered_group_is_404(client, sample, network, app):
    """A group whose signature does not match is 404, for GET and POST."""
    with app.test_request_context():
        group = sign_group(network["wards"][1], network["organisations"][0])
    for bad in (group[:-2] + ("AA" if not group.endswith("AA") else "BB"), "abc", "x.y.z"):
        assert client.get(f"/s/sample/{bad}").status_code == 404
        assert send(client, f"/s/sample/{bad}", {"agree": "yes"}).status_code == 404
    assert stored() == (0, 0)


# ---- hostile input ----


@pytest.mark.parametrize(
    "client_uuid",
    [
        "",
        "not-a-uuid",
        "5f0c3c9e\x00-4a7b-4f3e-9a51-1c2d3e4f5a6b",
        "X" * 200_000,
        "{5f0c3c9e-4a7b-4f3e-9a51-1c2d3e4f5a6b}",
    ],
)
def test_bad_client_uuid_is_400(client, sample, alice, client_uuid):
    """A missing or malformed client_uuid is a 400 with a message; nothing stored."""
    response = client.post(
        f"/c/{alice.token}/sample", data={"agree": "yes", "client_uuid": client_uuid}
    )
    assert response.status_code == 400 and "<h1>" in response.text
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    "data, status",
    [
        ({"agree": "yes\x00"}, 400),
        ({"agree": "no", "why": "\x00" * 10}, 400),
        ({"agree": "yes", "note": "a\x00b"}, 400),
        ({"agree": "yes", "note": "ý" * 100_000}, 422),
        ({"agree": "yes", "age": "9" * 200_000}, 422),
        ({"agree": ["yes", "no"] * 250}, 422),
        ({"agree": "yes", "day": ["2025-01-01", "2025-01-02"]}, 422),
        ({"agree": "yes", "note": ["a", "b"]}, 422),
        ({"agree": "yes", "topics": ["roads"] * 300 + ["x"]}, 422),
    ],
)
def test_hostile_input_is_refused(client, sample, alice, data, status):
    """NUL bytes are a 400; long strings and repeated fields a 422 form; nothing is stored."""
    response = send(client, f"/c/{alice.token}/sample", data)
    assert response.status_code == status
    assert stored() == (0, 0)


def test_post_without_csrf_token_is_400(client, sample, alice, app):
    """With CSRF on, a post without its token is refused and stores nothing."""
    app.config["WTF_CSRF_ENABLED"] = True
    response = send(client, f"/c/{alice.token}/sample", {"agree": "yes"})
    assert response.status_code == 400
    assert stored() == (0, 0)


def test_csrf_endpoint_gives_a_working_token(client, sample, alice, app):
    """The phone script's token endpoint answers JSON, never cached, and the token works."""
    app.config["WTF_CSRF_ENABLED"] = True
    answer = client.get("/csrf")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    token = answer.get_json()["csrf_token"]
    response = send(client, f"/c/{alice.token}/sample", {"agree": "yes", "csrf_token": token})
    assert response.status_code == 303 and stored()[0] == 1


# ---- compression ----


def test_pages_and_static_files_are_gzipped(client, sample, alice):
    """HTML, CSS and JS come gzipped when asked, with Vary; small or unasked ones are not."""
    zipped = client.get(f"/c/{alice.token}/sample", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert b'id="answer-form"' in gzip.decompress(zipped.data)
    plain = client.get(f"/c/{alice.token}/sample")
    assert "Content-Encoding" not in plain.headers and b'id="answer-form"' in plain.data
    for name in ("style.css", "form.js"):
        static = client.get(f"/static/{name}?v=1", headers={"Accept-Encoding": "gzip, br"})
        assert static.headers["Content-Encoding"] == "gzip"
        assert len(gzip.decompress(static.data)) > len(static.data)
        assert (
            static.headers["Cache-Control"].startswith("public, max-age=31536000")
            or "max-age=31536000" in static.headers["Cache-Control"]
        )
        static.close()
    small = client.get("/csrf", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers
