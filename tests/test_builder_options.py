"""Builder options: “Khác (ghi rõ)”, labels on a scale's two ends, picks on a multiple choice.

Each goes through the builder, the questionnaire file (round trip), the phone form, the
tallies and the exports.
"""

import copy
import csv
import io
import re
import uuid

import pytest

from survey.models import Answer, Choice, Question, Questionnaire
from survey.questionnaires.file_format import (
    FileError,
    export_questionnaire,
    import_questionnaire,
)
from tests.helpers import SAMPLE

OPTIONS = copy.deepcopy(SAMPLE)
OPTIONS["slug"] = "options"
OPTIONS["questions"] = [
    {
        "key": "source",
        "kind": "single",
        "prompt": "Bạn biết tin qua đâu?",
        "required": True,
        "choices": [
            {"key": "tv", "label": "Truyền hình"},
            {"key": "khac", "label": "Khác (ghi rõ)", "other": True},
        ],
    },
    {
        "key": "topics",
        "kind": "multi",
        "prompt": "Chủ đề quan tâm",
        "min_picks": 2,
        "max_picks": 3,
        "choices": [
            {"key": "a", "label": "Đường sá"},
            {"key": "b", "label": "Công viên"},
            {"key": "c", "label": "An ninh"},
            {"key": "d", "label": "Nhà ở"},
            {"key": "other", "label": "Khác", "other": True},
        ],
    },
    {
        "key": "score",
        "kind": "scale",
        "prompt": "Mức hài lòng",
        "min": 1,
        "max": 5,
        "low_label": "Rất không hài lòng",
        "high_label": "Rất hài lòng",
    },
]


@pytest.fixture
def options(network):
    """Import the questionnaire with every option."""
    return import_questionnaire(copy.deepcopy(OPTIONS))


def send(client, data):
    """Post the options form through the open link of P1 × MTTQ."""
    fields = {"client_uuid": str(uuid.uuid4()), "ward": "P1", "organisation": "MTTQ"}
    fields.update(data)
    return client.post("/s/options", data=fields)


def test_file_round_trip_keeps_every_option(options):
    """Export then import gives the same options; a plain choice has no "other" key."""
    data = export_questionnaire(options)
    source, topics, score = data["questions"]
    assert source["choices"] == OPTIONS["questions"][0]["choices"]
    assert (topics["min_picks"], topics["max_picks"]) == (2, 3)
    assert (score["low_label"], score["high_label"]) == ("Rất không hài lòng", "Rất hài lòng")
    assert "min_picks" not in source and "low_label" not in topics
    copy_data = dict(data, slug="options-2")
    assert export_questionnaire(import_questionnaire(copy_data))["questions"] == data["questions"]


@pytest.mark.parametrize(
    "where, change, place",
    [
        (0, {"min_picks": 1}, "questions[0].min_picks"),  # a single choice has no picks
        (1, {"max_picks": 9}, "questions[1].max_picks"),  # more than its 5 choices
        (1, {"min_picks": 3, "max_picks": 2}, "questions[1].max_picks"),
        (1, {"min_picks": -1}, "questions[1].min_picks"),
        (1, {"max_picks": "2"}, "questions[1].max_picks"),
        (2, {"low_label": 5}, "questions[2].low_label"),
        (1, {"high_label": "Nhiều"}, "questions[1].high_label"),  # not a scale
    ],
)
def test_file_refuses_bad_options(network, where, change, place):
    """A bad option is refused with its place; nothing is imported."""
    data = copy.deepcopy(OPTIONS)
    data["questions"][where].update(change)
    with pytest.raises(FileError) as error:
        import_questionnaire(data)
    assert any(p.startswith(place + ":") for p in error.value.problems), error.value.problems
    assert not Questionnaire.select().where(Questionnaire.slug == "options").exists()


def test_file_refuses_other_that_is_not_a_boolean(network):
    """`other` is true or false."""
    data = copy.deepcopy(OPTIONS)
    data["questions"][0]["choices"][1]["other"] = "yes"
    with pytest.raises(FileError) as error:
        import_questionnaire(data)
    assert error.value.problems[0].startswith("questions[0].choices[1].other:")


def test_phone_form_shows_the_options(client, options):
    """The text box of “Khác”, the picks (“Chọn từ 2 đến 3 mục.”) and the scale's end words."""
    page = client.get("/s/options").get_data(as_text=True)
    assert 'name="source.khac"' in page and 'data-other-of="khac"' in page
    assert "Chọn từ 2 đến 3 mục." in page
    assert "1 = Rất không hài lòng" in page and "5 = Rất hài lòng" in page


def test_other_text_is_required_cleaned_and_stored(client, options):
    """Picking “Khác” needs its text (422 otherwise); the text is stored on its answer row."""
    response = send(client, {"source": "khac", "topics": ["a", "b"]})
    assert response.status_code == 422
    assert "Vui lòng ghi rõ câu trả lời cho mục “Khác (ghi rõ)”." in response.get_data(as_text=True)
    response = send(client, {"source": "khac", "source.khac": "x" * 301, "topics": ["a", "b"]})
    assert response.status_code == 422 and Answer.select().count() == 0
    response = send(client, {"source": "khac", "source.khac": "bad\x07", "topics": ["a", "b"]})
    assert response.status_code == 422 and Answer.select().count() == 0
    response = send(client, {"source": "khac", "source.khac": "  Loa phường  ", "topics": "a"})
    assert response.status_code == 422  # one pick where two are the fewest
    assert "Chọn từ 2 đến 3 mục." in response.get_data(as_text=True)
    ok = send(
        client,
        {
            "source": "khac",
            "source.khac": "  Loa phường  ",
            "topics": ["a", "other"],
            "topics.other": "Chợ",
        },
    )
    assert ok.status_code == 303
    rows = {
        (a.question.key, a.choice.key if a.choice_id else None): a.text for a in Answer.select()
    }
    assert rows[("source", "khac")] == "Loa phường" and rows[("topics", "other")] == "Chợ"
    assert rows[("topics", "a")] is None


def test_a_text_without_its_choice_is_dropped(client, options):
    """A text written beside “Khác” but another choice picked is not stored."""
    ok = send(client, {"source": "tv", "source.khac": "nhầm", "topics": ["a", "b"]})
    assert ok.status_code == 303
    assert [a.text for a in Answer.select()] == [None, None, None]


def test_too_many_picks_are_refused_in_english_too(client, options):
    """Four picks where three are the most: refused in the page's language."""
    data = {"source": "tv", "topics": ["a", "b", "c", "d"]}
    response = send(client, data)
    assert response.status_code == 422 and "Chọn từ 2 đến 3 mục." in response.text
    response = client.post(
        "/s/options?lang=en",
        data=dict(data, client_uuid=str(uuid.uuid4()), ward="P1", organisation="MTTQ"),
    )
    assert response.status_code == 422 and "Choose from 2 to 3 answers." in response.text


def test_tallies_count_other_and_list_its_texts(client, options, login):
    """The choice is counted; its texts are listed; exports show label and text."""
    send(client, {"source": "khac", "source.khac": "Loa phường", "topics": ["a", "b"]})
    send(client, {"source": "tv", "topics": ["a", "b", "c"], "score": "5"})
    viewer = login("viewer")
    data = viewer.get("/api/v1/questionnaires/options/tallies").get_json()
    source = data["questions"][0]
    assert [(c["key"], c["count"]) for c in source["choices"]] == [("tv", 1), ("khac", 1)]
    score = data["questions"][2]["choices"]
    assert score[0]["label"] == "1 – Rất không hài lòng" and score[4]["label"] == "5 – Rất hài lòng"
    page = viewer.get("/questionnaires/options/tallies").get_data(as_text=True)
    assert "/questionnaires/options/answers/source" in page
    listed = viewer.get("/questionnaires/options/answers/source").get_data(as_text=True)
    assert "Loa phường" in listed
    rows = list(csv.reader(io.StringIO(viewer.get("/questionnaires/options/export.csv").text)))
    header = rows[0]
    assert "Mức hài lòng (1 = Rất không hài lòng … 5 = Rất hài lòng)" in header
    column = header.index("Bạn biết tin qua đâu?")
    assert sorted(r[column] for r in rows[1:]) == ["Khác (ghi rõ): Loa phường", "Truyền hình"]
    codebook = viewer.get("/questionnaires/options/codebook.csv").text
    assert "Rất không hài lòng" in codebook and "Rất hài lòng" in codebook


def test_other_texts_follow_suppression(client, options, login):
    """With k = 3 a text from a withheld group is not listed, as for a text question."""
    Questionnaire.update(suppress_below=3).where(Questionnaire.id == options.id).execute()
    send(client, {"source": "khac", "source.khac": "Riêng tư", "topics": ["a", "b"]})
    listed = login("viewer").get("/questionnaires/options/answers/source").get_data(as_text=True)
    assert "Riêng tư" not in listed


def add(client, **fields):
    """Post the builder's add-question form to the options questionnaire."""
    return client.post("/questionnaires/options/questions", data=fields)


def test_builder_validates_picks_and_adds_other(options, login):
    """0 ≤ fewest ≤ most ≤ choices, with a clear message; “Khác (ghi rõ)” added on request."""
    client = login("coordinator")
    base = {"kind": "multi", "prompt": "Ưu tiên?", "choices": "Một\nHai"}
    response = add(client, key="p1", min_picks="1", max_picks="3", **base)
    assert response.status_code == 422
    assert "Câu hỏi có 2 lựa chọn: chỉ chọn được nhiều nhất 2 mục." in response.text
    response = add(client, key="p1", min_picks="2", max_picks="1", **base)
    assert response.status_code == 422 and "không được nhỏ hơn" in response.text
    response = add(client, key="p1", min_picks="một", **base)
    assert response.status_code == 422 and "Nhập một số nguyên" in response.text
    assert not Question.select().where(Question.key == "p1").exists()
    response = add(client, key="p1", min_picks="1", max_picks="3", add_other="y", **base)
    assert response.status_code == 302
    question = Question.get(Question.key == "p1")
    assert (question.min_picks, question.max_picks) == (1, 3)
    choices = list(question.ordered_choices())
    assert [(c.label, c.other) for c in choices][-1] == ("Khác (ghi rõ)", True)
    # Hiding a choice would leave 2 where 3 may be picked: refused, with the reason.
    hide = f"/questionnaires/options/questions/p1/choices/{choices[0].key}/hide"
    response = client.post(hide, data={"hidden": "1"})
    assert response.status_code == 422 and "giảm số mục" in response.text


def test_builder_saves_scale_labels_and_toggles_other(options, login):
    """End labels saved on a scale (dropped on other kinds); a choice becomes “other” and back."""
    client = login("coordinator")
    response = add(
        client,
        key="sc",
        kind="scale",
        prompt="Hài lòng?",
        low_label="Rất tệ",
        high_label="Rất tốt",
        min_picks="2",  # hidden on a scale's page: dropped, not refused
    )
    assert response.status_code == 302
    question = Question.get(Question.key == "sc")
    assert (question.low_label, question.high_label, question.min_picks) == (
        "Rất tệ",
        "Rất tốt",
        None,
    )
    # One “other” choice a question: “Khác” becomes plain before “Truyền hình” becomes it.
    khac = "/questionnaires/options/questions/source/choices/khac"
    assert client.post(khac, data={"key": "khac", "label": "Khác (ghi rõ)"}).status_code == 302
    url = "/questionnaires/options/questions/source/choices/tv"
    client.post(url, data={"key": "tv", "label": "Truyền hình", "other": "y"})
    assert Choice.get(Choice.key == "tv").other is True
    page = client.get("/questionnaires/options/questions/source").get_data(as_text=True)
    assert re.search(r'name="other" value="y" checked', page)
    client.post(url, data={"key": "tv", "label": "Truyền hình"})
    assert Choice.get(Choice.key == "tv").other is False


def test_fake_responses_keep_picks_and_write_beside_other(options):
    """`survey fake-responses` answers within the picks and writes a text beside “Khác”."""
    from survey.cli.fake import generate

    assert generate(options, 40, seed=3) == 40
    topics = Question.get(Question.key == "topics")
    counts = {}
    for a in Answer.select().where(Answer.question == topics.id):
        counts[a.response_id] = counts.get(a.response_id, 0) + 1
    assert counts and all(2 <= n <= 3 for n in counts.values())
    written = Answer.select().where(Answer.choice.in_(Choice.select().where(Choice.other)))
    assert written.count() and all(a.text for a in written)
