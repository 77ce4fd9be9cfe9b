"""Benchmark the tallies: 100,000 responses × 20 questions, tally time against a bare GROUP BY.

    python bench/tallies.py [--responses 100000] [--sqlite PATH] [--postgres URL]

Fills a fresh SQLite file (and the PostgreSQL database given, which it empties) with valid
responses by bulk insert, then prints, on the same database in the same run: three bare
GROUP BYs over the answers (BARE_QUERIES, the first the plain
`SELECT question_id, choice_id, COUNT(*) FROM answer WHERE questionnaire_id=? GROUP BY 1,2`),
survey.tallies.counting.tally() without and with a breakdown (medians of several warm runs,
all of them in turns, and the ratio to the fastest bare query), and the streamed CSV export's
time and peak Python memory.
Budget (DESIGN.md): a tally within 2× the bare query and under a second.
"""

import argparse
import datetime
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey import create_app
from survey.db import database, is_sqlite, migrate
from survey.models import Organisation, Question, Response, Ward
from survey.questionnaires.file_format import import_questionnaire
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
        "anonymous": True,
        "per_collaborator": "many",
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


def measure(label, url, n):
    """Fill one database and print every figure for it."""
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    with app.app_context(), database.connection_context():
        migrate()
        for code in WARDS:
            Ward.create(code=code, name=f"Phường {code[1:]}")
        for code in ORGANISATIONS:
            Organisation.create(code=code, name=code)
        questionnaire = import_questionnaire(questionnaire_spec())
        started = time.perf_counter()
        rows = fill(questionnaire, n)
        print(
            f"[{label}] filled {n:,} responses, {rows:,} answers, "
            f"{Question.select().where(Question.questionnaire == questionnaire).count()} "
            f"questions in {time.perf_counter() - started:.1f} s"
        )
        analyze()
        ids = [q.id for q in Question.select().where(Question.questionnaire == questionnaire)]
        runs = {
            f"bare GROUP BY {name}": lambda t=template: bare_sql(t, questionnaire.id, ids)
            for name, template in BARE_QUERIES.items()
        }
        runs.update(
            {
                "tally" + ("" if by is None else " by " + by): lambda by=by: tally(
                    questionnaire, Filters(by=by)
                )
                for by in (None, "ward", "organisation")
            }
        )
        medians = interleaved(runs)
        fastest = min((n for n in medians if n.startswith("bare")), key=medians.get)
        for name, median in medians.items():
            ratio = (
                ""
                if name.startswith("bare")
                else (
                    f"  ratio {median / medians[fastest]:.2f}× to the fastest bare GROUP BY "
                    f"({fastest[len('bare GROUP BY ') :]})"
                )
            )
            print(f"[{label}] {name:<31} median {median * 1000:7.1f} ms{ratio}")
        one_ward = Ward.get(code="P4")
        median, _ = timed(lambda: tally(questionnaire, Filters(ward=one_ward, by="organisation")))
        print(f"[{label}] tally ward=P4 by organisation median {median * 1000:7.1f} ms")
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
    database.obj.close_all()


def reset_postgres(url):
    """Empty the PostgreSQL database the benchmark was pointed at."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    conn.close()


def main():
    """Parse the arguments and run the benchmark on SQLite (and PostgreSQL)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--sqlite", help="SQLite file to create (default: a temporary file)")
    parser.add_argument("--postgres", help="PostgreSQL URL of a database to EMPTY and fill")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(args.sqlite or os.path.join(folder, "bench.sqlite3"))
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            measure("sqlite", f"sqlite:///{path}", args.responses)
    if args.postgres:
        reset_postgres(args.postgres)
        measure("postgresql", args.postgres, args.responses)


if __name__ == "__main__":
    main()
