"""Benchmark the tallies: responses × 20 questions, each request against a bare GROUP BY and DuckDB.

    python bench/tallies.py [--responses 100000] [--sqlite PATH] [--postgres URL] [--no-sqlite]
                            [--no-duckdb] [--export]
    python bench/tallies.py --submit N [--postgres URL]

Fills a fresh SQLite file (and the PostgreSQL database given, which it empties) with valid
responses by bulk insert (SQLite: the running tallies' triggers fire on every row; PostgreSQL:
triggers off for the load, a superuser's setting), counts the running tallies from every
answer (`survey rebuild-tallies`, the work migration 0015 does on an existing database; timed),
then prints, on the same database in the same run: three bare GROUP BYs over the answers
(BARE_QUERIES, the first the plain
`SELECT question_id, choice_id, COUNT(*) FROM answer WHERE questionnaire_id=? GROUP BY 1,2`),
and for each request of the tally API (REQUESTS: no filter, by ward, by organisation, a 30-day
range; tally() and its JSON document) its time read from the running tallies and counted from
the answers (RUNNING_TALLIES off, the method before 0015), against the fastest bare GROUP BY and
against DuckDB running the same request's GROUP BY over a copy of the same answers (DUCK_QUERIES;
`pip install -e '.[bench]'`; --no-duckdb to leave it out). Medians of several warm runs, all in
turns. With --export, the streamed CSV export's time and peak Python memory. With --submit N
instead: the phone form's store (submit.store) of N checked fake forms a turn, with the running
tallies' triggers and without them (migration 0015's drop_triggers/create_triggers), in turns.
Budgets (DESIGN.md, issue 21): a tally within 2× the bare query and under a second; at 1M
responses each request at or under DuckDB's time.
"""

import argparse
import datetime
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey import create_app
from survey.cli import fake
from survey.db import MIGRATIONS_DIR, database, is_sqlite, migrate
from survey.i18n import to_utc
from survey.models import (
    Organisation,
    Question,
    Response,
    TallyAnswer,
    TallyAnswerDay,
    User,
    Ward,
)
from survey.questionnaires.file_format import import_questionnaire
from survey.respond import submit
from survey.respond.rules import Schema, check_answers
from survey.tallies import aggregates
from survey.tallies.counting import Filters, tally
from survey.tallies.exports import csv_stream, response_rows

WARDS = ["P1", "P2"] + [f"P{n}" for n in range(4, 16)]
ORGANISATIONS = ["MTTQ", "DOAN", "LDLD", "HLHPN", "HCCB", "BTG"]
BATCH = 2000
RUNS = 7


def questionnaire_spec():
    """Return a 20-question questionnaire: 12 single, 3 multi, 2 scale, 1 number, 2 text."""
    questions = []
    for i in range(12):
        questions.append(
            {
                "key": f"s{i}",
                "kind": "single",
                "prompt": f"Câu hỏi {i}",
                "choices": [{"key": f"c{j}", "label": f"Lựa chọn {j}"} for j in range(3 + i % 3)],
            }
        )
    for i in range(3):
        questions.append(
            {
                "key": f"m{i}",
                "kind": "multi",
                "prompt": f"Nhiều lựa chọn {i}",
                "choices": [{"key": f"c{j}", "label": f"Mục {j}"} for j in range(5)],
            }
        )
    questions += [
        {"key": "sc0", "kind": "scale", "prompt": "Hài lòng", "min": 1, "max": 5},
        {"key": "sc1", "kind": "scale", "prompt": "Tin tưởng", "min": 1, "max": 10},
        {"key": "age", "kind": "number", "prompt": "Tuổi", "min": 16, "max": 100},
        {"key": "t0", "kind": "text", "prompt": "Góp ý"},
        {"key": "t1", "kind": "longtext", "prompt": "Ý kiến khác"},
    ]
    return {
        "slug": "bench",
        "title": "Đo hiệu năng",
        "status": "open",
        # Not anonymous: an anonymous questionnaire still open publishes in batches, whose cut
        # is a moment read from every response (counted from the answers, as before 0015).
        "anonymous": False,
        "per_collaborator": "many",
        "open_link": True,  # fake responses from nobody, in bulk (survey fake-responses)
        "questions": questions,
    }


RESPONSE_COLUMNS = [
    "id",
    "questionnaire_id",
    "ward_id",
    "organisation_id",
    "collaborator_id",
    "submitted_at",
    "client_uuid",
]
ANSWER_COLUMNS = [
    "response_id",
    "question_id",
    "choice_id",
    "text",
    "number",
    "first_row",
    "questionnaire_id",
    "ward_id",
    "organisation_id",
    "submitted_at",
]


def insert_rows(table, columns, rows):
    """Insert rows in bulk with the driver's own batch call (a benchmark fixture, not app code)."""
    cursor = database.cursor()
    if is_sqlite():
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    elif hasattr(cursor, "copy"):  # psycopg 3, which the app's pool prefers: COPY FROM STDIN
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        from psycopg2.extras import execute_values

        execute_values(
            cursor, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s", rows, page_size=5000
        )


def answer_values(question, choices, rng):
    """Return the (choice_id, text, number) rows of one valid random answer to a question."""
    if question.kind == "single":
        return [(rng.choice(choices), None, None)]
    if question.kind == "multi":
        return [(c, None, None) for c in rng.sample(choices, rng.randint(1, 3))]
    if question.kind == "scale":
        return [(None, None, float(rng.randint(int(question.minimum), int(question.maximum))))]
    if question.kind == "number":
        return [(None, None, float(rng.randint(16, 100)))]
    if rng.random() < 0.3:
        return [(None, rng.choice(["Tốt", "Cần cải thiện đường sá", "=SUM(A1)", "Không"]), None)]
    return []


def add_places():
    """Create the bench's wards and organisations in the bound database."""
    for code in WARDS:
        Ward.create(code=code, name=f"Phường {code[1:]}")
    for code in ORGANISATIONS:
        Organisation.create(code=code, name=code)


def admin_client(app):
    """Return a test client logged in as a new admin, `bench`."""
    user = User.create(username="bench", password_hash="x", role="admin")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:{user.session_version}"
    return client


def on_fresh_sqlite(run, doc, responses):
    """Parse --responses and --sqlite, then call run(url, n) on a new SQLite file."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--responses", type=int, default=responses)
    parser.add_argument("--sqlite", help="SQLite file to create (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.sqlite or os.path.join(folder, "bench.sqlite3"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        run(f"sqlite:///{path}", args.responses)


def fill(questionnaire, n, seed=1):
    """Insert n valid responses with their answers in bulk; return the number of answer rows."""
    rng = random.Random(seed)
    wards = [w.id for w in Ward.select()]
    orgs = [o.id for o in Organisation.select()]
    questions = list(questionnaire.ordered_questions())
    choices = {q.id: [c.id for c in q.ordered_choices()] for q in questions}
    start = datetime.datetime(2025, 7, 1)
    next_id = (Response.select(Response.id).order_by(Response.id.desc()).scalar() or 0) + 1
    total = 0
    for first in range(0, n, BATCH):
        responses, answers = [], []
        for i in range(first, min(first + BATCH, n)):
            rid, ward, org = next_id + i, rng.choice(wards), rng.choice(orgs)
            when = str(start + datetime.timedelta(seconds=i * 7))
            responses.append((rid, questionnaire.id, ward, org, None, when, str(uuid.uuid4())))
            for q in questions:
                answers.extend(
                    (rid, q.id, c, t, num, i == 0, questionnaire.id, ward, org, when)
                    for i, (c, t, num) in enumerate(answer_values(q, choices[q.id], rng))
                )
        with database.atomic():
            if not is_sqlite():
                # PostgreSQL: triggers off for this bulk load (a superuser's session setting);
                # the caller counts the running tallies from the loaded rows afterwards.
                database.execute_sql("SET LOCAL session_replication_role = replica")
            insert_rows("response", RESPONSE_COLUMNS, responses)
            insert_rows("answer", ANSWER_COLUMNS, answers)
        total += len(answers)
    if not is_sqlite():
        database.execute_sql("SELECT setval('response_id_seq', (SELECT MAX(id) FROM response))")
    database.execute_sql("ANALYZE")
    return total


def interleaved(functions, runs=RUNS):
    """Return each function's median seconds over several rounds, all of them run in each round.

    In turns, so a drift of the machine's speed touches every figure alike.
    """
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def timed(function, runs=RUNS):
    """Return (median, first) seconds of running function several times."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times[0]


# Bare GROUP BYs over the same answers, with no Python around them; the tally is measured
# against the fastest of them on each database (the strictest yardstick, whichever it is).
BARE_QUERIES = {
    "by questionnaire": "SELECT question_id, choice_id, COUNT(*) FROM answer "
    "WHERE questionnaire_id = {questionnaire} GROUP BY 1, 2",
    "by question ids": "SELECT question_id, choice_id, COUNT(*) FROM answer "
    "WHERE question_id IN ({questions}) GROUP BY 1, 2",
    "finest grain": "SELECT question_id, ward_id, organisation_id, choice_id, number, COUNT(*) "
    "FROM answer WHERE question_id IN ({questions}) GROUP BY 1, 2, 3, 4, 5",
}


def bare_sql(template, questionnaire_id, question_ids):
    """Run one bare GROUP BY of BARE_QUERIES over a questionnaire's answers."""
    mark = database.obj.param
    text = template.format(questionnaire=mark, questions=", ".join([mark] * len(question_ids)))
    params = [questionnaire_id] if "{questionnaire}" in template else list(question_ids)
    return database.execute_sql(text, params).fetchall()


def analyze():
    """Refresh the planner's statistics after the bulk load, as autovacuum or optimize would."""
    database.execute_sql("ANALYZE" if is_sqlite() else "VACUUM ANALYZE")


def export_csv(questionnaire):
    """Stream the whole CSV export into nothing; return its size in bytes."""
    return sum(len(chunk) for chunk in csv_stream(response_rows(questionnaire, Filters())))


FIRST_DAY = datetime.date(2025, 7, 2)  # a 30-day range from the second local day of answers
LAST_DAY = FIRST_DAY + datetime.timedelta(days=29)
REQUESTS = {
    "no filter": {},
    "by ward": {"by": "ward"},
    "by organisation": {"by": "organisation"},
    "30 days": {"start": FIRST_DAY, "end": LAST_DAY},
}
# DuckDB's GROUP BY for each request over the same answers: the grain the tally adds up.
DUCK_QUERIES = {
    "no filter": "SELECT question_id, choice_id, number, COUNT(*), COUNT(*) FILTER (first_row) "
    "FROM answer WHERE questionnaire_id = $q GROUP BY ALL",
    "by ward": "SELECT question_id, ward_id, choice_id, number, COUNT(*), "
    "COUNT(*) FILTER (first_row) FROM answer WHERE questionnaire_id = $q GROUP BY ALL",
    "by organisation": "SELECT question_id, organisation_id, choice_id, number, COUNT(*), "
    "COUNT(*) FILTER (first_row) FROM answer WHERE questionnaire_id = $q GROUP BY ALL",
    "30 days": "SELECT question_id, choice_id, number, COUNT(*), COUNT(*) FILTER (first_row) "
    "FROM answer WHERE questionnaire_id = $q AND submitted_at >= $lo AND submitted_at < $hi "
    "GROUP BY ALL",
}
DUCK_COLUMNS = [
    "questionnaire_id",
    "question_id",
    "ward_id",
    "organisation_id",
    "choice_id",
    "number",
    "first_row",
    "submitted_at",
]


def range_moments():
    """Return the UTC moments the 30-day range starts and ends at (as counting turns them)."""
    midnight = datetime.datetime.combine(FIRST_DAY, datetime.time())
    return to_utc(midnight), to_utc(midnight + datetime.timedelta(days=30))


def api_document(app, questionnaire, request, running):
    """Return the tally API's JSON for a request, from the running tallies or the answers."""
    app.config["RUNNING_TALLIES"] = running
    try:
        return json.dumps(tally(questionnaire, Filters(**REQUESTS[request])).api())
    finally:
        app.config["RUNNING_TALLIES"] = True


def duck_copy(questionnaire):
    """Copy a questionnaire's answers into an in-memory DuckDB; return (connection, seconds)."""
    import duckdb

    started = time.perf_counter()
    names = ", ".join(DUCK_COLUMNS)
    select = f"SELECT {names} FROM answer WHERE questionnaire_id = {int(questionnaire.id)}"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "answers.csv")
        with open(path, "w") as out:
            if is_sqlite():  # the sqlite3 shell writes CSV far faster than Python would
                command = ["sqlite3", "-csv", database.obj.database, select]
                subprocess.run(command, stdout=out, check=True)
            else:
                with database.obj.cursor().copy(f"COPY ({select}) TO STDOUT WITH CSV") as copy:
                    out.writelines(bytes(data).decode() for data in copy)
        con = duckdb.connect()
        types = ["INTEGER"] * 5 + ["DOUBLE", "BOOLEAN", "TIMESTAMP"]
        columns = ", ".join(f"'{n}': '{t}'" for n, t in zip(DUCK_COLUMNS, types))
        con.execute(
            f"CREATE TABLE answer AS SELECT * FROM read_csv('{path}', header = false, "
            f"columns = {{{columns}}})"
        )
    return con, time.perf_counter() - started


def duck_query(con, request, questionnaire):
    """Run DuckDB's GROUP BY of one request; return its rows."""
    lo, hi = range_moments()
    params = {"q": questionnaire.id}
    if "$lo" in DUCK_QUERIES[request]:
        params.update(lo=lo, hi=hi)
    return con.execute(DUCK_QUERIES[request], params).fetchall()


def bare_range(questionnaire_id, question_ids):
    """Run the bare GROUP BY of the 30-day request: the finest grain within the range."""
    mark = database.obj.param
    lo, hi = range_moments()
    text = (
        "SELECT question_id, ward_id, organisation_id, choice_id, number, COUNT(*) FROM answer "
        f"WHERE question_id IN ({', '.join([mark] * len(question_ids))}) "
        f"AND submitted_at >= {mark} AND submitted_at < {mark} GROUP BY 1, 2, 3, 4, 5"
    )
    return database.execute_sql(text, [*question_ids, lo, hi]).fetchall()


def print_requests(label, medians, duck):
    """Print each request's times: running tallies, from the answers, bare, DuckDB, ratios."""
    fastest = min((n for n in medians if n.startswith("bare")), key=medians.get)
    for name, median in medians.items():
        if name.startswith(("bare", "30-day")):
            print(f"[{label}] {name:<34} median {median * 1000:8.1f} ms")
    print(f"[{label}] fastest bare GROUP BY: {fastest[len('bare GROUP BY ') :]}")
    for request in REQUESTS:
        running, counted = medians[f"running {request}"], medians[f"answers {request}"]
        line = (
            f"[{label}] API {request:<16} running tallies {running * 1000:7.1f} ms"
            f" | from the answers {counted * 1000:7.1f} ms ({counted / running:5.1f}x slower)"
            f" | ratio to bare {running / medians[fastest]:.3f}"
        )
        if request == "30 days":
            line += f" (bare range query {medians['30-day range GROUP BY'] * 1000:.1f} ms)"
        if duck:
            line += f" | DuckDB {duck[request] * 1000:6.1f} ms, ratio {running / duck[request]:.2f}"
        print(line)


def measure(label, url, n, use_duck=True, export=False):
    """Fill one database and print every figure for it."""
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    with app.app_context(), database.connection_context():
        migrate()
        add_places()
        questionnaire = import_questionnaire(questionnaire_spec())
        started = time.perf_counter()
        rows = fill(questionnaire, n)
        how = "triggers keeping the tallies" if is_sqlite() else "triggers off"
        print(
            f"[{label}] filled {n:,} responses, {rows:,} answers, "
            f"{Question.select().where(Question.questionnaire == questionnaire).count()} "
            f"questions in {time.perf_counter() - started:.1f} s ({how})"
        )
        started = time.perf_counter()
        aggregates.rebuild()  # what migration 0015 does on an existing database
        print(
            f"[{label}] counted the running tallies from every answer "
            f"(rebuild-tallies, migration 0015's build) in {time.perf_counter() - started:.1f} s"
        )
        analyze()
        print(
            f"[{label}] running tallies: {TallyAnswer.select().count():,} rows, "
            f"{TallyAnswerDay.select().count():,} day rows"
        )
        ids = [q.id for q in Question.select().where(Question.questionnaire == questionnaire)]
        # "by questionnaire" reads the whole table (no index leads with questionnaire_id): a
        # few times the others, never the fastest; left out past 100,000 responses.
        runs = {
            f"bare GROUP BY {name}": lambda t=template: bare_sql(t, questionnaire.id, ids)
            for name, template in BARE_QUERIES.items()
            if n <= 100_000 or name != "by questionnaire"
        }
        runs["30-day range GROUP BY"] = lambda: bare_range(questionnaire.id, ids)
        for request in REQUESTS:
            for prefix, running in (("running", True), ("answers", False)):
                runs[f"{prefix} {request}"] = lambda r=request, on=running: api_document(
                    app, questionnaire, r, on
                )
        for request in REQUESTS:  # the same figures both ways, or the comparison means nothing
            assert api_document(app, questionnaire, request, True) == api_document(
                app, questionnaire, request, False
            ), request
        duck = {}
        if use_duck:
            con, seconds = duck_copy(questionnaire)
            print(f"[{label}] DuckDB: answers copied in {seconds:.1f} s (not counted below)")
            duck = interleaved(
                {r: lambda r=r: duck_query(con, r, questionnaire) for r in DUCK_QUERIES}
            )
            con.close()
        print_requests(label, interleaved(runs), duck)
        if export:
            export_figures(label, questionnaire)
    database.obj.close_all()


def export_figures(label, questionnaire):
    """Print the streamed CSV export's time and peak Python memory."""
    started = time.perf_counter()
    size = export_csv(questionnaire)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    export_csv(questionnaire)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"[{label}] CSV export {size / 1e6:.1f} MB in {elapsed:.2f} s; peak Python memory "
        f"while streaming {peak / 1e6:.1f} MB (tracemalloc); process max RSS {rss:.0f} MB"
    )


def reset_postgres(url):
    """Empty the PostgreSQL database the benchmark was pointed at."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    conn.close()


def migration_0015():
    """Return migration 0015's module (its trigger functions), loaded as the runner loads it."""
    from playhouse.migrations import Migration

    found = Migration.load_directory(str(MIGRATIONS_DIR))
    return next(m for m in found if m.name.startswith("0015_")).load()


def store_turn(questionnaire, forms, places):
    """Store each checked form as the phone form does (submit.store); return the seconds."""
    started = time.perf_counter()
    for values, (ward, org) in zip(forms, places):
        outcome = submit.store(questionnaire, ward, org, None, str(uuid.uuid4()), values)
        assert outcome == submit.STORED, outcome
    return time.perf_counter() - started


def submit_cost(label, url, n):
    """Print the submit path's time with the running tallies' triggers and without, in turns."""
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    with app.app_context(), database.connection_context():
        migrate()
        add_places()
        questionnaire = import_questionnaire(questionnaire_spec())
        rng, schema = random.Random(2), Schema.load(questionnaire)
        faker = fake._Faker(schema, rng)  # the fake responses' own random valid forms
        forms = [check_answers(schema, faker.form()).values for _ in range(n)]
        rows = sum(len(submit.answer_rows(values)) for values in forms)
        groups = [(w.id, o.id) for w in Ward.select() for o in Organisation.select()]
        places = [rng.choice(groups) for _ in forms]
        mig, postgres = migration_0015(), not is_sqlite()
        times = {"with triggers": [], "without": []}
        for _ in range(RUNS):
            for mode, found in times.items():
                with database.atomic():
                    mig.drop_triggers(database.obj, postgres)
                    if mode == "with triggers":
                        mig.create_triggers(database.obj, postgres)
                found.append(store_turn(questionnaire, forms, places))
        with_, without = (statistics.median(found) for found in times.values())
        print(
            f"[{label}] submit.store of {n:,} responses ({rows / n:.1f} answer rows each), "
            f"medians of {RUNS} turns: with the running tallies' triggers "
            f"{with_ / n * 1000:.3f} ms a response, without {without / n * 1000:.3f} ms; "
            f"ratio {with_ / without:.2f}, {(with_ - without) / rows * 1e6:.1f} µs an answer row"
        )
    database.obj.close_all()


def main():
    """Parse the arguments and run the benchmark on SQLite (and PostgreSQL)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--sqlite", help="SQLite file to create (default: a temporary file)")
    parser.add_argument("--postgres", help="PostgreSQL URL of a database to EMPTY and fill")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--no-duckdb", action="store_true", help="leave DuckDB out")
    parser.add_argument("--export", action="store_true", help="measure the CSV export too")
    parser.add_argument(
        "--submit",
        type=int,
        metavar="N",
        help="measure instead the submit path with and without the triggers, N responses a turn",
    )
    args = parser.parse_args()
    if args.submit:
        with tempfile.TemporaryDirectory() as folder:
            submit_cost("sqlite", f"sqlite:///{folder}/submit.sqlite3", args.submit)
        if args.postgres:
            reset_postgres(args.postgres)
            submit_cost("postgresql", args.postgres, args.submit)
        return
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(args.sqlite or os.path.join(folder, "bench.sqlite3"))
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            measure("sqlite", f"sqlite:///{path}", args.responses, not args.no_duckdb, args.export)
    if args.postgres:
        reset_postgres(args.postgres)
        measure("postgresql", args.postgres, args.responses, not args.no_duckdb, args.export)


if __name__ == "__main__":
    main()
