"""Benchmark the response list (issue #20 item 9): its pages and a void + restore, against bare SQL.

    python bench/responses.py [--responses 100000] [--postgres URL] [--no-sqlite]

Fills a fresh SQLite file (and the PostgreSQL database given, which it empties) with valid
responses to a 10-question questionnaire (`survey fake-responses`' generator), then times, in
turns on the same database, medians of several warm runs: the bare SQL the list's first page
reads (BARE: its tabs' counts, its 25 rows with places and names, their answers), the list's
first page, its 100th page, its first page filtered by ward, a response's own page, voiding
then restoring one response (two POSTs), and the tally API for scale. Each is printed in ms
and as a ratio to the bare SQL. No budget is set for these pages; the figures say what a
100,000-response questionnaire costs.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey import create_app
from survey.cli.fake import generate
from survey.db import database, migrate
from survey.models import Organisation, Response, User, Ward
from survey.questionnaires.file_format import import_questionnaire

RUNS = 7
SLUG = "bench-list"
# What the list's first page reads, as bare SQL: the counts of its two tabs, its 25 rows with
# their places and names, and their answers.
BARE = (
    'SELECT "state", COUNT(*) FROM "response" WHERE "questionnaire_id" = {p} '
    'AND "state" IN (0, 1) GROUP BY "state"',
    'SELECT r."id", r."submitted_at", w."name", o."name", c."name" FROM "response" r '
    'JOIN "ward" w ON w."id" = r."ward_id" JOIN "organisation" o ON o."id" = r."organisation_id" '
    'LEFT JOIN "collaborator" c ON c."id" = r."collaborator_id" '
    'WHERE r."questionnaire_id" = {p} AND r."state" = 0 ORDER BY r."id" DESC LIMIT 25',
    'SELECT "response_id", "question_id", "choice_id", "text", "number" FROM "answer" '
    'WHERE "response_id" IN ({ids})',
)


def spec():
    """Return a 10-question questionnaire: 6 single, 2 multi, a scale and a text."""
    kinds = [("single", "Câu hỏi", 4)] * 6 + [("multi", "Nhiều lựa chọn", 5)] * 2
    questions = [
        {
            "key": f"{kind[0]}{i}",
            "kind": kind,
            "prompt": f"{prompt} {i}",
            "choices": [{"key": f"c{j}", "label": f"Lựa chọn {j}"} for j in range(n)],
        }
        for i, (kind, prompt, n) in enumerate(kinds)
    ]
    questions += [
        {"key": "sc", "kind": "scale", "prompt": "Hài lòng", "min": 1, "max": 5},
        {"key": "t", "kind": "text", "prompt": "Góp ý"},
    ]
    return {
        "slug": SLUG,
        "title": "Danh sách phiếu",
        "status": "open",
        "open_link": True,  # fake responses from nobody, in bulk (survey fake-responses)
        "questions": questions,
    }


def timed(function):
    """Return the seconds one call takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def in_turns(functions):
    """Run each function RUNS times, in turns, after a warm-up; return their median seconds."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(RUNS):
        for name, function in functions.items():
            times[name].append(timed(function))
    return {name: statistics.median(values) for name, values in times.items()}


def ok(response):
    """Check a page answered as it should."""
    assert response.status_code in (200, 302), (response.status_code, response.data[:200])


def run(url, n):
    """Fill the database at url with n responses and print the timings."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context(), database.connection_context():
        if not url.startswith("sqlite"):
            database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        migrate()
        for i, code in enumerate(["P1", "P2", *(f"P{k}" for k in range(4, 16))]):
            Ward.create(code=code, name=f"Phường {i}")
        for code in ("MTTQ", "DOAN", "LDLD", "HLHPN", "HCCB", "BTG"):
            Organisation.create(code=code, name=code)
        questionnaire = import_questionnaire(spec())
        started = time.perf_counter()
        generate(questionnaire, n, seed=1)
        print(f"  filled {n:,} responses in {time.perf_counter() - started:.1f} s")
        from werkzeug.security import generate_password_hash

        User.create(
            username="bench",
            password_hash=generate_password_hash("bench-pass", method="pbkdf2:sha256:1000"),
            role="admin",
        )
        one = Response.select(Response.id).order_by(Response.id).first().id
    client = app.test_client()
    ok(client.post("/login", data={"username": "bench", "password": "bench-pass"}))
    base = f"/questionnaires/{SLUG}/responses"
    placeholder = "?" if url.startswith("sqlite") else "%s"

    def bare():
        """Read a first page's tab counts, rows and answers with bare SQL."""
        with app.app_context(), database.connection_context():
            q = (questionnaire.id,)
            database.execute_sql(BARE[0].format(p=placeholder), q).fetchall()
            rows = database.execute_sql(BARE[1].format(p=placeholder), q).fetchall()
            ids = ", ".join(str(row[0]) for row in rows)
            database.execute_sql(BARE[2].format(ids=ids)).fetchall()

    def void_restore():
        """Void the first response and restore it through the app."""
        ok(client.post(f"{base}/{one}/void", data={"reason": "bench"}))
        ok(client.post(f"{base}/{one}/restore"))

    medians = in_turns(
        {
            "bare SQL of a page": bare,
            "list, page 1": lambda: ok(client.get(base)),
            "list, page 100": lambda: ok(client.get(base + "?page=100")),
            "list, page 1, one ward": lambda: ok(client.get(base + "?ward=P4")),
            "a response's page": lambda: ok(client.get(f"{base}/{one}")),
            "void + restore": void_restore,
            "tally API (for scale)": lambda: ok(
                client.get(f"/api/v1/questionnaires/{SLUG}/tallies")
            ),
        }
    )
    floor = medians["bare SQL of a page"]
    for name, seconds in medians.items():
        print(f"  {name:26} {seconds * 1000:8.1f} ms   {seconds / floor:7.1f}× bare")
    database.obj.close_all()


def main():
    """Parse the arguments and run on SQLite and/or PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite")
            run(f"sqlite:///{folder}/bench.sqlite3", args.responses)
    if args.postgres:
        print("PostgreSQL")
        run(args.postgres, args.responses)


if __name__ == "__main__":
    main()
