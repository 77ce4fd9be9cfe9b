"""Tallies: exact counts of every kind, filters, breakdowns, suppression and the tally pages.

The data is TALLY_ROWS in tests/helpers.py (six responses); the counts below are counted by hand:
  agree  yes 4 (r1 r3 r4 r6), no 2 (r2 r5)         why    answered 2 (r2 r5)
  topics roads 3 (r1 r2 r5), parks 3 (r1 r5 r6), safety 2 (r3 r5); answered 5 (not r4)
  score  5:2 4:1 3:1 2:0 1:1, answered 5, mean 18/5  age 30 45 22 60 19: mean 35.2
  note answered 2, day answered 1; P1 = r1 r2 r3, P2 = r4 r5 r6; MTTQ = r1 r2 r4, DOAN = r3 r5 r6
"""

import datetime

import pytest

from survey.models import Answer, Organisation, Questionnaire, Ward
from survey.tallies.counting import FilterError, Filters, parse_filters, suppressed_cells, tally
from tests.helpers import store_answers


def counts(t, key):
    """Return {choice key: count} of a question of a tally."""
    qt = next(q for q in t.questions if q.key == key)
    return {c.key: c.count for c in qt.columns}


def question(t, key):
    """Return a question's tally."""
    return next(q for q in t.questions if q.key == key)


def by(t, key):
    """Return {group code: {choice key: count}} of a question's breakdown."""
    qt = question(t, key)
    return {row.code: dict(zip([c.key for c in qt.columns], row.counts)) for row in qt.rows}


def test_every_kind_counted_exactly(app, tally_sample):
    """Counts, answered, skipped and means match the hand count."""
    with app.test_request_context():
        t = tally(tally_sample)
    assert t.responses == 6
    assert counts(t, "agree") == {"yes": 4, "no": 2}
    assert counts(t, "topics") == {"roads": 3, "parks": 3, "safety": 2}
    assert counts(t, "score") == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 2}
    # "why" shows only after agree = no (r2 r5): the other four were never asked it.
    assert [
        (q.key, q.answered, q.skipped, q.not_asked) for q in t.questions if q.kind != "section"
    ] == [
        ("agree", 6, 0, 0),
        ("why", 2, 0, 4),
        ("topics", 5, 1, 0),
        ("score", 5, 1, 0),
        ("age", 5, 1, 0),
        ("note", 2, 4, 0),
        ("day", 1, 5, 0),
    ]
    assert question(t, "score").mean == pytest.approx(3.6)
    assert question(t, "age").mean == pytest.approx(35.2)
    # age 0..120 in half-open ranges of 20, the last one closed at 120: 19 | 22 30 | 45 | 60
    assert [(c.label, c.count) for c in question(t, "age").columns] == [
        ("[0; 20)", 1),
        ("[20; 40)", 2),
        ("[40; 60)", 1),
        ("[60; 80)", 1),
        ("[80; 100)", 0),
        ("[100; 120]", 0),
    ]
    assert question(t, "agree").columns[0].percent == pytest.approx(400 / 6)
    assert question(t, "topics").columns[2].percent == pytest.approx(40.0)  # 2 of 5 answering
    assert t.cross == {("P1", "MTTQ"): 2, ("P1", "DOAN"): 1, ("P2", "MTTQ"): 1, ("P2", "DOAN"): 2}
    assert t.ward_totals == {"P1": 3, "P2": 3} and t.organisation_totals == {"MTTQ": 3, "DOAN": 3}


def test_filters_by_ward_organisation_and_local_dates(app, tally_sample):
    """Each filter narrows the counts; dates are whole days in SURVEY_TIMEZONE."""
    with app.test_request_context():
        t = tally(tally_sample, parse_filters({"ward": "P2"}))
        assert t.responses == 3 and counts(t, "agree") == {"yes": 2, "no": 1}
        assert counts(t, "topics") == {"roads": 1, "parks": 2, "safety": 1}
        t = tally(tally_sample, parse_filters({"organisation": "DOAN"}))
        assert t.responses == 3 and counts(t, "topics") == {"roads": 1, "parks": 2, "safety": 2}
        assert question(t, "score").mean == pytest.approx(3.0)
        # r5 at 23:30 on 2 July local is in "to 2 July"; r6 at 00:30 on 3 July (still 2 July in
        # UTC) is not.
        t = tally(tally_sample, parse_filters({"from": "2025-07-02", "to": "2025-07-02"}))
        assert t.responses == 3 and counts(t, "agree") == {"yes": 2, "no": 1}
        t = tally(tally_sample, parse_filters({"to": "2025-07-01"}))
        assert t.responses == 2 and counts(t, "agree") == {"yes": 1, "no": 1}
        t = tally(
            tally_sample,
            parse_filters({"from": "2025-07-03", "ward": "P2", "organisation": "DOAN"}),
        )
        assert t.responses == 1 and counts(t, "topics") == {"roads": 0, "parks": 1, "safety": 0}


def test_breakdowns_list_every_group_and_choice(app, tally_sample):
    """A breakdown gives every group a row with every choice, zeros included."""
    with app.test_request_context():
        t = tally(tally_sample, parse_filters({"by": "ward"}))
        assert by(t, "agree") == {"P1": {"yes": 2, "no": 1}, "P2": {"yes": 2, "no": 1}}
        assert by(t, "topics") == {
            "P1": {"roads": 2, "parks": 1, "safety": 1},
            "P2": {"roads": 1, "parks": 2, "safety": 1},
        }
        t = tally(tally_sample, parse_filters({"by": "organisation"}))
        assert by(t, "topics")["MTTQ"] == {"roads": 2, "parks": 1, "safety": 0}
        assert by(t, "score") == {
            "DOAN": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1},
            "MTTQ": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
        }
        assert {r.code: r.answered for r in question(t, "topics").rows} == {"DOAN": 3, "MTTQ": 2}
        assert question(t, "topics").rows[0].percents[2] == pytest.approx(200 / 3)  # DOAN safety
        # A breakdown leaves the overall counts as they are.
        assert counts(t, "agree") == {"yes": 4, "no": 2}


def test_bad_filters_are_refused(app, network):
    """Unknown codes, a bad breakdown, bad or reversed dates raise FilterError with a message."""
    with app.test_request_context():
        for args in (
            {"ward": "NOPE"},
            {"organisation": "NOPE"},
            {"by": "collaborator"},
            {"from": "2025-13-01"},
            {"from": "2025-07-02", "to": "2025-07-01"},
        ):
            with pytest.raises(FilterError) as caught:
                parse_filters(args)
            assert str(caught.value)
        doan = Organisation.get(code="DOAN")
        mttq = Organisation.get(code="MTTQ")
        with pytest.raises(FilterError):
            parse_filters({"organisation": "DOAN"}, scope=mttq.id)
        assert parse_filters({"organisation": "DOAN"}, scope=doan.id).organisation == doan


def test_scope_limits_every_figure(app, tally_sample):
    """A viewer scoped to MTTQ counts MTTQ's responses only, and sees only MTTQ as a group."""
    with app.test_request_context():
        mttq = Organisation.get(code="MTTQ")
        t = tally(tally_sample, parse_filters({"by": "organisation"}, scope=mttq.id))
    assert t.responses == 3 and counts(t, "agree") == {"yes": 2, "no": 1}
    assert [o.code for o in t.organisations] == ["MTTQ"]
    assert list(by(t, "agree")) == ["MTTQ"]
    assert t.cross == {("P1", "MTTQ"): 2, ("P2", "MTTQ"): 1}


def test_suppression_rule_on_lines():
    """Small counts go, then one more in any sum that would give one away; zero stays."""
    cells = {"t": 12, "a": 2, "b": 10, "c": 0}
    assert suppressed_cells(cells, [("t", ["a", "b", "c"])], 3) == {"a", "b"}
    assert suppressed_cells(cells, [("t", ["a", "b", "c"])], 1) == set()
    cells = {"t": 13, "a": 1, "b": 2, "c": 10}
    assert suppressed_cells(cells, [("t", ["a", "b", "c"])], 3) == {"a", "b"}
    # A total withheld while its parts are shown would be their sum: a part goes too.
    cells = {"t": 2, "a": 0, "b": 5, "u": 7, "v": 9, "w": 2}
    hidden = suppressed_cells(cells, [("u", ["t", "b"]), ("v", ["u", "w"])], 3)
    assert {"t", "w"} <= hidden and "a" not in hidden


def test_suppression_in_tallies(app, tally_sample):
    """With k = 3: 1–2 withheld, complementary cells too, percentages and means withheld, 0 kept."""
    Questionnaire.update(suppress_below=3).where(Questionnaire.id == tally_sample.id).execute()
    with app.test_request_context():
        q = Questionnaire.get_by_id(tally_sample.id)
        t = tally(q)
        assert t.responses == 6
        assert counts(t, "agree") == {"yes": None, "no": None}  # no = 2, so yes = 6 - 2 goes too
        assert question(t, "agree").answered == 6
        assert counts(t, "topics") == {"roads": 3, "parks": 3, "safety": None}  # multi: no sum
        assert counts(t, "score") == {"1": None, "2": 0, "3": None, "4": None, "5": None}
        assert question(t, "score").mean is None
        assert all(c.percent is None for c in question(t, "agree").columns)
        why = question(t, "why")  # answered 2 withheld, so not asked 4 (6 - 2 - 0) goes too
        assert (why.answered, why.skipped, why.not_asked) == (None, 0, None)
        assert set(t.cross.values()) == {None} and t.ward_totals == {"P1": 3, "P2": 3}
        bw = tally(q, parse_filters({"by": "ward"}))
        assert by(bw, "topics")["P1"] == {"roads": None, "parks": None, "safety": None}
        assert by(bw, "agree") == {"P1": {"yes": None, "no": None}, "P2": {"yes": None, "no": None}}
        api = bw.api()
        assert api["questions"][0]["by"]["P1"] == {"yes": None, "no": None}


def test_hidden_choices_and_questions_keep_their_counts(app, tally_sample):
    """A hidden choice or question still shows its counts, marked hidden."""
    from survey.models import Choice, Question

    Choice.update(hidden=True).where(Choice.key == "safety").execute()
    Question.update(hidden=True).where(Question.key == "age").execute()
    with app.test_request_context():
        t = tally(Questionnaire.get_by_id(tally_sample.id))
    safety = question(t, "topics").columns[2]
    assert (safety.key, safety.hidden, safety.count) == ("safety", True, 2)
    assert question(t, "age").question.hidden and question(t, "age").answered == 5


@pytest.mark.parametrize("running", [True, False])
def test_tallies_are_group_by_queries(app, tally_sample, running):
    """The whole questionnaire is counted in a few queries, whatever the number of answers.

    From the running counts (migration 0015) nothing reads `answer`; without them, one
    GROUP BY over the answers counts every question.
    """
    from survey.db import database

    executed = []
    original = database.obj.execute_sql

    def spy(sql, params=None, *args, **kwargs):
        """Record each statement."""
        executed.append(sql)
        return original(sql, params, *args, **kwargs)

    app.config["RUNNING_TALLIES"] = running
    database.obj.execute_sql = spy
    try:
        with app.test_request_context():
            tally(tally_sample, Filters(by="ward"))
    finally:
        database.obj.execute_sql = original
    on_answers = [s for s in executed if 'FROM "answer"' in s]
    on_counts = [s for s in executed if 'FROM "tally_answer"' in s]
    if running:
        assert on_answers == [] and len(on_counts) == 1
    else:
        assert len(on_answers) == 1 and "GROUP BY" in on_answers[0] and on_counts == []
    assert len(executed) <= 12


# ------------------------------------------------------------------ pages


def test_tally_page_shows_counts_bars_and_breakdown(app, tally_sample, login):
    """The page lists every question with counts, bars, the cross table and the breakdown."""
    client = login("viewer")
    page = client.get("/questionnaires/sample/tallies?by=organisation")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-k="c|agree|yes">4<' in html and 'data-k="c|topics|safety">2<' in html
    assert 'data-k="x|P1|MTTQ">2<' in html and 'data-k="xt">6<' in html
    assert 'data-k="g|topics|MTTQ|safety">0 ' in html
    assert html.count('class="bar"') >= 10 and "tallies.js" in html
    assert 'width="66.7"' in html  # 4 of 6 said yes
    assert "Bạn có đồng ý?" in html and ">3,6<" in html  # the mean, written the Vietnamese way
    assert "66,7 %" in html and "66.7%" not in html


def test_tally_page_escapes_text_and_lists_answers(app, tally_sample, login):
    """Free-text answers are listed escaped, searchable and paged."""
    client = login("viewer")
    page = client.get("/questionnaires/sample/answers/why")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "Ồn ào quá" in html
    found = client.get("/questionnaires/sample/answers/why?q=%E1%BB%92n").get_data(as_text=True)
    assert "Ồn ào quá" in found and "alert(1)" not in found
    assert client.get("/questionnaires/sample/answers/agree").status_code == 404
    assert client.get("/questionnaires/sample/answers/why?page=9").status_code == 200


def test_answers_list_paginates(app, tally_sample, login):
    """More than a page of answers is split into pages."""
    with app.test_request_context():
        for i in range(30):
            store_answers(
                tally_sample,
                Ward.get(code="P1"),
                Organisation.get(code="MTTQ"),
                {"agree": "yes", "note": f"Ý kiến số {i}"},
            )
    client = login("viewer")
    first = client.get("/questionnaires/sample/answers/note").get_data(as_text=True)
    second = client.get("/questionnaires/sample/answers/note?page=2").get_data(as_text=True)
    assert "Ý kiến số 29" in first and "Ý kiến số 0<" not in first
    assert "Ý kiến số 0<" in second and "Ý kiến số 29" not in second


def test_page_filters_and_bad_filters(app, tally_sample, login):
    """Filters narrow the page; an unknown code or a bad date is a 400 with a message."""
    client = login("viewer")
    html = client.get("/questionnaires/sample/tallies?ward=P2&from=2025-07-02").get_data(
        as_text=True
    )
    assert 'data-k="responses">3<' in html
    for query in ("ward=XX", "organisation=XX", "by=age", "from=02/07/2025"):
        page = client.get(f"/questionnaires/sample/tallies?{query}&lang=en")
        assert page.status_code == 400
        assert b"ward" in page.data or b"organisation" in page.data or b"date" in page.data
    assert client.get("/questionnaires/nope/tallies").status_code == 404


def test_pages_need_login(client, tally_sample):
    """An anonymous visitor is sent to the login page."""
    for url in (
        "/questionnaires/sample/tallies",
        "/questionnaires/sample/report",
        "/questionnaires/sample/tallies/live",
        "/questionnaires/sample/answers/why",
    ):
        page = client.get(url)
        assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_scoped_coordinator_page_shows_only_their_organisation(app, tally_sample, login):
    """A coordinator of MTTQ sees MTTQ's counts only, and may not ask for DOAN."""
    client = login("coordinator", Organisation.get(code="MTTQ"))
    html = client.get("/questionnaires/sample/tallies?by=organisation").get_data(as_text=True)
    assert 'data-k="responses">3<' in html and "DOAN" not in html
    assert 'data-k="c|agree|yes">2<' in html
    assert client.get("/questionnaires/sample/tallies?organisation=DOAN").status_code == 400
    listed = client.get("/questionnaires/sample/answers/why").get_data(as_text=True)
    assert "Ồn ào quá" in listed and "alert(1)" not in listed  # r5 is DOAN's


def test_suppressed_page_says_the_rule(app, tally_sample, login):
    """With k = 3 the page states the rule and shows small counts as "< 3", zero as 0."""
    Questionnaire.update(suppress_below=3).where(Questionnaire.id == tally_sample.id).execute()
    client = login("viewer")
    html = client.get("/questionnaires/sample/tallies?lang=en").get_data(as_text=True)
    assert "counts from 1 to 2" in html
    assert 'data-k="c|agree|no">&lt;&nbsp;3<' in html and 'data-k="c|score|2">0<' in html
    filtered = client.get("/questionnaires/sample/answers/why?ward=P2&organisation=DOAN&lang=en")
    assert "alert(1)" not in filtered.get_data(as_text=True)  # 2 responses: fewer than 3
    assert "not shown" in filtered.get_data(as_text=True)


def test_live_partial_and_report(app, tally_sample, login):
    """The refresh partial carries only the figures; the report has title, filters and tables."""
    client = login("viewer")
    live = client.get("/questionnaires/sample/tallies/live?ward=P1").get_data(as_text=True)
    assert live.lstrip().startswith('<div id="tally-body">') or 'id="tally-body"' in live
    assert "<html" not in live and 'data-k="responses">3<' in live
    report = client.get("/questionnaires/sample/report?organisation=DOAN&lang=en")
    html = report.get_data(as_text=True)
    assert report.status_code == 200 and "Ý kiến về chỉnh trang đô thị" in html
    # Counted once, in section I's rates (by name): not again in the tally page's own block.
    assert '<th scope="row">Đoàn Thanh niên</th><td class="num">3</td>' in html
    assert 'data-k="responses"' not in html and "<abbr" not in html


def test_numbers_outside_bounds_and_empty_questionnaire(app, network, login):
    """A questionnaire with no responses tallies zeros; unbounded numbers get ranges from data."""
    from survey.questionnaires.file_format import import_questionnaire

    q = import_questionnaire(
        {
            "slug": "empty",
            "title": "Trống",
            "status": "open",
            "questions": [
                {"key": "n", "kind": "number", "prompt": "Số"},
                {
                    "key": "c",
                    "kind": "single",
                    "prompt": "Chọn",
                    "choices": [{"key": "a", "label": "A"}],
                },
            ],
        }
    )
    with app.test_request_context():
        t = tally(q, Filters(by="ward"))
        assert t.responses == 0 and counts(t, "c") == {"a": 0}
        assert question(t, "n").mean is None and question(t, "n").answered == 0
        for value in ("-3.5", "7", "1200"):
            store_answers(q, network["wards"][0], network["organisations"][0], {"n": value})
        t = tally(q)
        n = question(t, "n")
        assert n.answered == 3 and n.mean == pytest.approx(1203.5 / 3)
        assert sum(c.count for c in n.columns) == 3
    assert login("viewer").get("/questionnaires/empty/tallies").status_code == 200


def test_answer_copies_make_breakdowns_joinless(app, tally_sample):
    """Every answer row carries its response's ward, organisation and time (for the GROUP BYs)."""
    rows = Answer.select().where(Answer.questionnaire == tally_sample.id)
    assert all(
        a.ward_id == a.response.ward_id and a.submitted_at == a.response.submitted_at for a in rows
    )
    assert isinstance(rows[0].submitted_at, datetime.datetime)
