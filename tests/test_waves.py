"""Waves: a repeat shows the earlier wave's figures beside its own, under each wave's own rules."""

import copy
import io
import re

import docx
import pytest

from survey.models import AuditEvent, Organisation, Questionnaire, Ward
from survey.questionnaires.file_format import (
    FileError,
    export_questionnaire,
    import_questionnaire,
)
from tests.helpers import store_answers

NO = {"choices": ["no"]}  # the answer that signals concern
YES_NO = [{"key": "yes", "label": "Tán thành"}, {"key": "no", "label": "Chưa tán thành"}]
WAVE = {
    "slug": "dot-1",
    "title": "Đợt 1",
    "status": "open",
    "questions": [
        {"key": "agree", "kind": "single", "prompt": "Ý kiến?", "choices": YES_NO, "concern": NO},
        {"key": "score", "kind": "scale", "prompt": "Hài lòng"},
        {"key": "age", "kind": "number", "prompt": "Tuổi"},
        {"key": "note", "kind": "text", "prompt": "Ý kiến"},
    ],
}


def second(**change):
    """Return the file of the second wave: one more question, repeating dot-1."""
    data = copy.deepcopy(WAVE)
    data.update({"slug": "dot-2", "title": "Đợt 2", "repeat_of": "dot-1", **change})
    data["questions"].append(
        {
            "key": "extra",
            "kind": "single",
            "prompt": "Câu mới",
            "choices": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}],
        }
    )
    return data


def fill(questionnaire, cells):
    """Store responses: {(ward, organisation): [(agree, score, age), …]}."""
    for (ward, org), rows in cells.items():
        w, o = Ward.get(code=ward), Organisation.get(code=org)
        for agree, score, age in rows:
            answers = {"agree": agree, "score": str(score), "age": str(age), "extra": "a"}
            if questionnaire.slug == "dot-1":
                del answers["extra"]
            store_answers(questionnaire, w, o, answers)


# Wave 1: 10 in P1 × MTTQ, 8 agree (mean score 4, age 40); 2 in P2 × DOAN, both disagree.
FIRST = {
    ("P1", "MTTQ"): [("yes", 4, 40)] * 8 + [("no", 4, 40)] * 2,
    ("P2", "DOAN"): [("no", 2, 60)] * 2,
}
# Wave 2: 10 in P1 × MTTQ, 3 agree (mean score 2, age 50); 10 in P2 × DOAN, 5 agree.
SECOND = {
    ("P1", "MTTQ"): [("yes", 2, 50)] * 3 + [("no", 2, 50)] * 7,
    ("P2", "DOAN"): [("yes", 3, 30)] * 5 + [("no", 3, 30)] * 5,
}


@pytest.fixture
def waves(app, network):
    """Import both waves and fill them with figures that differ."""
    first = import_questionnaire(copy.deepcopy(WAVE))
    repeat = import_questionnaire(second())
    fill(first, FIRST)
    fill(repeat, SECOND)
    return first, repeat


def question(document, key):
    """Return one question of a tallies API document."""
    return next(q for q in document["questions"] if q["key"] == key)


def test_api_gives_each_compared_question_the_earlier_figures(waves, login):
    """previous: the earlier wave's answered count, choice counts and mean; none where not asked."""
    client = login("viewer")
    body = client.get("/api/v1/questionnaires/dot-2/tallies").get_json()
    agree = question(body, "agree")
    assert agree["previous"] == {
        "responses": 12,
        "choices": [{"key": "yes", "count": 8}, {"key": "no", "count": 4}],
    }
    assert question(body, "score")["previous"]["mean"] == pytest.approx((8 * 4 + 2 * 4 + 4) / 12)
    age = question(body, "age")["previous"]
    assert age == {"responses": 12, "choices": [], "mean": pytest.approx(520 / 12)}
    assert "previous" not in question(body, "extra")
    first = client.get("/api/v1/questionnaires/dot-1/tallies").get_json()
    assert all("previous" not in q for q in first["questions"])


def test_api_previous_by_ward_and_within_a_filter(waves, login):
    """A breakdown by ward gives the earlier wave's counts per ward; a ward filter narrows both."""
    client = login("viewer")
    body = client.get("/api/v1/questionnaires/dot-2/tallies?by=ward").get_json()
    assert question(body, "agree")["previous"]["by"] == {
        "P1": {"yes": 8, "no": 2},
        "P2": {"yes": 0, "no": 2},
    }
    body = client.get("/api/v1/questionnaires/dot-2/tallies?ward=P2").get_json()
    assert question(body, "agree")["previous"]["choices"] == [
        {"key": "yes", "count": 0},
        {"key": "no", "count": 2},
    ]


def test_tally_page_shows_the_change_in_points_and_means(waves, login):
    """Agree fell from 66.7 % to 40 %: −26.7 points; the mean score from 3.67 to 2.5."""
    client = login("viewer")
    page = client.get("/questionnaires/dot-2/tallies").get_data(as_text=True)
    assert "Đợt 1" in page
    assert "\u221226,7" in page  # agree "yes": 40 % now, 66,7 % before
    assert "+26,7" in page  # agree "no"
    assert "\u22121,17" in page  # mean score 2,5 against 3,67
    assert page.count('class="num prev"') >= 4
    assert "Đợt trước không hỏi câu này theo cùng cách" in page  # the question "extra"
    live = client.get("/questionnaires/dot-2/tallies/live").get_data(as_text=True)
    assert "\u221226,7" in live  # the page's refresh keeps the earlier wave beside


def test_earlier_wave_keeps_its_own_suppression(app, network, login):
    """The earlier wave withholds groups under its k = 5: its P2 figures stay withheld."""
    first = import_questionnaire({**copy.deepcopy(WAVE), "suppress_below": 5})
    repeat = import_questionnaire(second())
    fill(first, FIRST)
    fill(repeat, SECOND)
    client = login("viewer")
    body = client.get("/api/v1/questionnaires/dot-2/tallies?ward=P2").get_json()
    previous = question(body, "agree")["previous"]
    assert previous["responses"] is None
    assert [c["count"] for c in previous["choices"]] == [None, None]
    assert question(body, "agree")["choices"][0]["count"] == 5  # the repeat has no k
    page = client.get("/questionnaires/dot-2/tallies?ward=P2").get_data(as_text=True)
    assert "&lt;&nbsp;5" in page  # the earlier wave's withheld cells, in its own k
    whole = client.get("/api/v1/questionnaires/dot-2/tallies?by=ward").get_json()
    assert question(whole, "agree")["previous"]["by"]["P2"] == {"yes": None, "no": None}


def test_change_against_a_withheld_cell_is_withheld(app, network, login):
    """Where the earlier share is withheld the change shows a dash, never a figure."""
    first = import_questionnaire({**copy.deepcopy(WAVE), "suppress_below": 5})
    repeat = import_questionnaire(second())
    fill(first, FIRST)
    fill(repeat, SECOND)
    from survey.tallies.counting import Filters, tally
    from survey.tallies.waves import compare

    filters = Filters(ward=Ward.get(code="P2"))
    t = tally(repeat, filters)
    wave = compare(repeat, t, filters)
    agree = next(qt for qt in t.questions if qt.key == "agree")
    assert [wave.get("agree").change(c) for c in agree.columns] == [None, None]
    assert (
        wave.get("score").mean_change(next(qt for qt in t.questions if qt.key == "score").mean)
        is None
    )


def test_printable_report_sets_the_earlier_wave_beside(waves, login):
    """The printable page, like the Word file, names the earlier wave and the changes."""
    html = login("viewer").get("/questionnaires/dot-2/report").get_data(as_text=True)
    assert "Đợt trước: “Đợt 1”, 12 phiếu trả lời (thay đổi +8)" in html
    assert "\u221226,7" in html and "\u22121,17" in html


def test_word_report_sets_the_earlier_wave_beside(waves, login):
    """The Word report names the earlier wave and writes each share's change."""
    response = login("viewer").get("/questionnaires/dot-2/report.docx")
    assert response.status_code == 200
    document = docx.Document(io.BytesIO(response.data))
    cells = " | ".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Đợt 1" in text
    assert "\u221226,7" in cells and "66,7" in cells
    assert "Đợt trước" in cells


def test_repeat_of_round_trips_through_the_file(app, network):
    """Export writes repeat_of; importing the exported file under a new address keeps it."""
    import_questionnaire(copy.deepcopy(WAVE))
    repeat = import_questionnaire(second())
    data = export_questionnaire(repeat)
    assert data["repeat_of"] == "dot-1"
    again = import_questionnaire({**data, "slug": "dot-3"})
    assert export_questionnaire(again) == {**data, "slug": "dot-3"}
    assert "repeat_of" not in export_questionnaire(Questionnaire.get(slug="dot-1"))


@pytest.mark.parametrize(
    "change, text",
    [
        ({"repeat_of": "khong-co"}, "repeat_of: no questionnaire has this address"),
        ({"repeat_of": "Bad Slug"}, "repeat_of: must be lower-case"),
    ],
)
def test_bad_repeat_of_in_a_file_is_refused(app, network, change, text):
    """An unknown or malformed earlier wave is refused, its place named."""
    import_questionnaire(copy.deepcopy(WAVE))
    with pytest.raises(FileError) as refused:
        import_questionnaire(second(**change))
    assert any(p.startswith(text) for p in refused.value.problems), refused.value.problems
    assert not Questionnaire.select().where(Questionnaire.slug == "dot-2").exists()


def test_a_file_whose_kinds_differ_is_refused(app, network):
    """agree as several choices here, one choice before: not the same question."""
    import_questionnaire(copy.deepcopy(WAVE))
    data = second()
    data["questions"][0]["kind"] = "multi"
    with pytest.raises(FileError) as refused:
        import_questionnaire(data)
    assert any("agree" in p and p.startswith("repeat_of") for p in refused.value.problems)


def test_settings_choose_the_earlier_wave_audited(app, network, login):
    """The settings form sets repeat_of (audited by address); a scale of other bounds refuses."""
    import_questionnaire(copy.deepcopy(WAVE))
    data = second()
    del data["repeat_of"]
    repeat = import_questionnaire(data)
    client = login("coordinator")
    form = {
        "title": repeat.title,
        "slug": repeat.slug,
        "status": repeat.status,
        "per_collaborator": "one",
        "suppress_below": "0",
        "repeat_of": "dot-1",
    }
    page = client.get("/questionnaires/dot-2/edit").get_data(as_text=True)
    assert 'value="dot-1"' in page and 'value="dot-2"' not in page.split('name="repeat_of"')[1]
    assert client.post("/questionnaires/dot-2/edit", data=form).status_code == 302
    assert Questionnaire.get(slug="dot-2").repeat_of.slug == "dot-1"
    event = AuditEvent.select().where(AuditEvent.action == "questionnaire.update").get()
    assert '"repeat_of": [null, "dot-1"]' in event.detail
    form["repeat_of"] = ""
    assert client.post("/questionnaires/dot-2/edit", data=form).status_code == 302
    assert Questionnaire.get(slug="dot-2").repeat_of_id is None


def test_settings_refuse_a_mismatch_and_a_circle(app, network, login):
    """A scale of other bounds, itself, or its own later wave: refused with a reason, unchanged."""
    earlier = copy.deepcopy(WAVE)
    earlier["questions"][1].update(min=1, max=10)
    import_questionnaire(earlier)
    data = second()
    del data["repeat_of"]
    import_questionnaire(data)
    client = login("coordinator")
    form = {
        "title": "Đợt 2",
        "slug": "dot-2",
        "status": "open",
        "per_collaborator": "one",
        "suppress_below": "0",
        "repeat_of": "dot-1",
    }
    response = client.post("/questionnaires/dot-2/edit", data=form)
    assert response.status_code == 422
    assert "score" in response.get_data(as_text=True)
    assert Questionnaire.get(slug="dot-2").repeat_of_id is None
    form["repeat_of"] = "dot-2"
    assert client.post("/questionnaires/dot-2/edit", data=form).status_code == 422
    Questionnaire.update(repeat_of=Questionnaire.get(slug="dot-2")).where(
        Questionnaire.slug == "dot-1"
    ).execute()
    earlier_form = {**form, "repeat_of": "dot-1"}
    response = client.post("/questionnaires/dot-2/edit", data=earlier_form)
    assert response.status_code == 422
    assert "chính là một đợt sau của phiếu này" in response.get_data(as_text=True)
    assert Questionnaire.get(slug="dot-2").repeat_of_id is None


def test_repeat_as_a_new_wave_from_the_duplicate_screen(app, network, login):
    """“Lặp lại đợt mới” copies the questionnaire as a draft repeating it; a plain copy does not."""
    import_questionnaire(copy.deepcopy(WAVE))
    client = login("coordinator")
    page = client.get("/questionnaires/dot-1/duplicate?repeat=1").get_data(as_text=True)
    assert "checked" in re.search(r'<input[^>]*name="repeat"[^>]*>', page).group(0)
    response = client.post(
        "/questionnaires/dot-1/duplicate", data={"slug": "dot-2", "title": "Đợt 2", "repeat": "y"}
    )
    assert response.status_code == 302
    assert Questionnaire.get(slug="dot-2").repeat_of.slug == "dot-1"
    event = AuditEvent.get(AuditEvent.action == "questionnaire.duplicate")
    assert '"repeat_of": "dot-1"' in event.detail
    client.post("/questionnaires/dot-2/duplicate", data={"slug": "ban-sao", "title": "Bản sao"})
    assert Questionnaire.get(slug="ban-sao").repeat_of_id is None
    client.post("/logout")  # another organisation's coordinator finds it on the preview
    other = login("coordinator", Organisation.get(code="DOAN"))
    preview = other.get("/questionnaires/dot-1/preview").get_data(as_text=True)
    assert "/questionnaires/dot-1/duplicate?repeat=1" in preview


def test_deleting_the_earlier_wave_leaves_the_repeat_alone(app, network, login):
    """The earlier wave, without answers, may be deleted; the repeat then repeats nothing."""
    import_questionnaire({**copy.deepcopy(WAVE), "status": "draft"})
    import_questionnaire(second())
    client = login("coordinator")
    assert client.post("/questionnaires/dot-1/delete").status_code == 302
    assert Questionnaire.get(slug="dot-2").repeat_of_id is None
    body = client.get("/api/v1/questionnaires/dot-2/tallies").get_json()
    assert all("previous" not in q for q in body["questions"])


# P1 × MTTQ worries 70 % (14 of 20) in the repeat, 20 % everywhere in the earlier wave.
HOT_NOW = {
    ("P1", "MTTQ"): [("no", 3, 30)] * 14 + [("yes", 3, 30)] * 6,
    ("P2", "MTTQ"): [("no", 3, 30)] * 2 + [("yes", 3, 30)] * 18,
    ("P1", "DOAN"): [("no", 3, 30)] * 2 + [("yes", 3, 30)] * 18,
    ("P2", "DOAN"): [("no", 3, 30)] * 2 + [("yes", 3, 30)] * 18,
}
HOT_BEFORE = {cell: [("no", 3, 30)] * 4 + [("yes", 3, 30)] * 16 for cell in HOT_NOW}


@pytest.mark.parametrize("earlier_k, previous", [(0, 0.2), (25, None)])
def test_hotspots_give_the_earlier_share(app, network, login, earlier_k, previous):
    """The hotspot carries the earlier wave's share of the same group: 20 %, or withheld (None)
    where the earlier wave's own k (25) withholds that group of 20."""
    first = import_questionnaire({**copy.deepcopy(WAVE), "suppress_below": earlier_k})
    repeat = import_questionnaire(second())
    fill(first, HOT_BEFORE)
    fill(repeat, HOT_NOW)
    client = login("viewer")
    body = client.get("/api/v1/questionnaires/dot-2/hotspots").get_json()
    spot = next(h for h in body if (h["ward"], h["organisation"]) == ("P1", "MTTQ"))
    assert spot["share"] == 0.7 and spot["previous_share"] == previous
    page = client.get("/questionnaires/dot-2/tallies").get_data(as_text=True)
    assert ("+50" in page) is (previous is not None)
    # The Word report's section III has the page's columns: the earlier share and the change.
    report = docx.Document(io.BytesIO(client.get("/questionnaires/dot-2/report.docx").data))
    hot = next(t for t in report.tables if t.rows[0].cells[0].text == "Câu hỏi")
    assert [c.text for c in hot.rows[0].cells][-2:] == ["Đợt trước", "Thay đổi (điểm phần trăm)"]
    row = next(r for r in hot.rows if r.cells[1].text == "Phường 1 · Ủy ban MTTQ")
    before, change = (c.text for c in row.cells[-2:])  # 70 % against 20 %: +50 points
    assert (before, change[:3]) == (("20,0 %", "+50") if previous else ("–", "–"))
    first_body = client.get("/api/v1/questionnaires/dot-1/hotspots").get_json()
    assert all("previous_share" not in h for h in first_body)


def test_written_question_asked_alike_is_not_called_not_asked_alike(waves, login):
    """The text question "note", asked alike in both waves, is said not compared, never "not asked
    the same way": only the new question "extra" is."""
    client = login("viewer")
    page = client.get("/questionnaires/dot-2/tallies").get_data(as_text=True)
    note = page[page.index('id="q-note"') :]
    note = note[: note.index("</section>")]
    assert "không hỏi câu này theo cùng cách" not in note
    assert "Câu trả lời viết không so sánh giữa hai đợt" in note
    assert page.count("Đợt trước không hỏi câu này theo cùng cách") == 1  # "extra" alone
