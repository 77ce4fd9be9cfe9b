"""Exports at scale: large exports as jobs in a process of their own, the stream cap, sheets
split past Excel's last row, counted responses only, and chunk queries read along an index."""

import csv
import datetime
import io

import openpyxl
import pytest

from survey.db import database, is_sqlite
from survey.models import (
    Answer,
    AuditEvent,
    ExportJob,
    Organisation,
    Response,
    SetAsideAnswer,
    utcnow,
)
from survey.tallies import exports, jobs
from survey.tallies.counting import Filters
from tests.helpers import wait_until


def audits(action):
    """Return how many audit entries of an action there are."""
    return AuditEvent.select().where(AuditEvent.action == action).count()


def job_of(response):
    """Return the job a 303 answer points at, after checking where it points."""
    assert response.status_code == 303, response.status_code
    location = response.headers["Location"]
    assert "/questionnaires/sample/exports/" in location
    return ExportJob.get(ExportJob.token == location.rsplit("/", 1)[1]), location


def finished(client, location):
    """Poll a job's JSON until it is no longer running; return the last answer."""
    seen = []

    def done():
        """Read the job's state once."""
        answer = client.get(location, headers={"Accept": "application/json"}).get_json()
        seen.append(answer)
        return answer["state"] != "running"

    assert wait_until(done, timeout=60), seen[-1]
    return seen


def csv_rows(data):
    """Return the rows of CSV bytes (BOM checked)."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def sheet_values(data):
    """Return {sheet name: rows of values} of XLSX bytes."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def test_large_xlsx_is_a_job_with_progress_and_the_same_file(app, tally_sample, login):
    """Past EXPORT_INLINE_ROWS the XLSX is made by a job: 303, JSON progress, then a download
    link giving the workbook the request would have given; creation and download audited."""
    client = login("viewer")
    inline = sheet_values(client.get("/questionnaires/sample/export.xlsx?codes=1").get_data())
    app.config["EXPORT_INLINE_ROWS"] = 5  # the sample has six responses
    job, location = job_of(client.get("/questionnaires/sample/export.xlsx?codes=1"))
    assert job.kind == "xlsx" and audits("export_job.create") == 1
    seen = finished(client, location)
    last = seen[-1]
    assert last["state"] == "done" and last["progress"] == 1.0
    assert all(0 <= s["progress"] <= 1 for s in seen)
    assert all(s["download"] is None for s in seen[:-1])
    page = client.get(location)
    assert page.status_code == 200 and last["download"] in page.text
    before = audits("responses.export")
    download = client.get(last["download"])
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="sample-codes.xlsx"'
    assert sheet_values(download.get_data()) == inline
    assert audits("responses.export") == before + 1
    # The link stays: a second download works (a restart keeps the file and the row).
    assert sheet_values(client.get(last["download"]).get_data()) == inline


def test_job_keeps_scope_filters_and_language(app, tally_sample, login):
    """A DOAN coordinator's job in English with a ward filter: DOAN's P2 rows, English headers."""
    app.config["EXPORT_INLINE_ROWS"] = 0
    client = login("coordinator", Organisation.get(code="DOAN"))
    client.get("/questionnaires/sample/tallies?lang=en")
    _job, location = job_of(client.get("/questionnaires/sample/export.xlsx?ward=P2"))
    last = finished(client, location)[-1]
    assert last["state"] == "done"
    sheets = sheet_values(client.get(last["download"]).get_data())
    assert list(sheets) == ["Answers", "Codebook"]
    rows = sheets["Answers"]
    assert rows[0][:4] == ("Response no.", "Submitted at", "Ward", "Organisation")
    assert len(rows) == 3 and {r[2:4] for r in rows[1:]} == {("Phường 2", "Đoàn Thanh niên")}


def test_a_job_is_404_to_anyone_else(app, tally_sample, login, client):
    """Another viewer, another questionnaire's address or a made-up token: 404, never the file."""
    app.config["EXPORT_INLINE_ROWS"] = 0
    owner = login("viewer")
    _job, location = job_of(owner.get("/questionnaires/sample/export.xlsx"))
    link = finished(owner, location)[-1]["download"]
    owner.post("/logout")
    other = login("viewer", username="someone-else")
    for url in (location, link, location[:-3] + "xyz"):
        assert other.get(url).status_code == 404
    assert other.get(location.replace("/sample/", "/nope/")).status_code == 404


def test_csv_past_the_stream_cap_becomes_a_job_with_the_same_file(app, tally_sample, login):
    """While EXPORT_STREAMS exports stream, another CSV export is a job giving the same bytes."""
    client = login("viewer")
    streamed = client.get("/questionnaires/sample/export.csv").get_data()
    with app.test_request_context():
        held = jobs.stream_slot()
        assert held is not None
    try:
        job, location = job_of(client.get("/questionnaires/sample/export.csv"))
    finally:
        held.close()
    assert job.kind == "csv"
    last = finished(client, location)[-1]
    assert last["state"] == "done"
    download = client.get(last["download"])
    assert download.mimetype == "text/csv"
    assert download.get_data() == streamed
    # The slot was given back: the next export streams again.
    assert client.get("/questionnaires/sample/export.csv").status_code == 200


def test_a_job_that_stopped_beating_or_lost_its_file_has_failed(app, tally_sample, login):
    """A running job with no progress for STALE seconds, or a done one whose file is gone."""
    app.config["EXPORT_INLINE_ROWS"] = 0
    client = login("viewer")
    job, location = job_of(client.get("/questionnaires/sample/export.xlsx"))
    last = finished(client, location)[-1]
    job = ExportJob.get_by_id(job.id)
    assert last["state"] == "done" and job.file.startswith(app.instance_path)
    old = utcnow() - datetime.timedelta(seconds=jobs.STALE + 5)
    ExportJob.update(state=jobs.RUNNING, updated_at=old).where(ExportJob.id == job.id).execute()
    answer = client.get(location, headers={"Accept": "application/json"}).get_json()
    assert (answer["state"], answer["download"]) == ("failed", None)
    ExportJob.update(state=jobs.DONE).where(ExportJob.id == job.id).execute()
    assert client.get(last["download"]).status_code == 200
    ExportJob.update(file=job.file + ".gone").where(ExportJob.id == job.id).execute()
    assert client.get(location, headers={"Accept": "application/json"}).get_json()["state"] == (
        "failed"
    )
    assert client.get(last["download"]).status_code == 404


def test_responses_not_counted_are_never_exported(app, tally_sample, login):
    """A voided and a test response appear in no export, CSV or XLSX, inline or as a job."""
    first, second = Response.select().order_by(Response.id)[:2]
    for response, state in ((first, Response.VOIDED), (second, Response.TEST)):
        for answer in Answer.select().where(Answer.response == response.id):
            SetAsideAnswer.create(
                response=response.id,
                question_id=answer.question_id,
                choice_id=answer.choice_id,
                text=answer.text,
                number=answer.number,
                questionnaire_id=answer.questionnaire_id,
                ward_id=answer.ward_id,
                organisation_id=answer.organisation_id,
                submitted_at=answer.submitted_at,
                first_row=answer.first_row,
            )
        Answer.delete().where(Answer.response == response.id).execute()
        Response.update(state=state).where(Response.id == response.id).execute()
    client = login("viewer")
    rows = csv_rows(client.get("/questionnaires/sample/export.csv?codes=1").get_data())
    ids = {int(r[0]) for r in rows[1:]}
    assert len(rows) == 5 and not ids & {first.id, second.id}
    sheets = sheet_values(client.get("/questionnaires/sample/export.xlsx?codes=1").get_data())
    assert {r[0] for r in sheets["sample"][1:]} == ids
    app.config["EXPORT_INLINE_ROWS"] = 0
    _job, location = job_of(client.get("/questionnaires/sample/export.xlsx?codes=1"))
    last = finished(client, location)[-1]
    sheets = sheet_values(client.get(last["download"]).get_data())
    assert {r[0] for r in sheets["sample"][1:]} == ids


def test_xlsx_past_the_last_row_goes_on_in_another_sheet(app, tally_sample, monkeypatch, tmp_path):
    """With sheets of 3 rows, six responses fill "Answers", "Answers (2)" and "Answers (3)",
    each under the same header, every row once and in order."""
    monkeypatch.setattr(exports, "MAX_ROWS", 3)
    with app.test_request_context():
        questionnaire = tally_sample
        rows = list(exports.response_rows(questionnaire, Filters(), codes=True))
        path = str(tmp_path / "split.xlsx")
        exports.write_xlsx(path, [exports.Sheet("Answers", iter(rows))])
    with open(path, "rb") as handle:
        sheets = sheet_values(handle.read())
    assert list(sheets) == ["Answers", "Answers (2)", "Answers (3)"]
    assert all(part[0] == tuple(rows[0]) for part in sheets.values())
    body = [r for part in sheets.values() for r in part[1:]]
    assert [r[0] for r in body] == [r[0] for r in rows[1:]]
    # Exactly full: no empty sheet after the last.
    with app.test_request_context():
        exports.write_xlsx(path, [exports.Sheet("Answers", iter(rows[:5]))])
    with open(path, "rb") as handle:
        assert list(sheet_values(handle.read())) == ["Answers", "Answers (2)"]


@pytest.mark.parametrize("anonymous", [False, True])
def test_chunk_queries_read_along_an_index_without_sorting(app, tally_sample, anonymous):
    """Every chunk query of an export is a range read of an index in its order (no sort of the
    questionnaire's rows per chunk), with a ward filter too; with statistics or without."""
    from survey.cli import fake

    if anonymous:
        index, order, allowed = "response_client_uuid", "client_uuid", ("response_client_uuid",)
    else:  # PostgreSQL may read the primary key forward instead: linear too
        index, order = exports.EXPORT_INDEX, "id"
        allowed = (index,) if is_sqlite() else (index, "response_pkey")
    explain = "EXPLAIN QUERY PLAN " if is_sqlite() else "EXPLAIN "
    # PostgreSQL plans six rows as it likes (a sort of six is nothing): only SQLite is asked
    # before there are rows enough and statistics.
    for analysed in (False, True) if is_sqlite() else (True,):
        if analysed:
            fake.generate(tally_sample, 5000, seed=3)
        sql, params = (
            Response.select(Response.id)
            .where(
                Response.questionnaire == tally_sample.id,
                Response.state == Response.COUNTED,
                getattr(Response, order) > ("" if anonymous else 0),
                Response.ward == 1,
            )
            .order_by(getattr(Response, order))
            .limit(exports.CHUNK)
            .sql()
        )
        rows = database.execute_sql(explain + exports.indexed(sql, index), params)
        plan = " ".join(str(row) for row in rows)
        assert any(f"{name}" in plan for name in allowed), plan
        assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan


def test_bulk_load_and_first_request_refresh_statistics(app, tally_sample, login):
    """SQLite: the first request of a process on a database, and fake responses, analyse it."""
    if not is_sqlite():
        pytest.skip("SQLite's own statistics table")
    from survey.cli import fake

    def analysed():
        """Tell whether sqlite_stat1 holds a row about the response table."""
        if not database.execute_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone():
            return False
        return (
            database.execute_sql("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'response'").fetchone()
            is not None
        )

    assert not analysed()
    login("viewer").get("/questionnaires/sample/tallies")
    assert analysed()
    database.execute_sql("DELETE FROM sqlite_stat1")
    fake.generate(tally_sample, 10, seed=1)
    assert analysed()


def test_running_job_page_shows_a_progress_bar_and_follows_itself(app, tally_sample, login):
    """While running: a progress bar at the job's progress, a refresh, and no download link."""
    from survey.models import User

    client = login("viewer")
    now = utcnow()
    job = ExportJob.create(
        user=User.get(User.username == "viewer-all").id,
        questionnaire=tally_sample.id,
        token="t" * 32,
        kind="xlsx",
        params="{}",
        state=jobs.RUNNING,
        progress=0.25,
        rows=10,
        file="",
        error="",
        created_at=now,
        updated_at=now,
    )
    page = client.get(f"/questionnaires/sample/exports/{job.token}")
    assert page.status_code == 200
    assert '<progress value="0.250" max="1"' in page.text and 'http-equiv="refresh"' in page.text
    assert "/file" not in page.text and "25 %" in page.text
    answer = client.get(
        f"/questionnaires/sample/exports/{job.token}", headers={"Accept": "application/json"}
    ).get_json()
    assert answer == {"state": "running", "progress": 0.25, "download": None}
    assert client.get(f"/questionnaires/sample/exports/{job.token}/file").status_code == 404


def test_csv_too_long_to_stream_is_a_job(app, tally_sample, login):
    """A CSV export of more than EXPORT_STREAM_ROWS responses is prepared as a job."""
    client = login("viewer")
    app.config["EXPORT_STREAM_ROWS"] = 6
    assert client.get("/questionnaires/sample/export.csv").status_code == 200
    app.config["EXPORT_STREAM_ROWS"] = 5
    job, location = job_of(client.get("/questionnaires/sample/export.csv?codes=1"))
    assert job.kind == "csv"
    last = finished(client, location)[-1]
    download = client.get(last["download"])
    assert download.headers["Content-Disposition"] == 'attachment; filename="sample-codes.csv"'
    assert len(csv_rows(download.get_data())) == 7
