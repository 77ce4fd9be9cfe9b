"""Benchmark the raw exports against the bare dump and the XLSX libraries alone, on the same rows.

    python bench/exports.py [--responses 100000,1000000] [--sqlite PATH] [--postgres URL]
                            [--openpyxl-max 100000] [--phones SECONDS] [--fake N] [--cases …]

Fills each database (a SQLite file, kept between runs; the PostgreSQL database given, whose
questionnaires named x<N> are kept too) with N responses to a 20-question named questionnaire
through fake.generate, the code of `survey fake-responses` (its rate is printed), unless they are
there already. Then, for each size, each of these runs in a process of its own (its peak RSS is
the kernel's VmHWM; a Python child times itself from when its app is ready):
  bare     the same rows (a row per response, labels, multi-choice joined) as CSV by the
           database's own client: `sqlite3 -csv` / psql's COPY ... TO STDOUT (CSV)
  read     the rows an export reads, unpivoted (each answer beside its response), dumped so
  csv      the app's CSV export: exports.csv_stream(response_rows(...)) as the view streams it
  xlsxw    xlsxwriter alone (constant_memory) writing the bare query's rows
  openpyxl openpyxl alone (write_only) writing them, up to --openpyxl-max responses
  xlsx     the app's XLSX export as its job writes it (rows, then the codebook)
and prints time to the first data byte, total time, peak RSS and the ratios csv/bare,
csv/read, xlsx/xlsxwriter (--cases picks some: bare,read,csv,xlsxw,xlsx,openpyxl).
Budget (issue 21): csv <= 2x bare, every export in constant memory.

--fake N: stores N fake responses with the running-tally triggers and N without them (dropped
in a transaction rolled back afterwards) and prints both rates.

--phones S: serves the SQLite database under gunicorn (2 workers, loopback) and drives the
phone form with 16 connections for S seconds alone, then again while two XLSX exports of the
largest questionnaire run as jobs (EXPORT_JOBS=2), and prints the submissions per second of
each (the jobs are stopped at the end of the window, their progress printed).
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUESTIONS = 20


def spec(slug):
    """Return the bench questionnaire (tallies bench's 20 questions), named, not anonymous."""
    from tallies import questionnaire_spec

    questionnaire = questionnaire_spec()
    questionnaire.update(slug=slug, anonymous=False, title=f"Xuất {slug}")
    return questionnaire


def app_for(url):
    """Return the app on a database URL (its schema brought up to date)."""
    from survey import create_app
    from survey.db import migrate

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 32})
    with app.app_context():
        migrate()
    return app


def prepare(url, n):
    """Make sure questionnaire x<n> holds n counted responses; return (its id, fake rate)."""
    from survey.cli import demo, fake
    from survey.db import database
    from survey.models import Questionnaire, Response, Ward
    from survey.questionnaires.file_format import import_questionnaire

    slug = f"x{n}"
    app = app_for(url)
    with app.app_context(), database.connection_context():
        if not Ward.select().exists():
            demo.seed()
        questionnaire = Questionnaire.get_or_none(Questionnaire.slug == slug)
        if questionnaire is None:
            questionnaire = import_questionnaire(spec(slug))
        have = Response.select().where(Response.questionnaire == questionnaire.id).count()
        rate = None
        if have < n:
            start = time.perf_counter()
            fake.generate(questionnaire, n - have)
            rate = (n - have) / (time.perf_counter() - start)
        return questionnaire.id, rate


def fake_rates(url, n):
    """Return fake-responses' rate (responses/s) with the tally triggers and without them.

    Without: the triggers on answer and response are dropped inside a transaction that is
    rolled back at the end (DDL is transactional on both databases), so nothing stays.
    """
    from survey.cli import fake
    from survey.db import database, is_sqlite
    from survey.models import Questionnaire
    from survey.questionnaires.file_format import import_questionnaire

    rates = []
    app = app_for(url)
    with app.app_context(), database.connection_context():
        for triggers in (True, False):
            with database.atomic() as transaction:
                questionnaire = Questionnaire.get_or_none(Questionnaire.slug == "fake-rate")
                questionnaire = questionnaire or import_questionnaire(spec("fake-rate"))
                if not triggers:
                    for name, table in _triggers(is_sqlite()):
                        on = "" if is_sqlite() else f' ON "{table}"'
                        database.execute_sql(f'DROP TRIGGER "{name}"{on}')
                start = time.perf_counter()
                fake.generate(questionnaire, n)
                rates.append(n / (time.perf_counter() - start))
                transaction.rollback()
    return rates


def _triggers(sqlite):
    """Return the (name, table) of the triggers on the answer and response tables."""
    from survey.db import database

    if sqlite:
        sql = (
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('answer', 'response')"
        )
    else:
        sql = (
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relname IN ('answer', 'response')"
        )
    return list(database.execute_sql(sql))


def bare_sql(questionnaire_id, sqlite):
    """Return the SQL giving the export's rows (labels, multi-choice joined) in id order."""
    from survey.models import Question

    questions = list(
        Question.select(Question.id)
        .where(Question.questionnaire == questionnaire_id, Question.kind != "section")
        .order_by(Question.position, Question.id)
        .tuples()
    )
    value = "COALESCE(c.label, a.text, CAST(a.number AS TEXT))"
    join = "group_concat({}, '; ')" if sqlite else "string_agg({}, '; ')"
    columns = ", ".join(
        join.format(f"CASE WHEN a.question_id = {q} THEN {value} END") for (q,) in questions
    )
    return (
        f"SELECT r.id, r.submitted_at, w.name, o.name, p.name, {columns} "
        "FROM response r JOIN answer a ON a.response_id = r.id "
        "LEFT JOIN choice c ON c.id = a.choice_id JOIN ward w ON w.id = r.ward_id "
        "JOIN organisation o ON o.id = r.organisation_id "
        "LEFT JOIN collaborator p ON p.id = r.collaborator_id "
        f"WHERE r.questionnaire_id = {questionnaire_id} AND r.state = 0 "
        "GROUP BY r.id, r.submitted_at, w.name, o.name, p.name ORDER BY r.id"
    )


def peak_rss(pid):
    """Return a process's peak resident memory in MB so far (VmHWM), or 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


def measure(cmd):
    """Run a command, reading its output; return (first byte s, total s, bytes, peak RSS MB).

    A child of ours (`--child`) times itself from when its app is ready and says so on stderr,
    so Python's and Flask's start-up are not counted; its peak RSS includes them.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rss = [0.0]

    def watch():
        """Keep the process's peak RSS while it runs."""
        while proc.poll() is None:
            rss[0] = max(rss[0], peak_rss(proc.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    first, size = None, 0
    while block := proc.stdout.read1(1 << 16):
        if first is None:
            first = time.perf_counter() - start
        size += len(block)
    errors = proc.stderr.read().decode()
    proc.wait()
    total = time.perf_counter() - start
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {errors[-2000:]}")
    timed = re.search(r"TIMES (\S+) (\S+) (\S+) (\S+)", errors)
    if timed:  # our child: its own times, size and peak
        first, total, size, child_rss = (float(v) for v in timed.groups())
        rss[0] = max(rss[0], child_rss)
    return first or total, total, size, rss[0]


def child(args):
    """Run one case here (`exports.py --child CASE URL ID`); print TIMES on stderr."""
    case, url, questionnaire_id = args
    from flask_babel import force_locale

    from survey.db import database, is_sqlite
    from survey.models import Questionnaire
    from survey.tallies import exports
    from survey.tallies.counting import Filters

    app = app_for(url)
    path = tempfile.mktemp(suffix=".xlsx")
    with app.app_context(), database.connection_context(), force_locale("vi"):
        questionnaire = Questionnaire.get_by_id(int(questionnaire_id))
        sql = bare_sql(questionnaire.id, is_sqlite())
        start = time.perf_counter()
        first, size = None, 0
        if case == "csv":
            rows = exports.response_rows(questionnaire, Filters(), text=True)
            out = sys.stdout.buffer
            for n, chunk in enumerate(exports.csv_stream(rows, prepared=True)):
                if n == 1:  # the first rows (the BOM alone goes out at once)
                    first = time.perf_counter() - start
                out.write(chunk)
                size += len(chunk)
        elif case == "xlsx":
            rows = exports.response_rows(questionnaire, Filters())
            exports.write_xlsx(path, exports.response_sheets(questionnaire, Filters(), rows))
        elif case == "xlsxw":
            import xlsxwriter

            book = xlsxwriter.Workbook(path, {"constant_memory": True})
            sheet = book.add_worksheet()
            for r, row in enumerate(database.execute_sql(sql)):
                sheet.write_row(r, 0, row)
            book.close()
        else:
            import openpyxl

            book = openpyxl.Workbook(write_only=True)
            sheet = book.create_sheet()
            for row in database.execute_sql(sql):
                sheet.append(list(row))
            book.save(path)
        total = time.perf_counter() - start
    if os.path.exists(path):
        size = os.path.getsize(path)
        os.unlink(path)
    print(f"TIMES {first or total} {total} {size} {peak_rss(os.getpid())}", file=sys.stderr)


def read_sql(questionnaire_id):
    """Return the SQL of the rows an export reads, unpivoted: each answer with its response."""
    return (
        "SELECT r.id, r.submitted_at, r.ward_id, r.organisation_id, r.collaborator_id, "
        "a.question_id, a.choice_id, a.text, a.number FROM response r "
        "JOIN answer a ON a.response_id = r.id "
        f"WHERE r.questionnaire_id = {questionnaire_id} AND r.state = 0 ORDER BY r.id, a.id"
    )


def dump(url, path, sql):
    """Return the command that writes a query's rows as CSV with the database's own client."""
    if path is not None:
        return ["sqlite3", "-csv", path, sql]
    return ["psql", "-X", "-q", url, "-c", f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"]


def cases(url, questionnaire_id, n, openpyxl_max, wanted):
    """Measure the wanted cases of one questionnaire; return {case: (first, total, bytes, rss)}."""
    from survey.db import database, is_sqlite

    app = app_for(url)
    with app.app_context(), database.connection_context():
        sqlite = is_sqlite()
        sql = bare_sql(questionnaire_id, sqlite)
        path = database.obj.database if sqlite else None
    results = {}
    for case in wanted:
        if case == "bare":
            results[case] = measure(dump(url, path, sql))
        elif case == "read":
            results[case] = measure(dump(url, path, read_sql(questionnaire_id)))
        elif case != "openpyxl" or n <= openpyxl_max:
            me = [sys.executable, __file__, "--child"]
            results[case] = measure(me + [case, url, str(questionnaire_id)])
    return results


def report(label, n, results):
    """Print one size's figures and ratios."""
    print(f"\n{label}, {n:,} responses x {QUESTIONS} questions")
    print(f"  {'case':9} {'first byte':>11} {'total':>9} {'MB out':>8} {'peak RSS':>9}")
    for case, (first, total, size, rss) in results.items():
        print(f"  {case:9} {first * 1000:9.0f}ms {total:8.2f}s {size / 1e6:8.1f} {rss:7.0f}MB")
    for case, base, note in (
        ("csv", "bare", " (budget <= 2.00)"),
        ("csv", "read", ""),
        ("xlsx", "xlsxw", ""),
        ("openpyxl", "xlsxw", ""),
    ):
        if case in results and base in results:
            print(f"  {case} / {base} = {results[case][1] / results[base][1]:.2f}{note}")


# ---- phones while exports run ------------------------------------------------------------


def login(port, username, password):
    """Log in over HTTP; return the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    body = page.read().decode()
    cookie = page.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body).group(1)
    form = urlencode({"csrf_token": token, "username": username, "password": password})
    conn.request(
        "POST",
        "/login",
        form,
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return (answer.getheader("Set-Cookie") or cookie).split(";")[0]


def get(port, cookie, path, accept="text/html"):
    """GET a path with the session; return (status, Location, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Cookie": cookie, "Accept": accept})
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    return answer.status, answer.getheader("Location"), body


def job_pids(tokens):
    """Return the ids of the job processes working for these tokens (ours: we asked for them)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"survey.tallies.jobs" in args and any(t.encode() in args for t in tokens):
            pids.append(int(cmdline.parent.name))
    return pids


def phones(sqlite_path, largest, seconds):
    """Print submissions/s alone and while two XLSX exports of the largest questionnaire run.

    Both exports are jobs (EXPORT_JOBS=2: they run at once, niced); when the window ends they
    are stopped (their processes, found by their tokens) and their progress is printed.
    """
    import submit as phone_bench

    from survey.db import database
    from survey.models import Collaborator, Questionnaire, User
    from survey.questionnaires.file_format import import_questionnaire
    from survey.security import hash_password

    url = f"sqlite:///{sqlite_path}"
    app = app_for(url)
    with app.app_context(), database.connection_context():
        if not Questionnaire.select().where(Questionnaire.slug == phone_bench.SLUG).exists():
            import_questionnaire(phone_bench.QUESTIONNAIRE)
        tokens = [c.token for c in Collaborator.select().where(Collaborator.active).limit(12)]
        User.delete().where(User.username == "bench-admin").execute()
        password = hash_password("bench-pass-1")
        User.create(username="bench-admin", password_hash=password, role="admin")
    database.obj.close_all()
    paths = [f"/c/{t}/{phone_bench.SLUG}" for t in tokens]
    env = phone_bench.survey_env(url)
    with tempfile.TemporaryDirectory() as folder:
        env.update(
            SURVEY_EXPORT_FOLDER=json.dumps(folder),
            SURVEY_EXPORT_JOBS="2",
            SURVEY_EXPORT_INLINE_ROWS="0",
        )
        log = Path(folder) / "gunicorn.log"
        with phone_bench.gunicorn("survey:create_app()", 2, log, env=env) as server:
            port = server[0]
            alone = phone_bench.drive(server, paths, True, 16, seconds)
            cookie = login(port, "bench-admin", "bench-pass-1")
            jobs = []
            for codes in ("", "?codes=1"):
                status, where, _ = get(
                    port, cookie, f"/questionnaires/x{largest}/export.xlsx{codes}"
                )
                assert status == 303, status
                jobs.append(where)
            time.sleep(2)  # the jobs' processes start
            during = phone_bench.drive(server, paths, True, 16, seconds)
            states = [json.loads(get(port, cookie, w, "application/json")[2]) for w in jobs]
            for pid in job_pids([w.rsplit("/", 1)[1] for w in jobs]):
                os.kill(pid, 15)
    for name, load in (("alone", alone), ("during two exports", during)):
        ok = sorted(t for status, t, _ in load.results if status == 303) or [0]
        print(
            f"  submissions {name:18} {len(ok) / load.elapsed:7.0f}/s, p50 "
            f"{ok[len(ok) // 2] * 1000:.0f} ms, p99 {ok[int(len(ok) * 0.99) - 1] * 1000:.0f} ms, "
            f"other answers {len(load.results) - len(ok)}"
        )
    print(f"  ratio during / alone = {len(during.results) / max(len(alone.results), 1):.2f}")
    for where, answer in zip(jobs, states):
        print(f"  job {where.rsplit('/', 1)[1][:8]}…: {answer['state']}, {answer['progress']:.0%}")


def main(argv=None):
    """Prepare the data, run every case, print the figures."""
    if argv and argv[0] == "--child":
        child(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", default="100000,1000000")
    parser.add_argument(
        "--sqlite",
        default=str(Path(tempfile.gettempdir()) / "exports.sqlite3"),
        help="the SQLite file (empty: PostgreSQL only)",
    )
    parser.add_argument("--postgres", default="")
    parser.add_argument("--openpyxl-max", type=int, default=100_000)
    parser.add_argument("--phones", type=float, default=0)
    parser.add_argument("--cases", default="bare,read,csv,xlsxw,xlsx,openpyxl")
    parser.add_argument(
        "--fake", type=int, default=0, help="fake-responses rate at N, +/- triggers"
    )
    options = parser.parse_args(argv)
    sizes = [int(n) for n in options.responses.split(",")]
    urls = [("SQLite", f"sqlite:///{options.sqlite}")] if options.sqlite else []
    if options.postgres:
        urls.append(("PostgreSQL", options.postgres))
    for label, url in urls:
        if options.fake:
            with_triggers, without = fake_rates(url, options.fake)
            print(
                f"{label}: fake-responses {options.fake:,}: {with_triggers:,.0f}/s with the tally "
                f"triggers, {without:,.0f}/s without ({with_triggers / without:.2f})"
            )
        for n in sizes:
            questionnaire_id, rate = prepare(url, n)
            if rate is not None:
                print(f"{label}: survey fake-responses stored {rate:,.0f} responses/s")
            wanted = [case for case in options.cases.split(",") if case]
            report(label, n, cases(url, questionnaire_id, n, options.openpyxl_max, wanted))
    if options.phones:
        print(f"\nSQLite, phones for {options.phones:.0f} s, gunicorn -w 2, 16 connections")
        phones(options.sqlite, max(sizes), options.phones)


if __name__ == "__main__":
    main(sys.argv[1:])
