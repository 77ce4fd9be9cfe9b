"""Load test of the phone form's submit path, measured against a bare Flask endpoint.

    python bench/submit.py [--workers 2] [--connections 16] [--duration 10] [--rounds 3]
                           [--postgres postgresql://postgres@127.0.0.1:5432/test]
                           [--sqlite-synchronous normal,full]

Starts gunicorn (the project's gunicorn.conf.py, loopback, a free port) on: the bare app of
bench/bare_app.py (POST -> 204); survey on a fresh SQLite file (one per synchronous setting
asked for); and, with --postgres, survey on
a scratch database `survey_bench_<pid>` created beside that URL's and dropped at the end. They
are loaded in turns (bare, SQLite, PostgreSQL, and again, --rounds times), so a drift of the
machine's speed touches them all alike. Each load is N threads, each one phone: it GETs the
form once (session cookie + CSRF token, as production runs with CSRF on), then POSTs answers
with a fresh client_uuid for T seconds, each on a new connection (gunicorn's sync workers close
every connection after one answer).
Prints requests/s, p50/p99 latency, the server's CPU a request (gunicorn's processes, and for
PostgreSQL running on this machine its own processes too, which share the cores), the ratio to
the bare endpoint (budget: SQLite >= 0.30, PostgreSQL >= 0.22; over all turns, then the
lowest and highest of the turns one by one, each against the bare turn just before it) and
checks that the stored responses are
exactly the acknowledged (303) ones: none lost, none doubled.
Exit status 1 when a response was lost or doubled or a request failed.
"""

import argparse
import contextlib
import http.client
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGETS = {"sqlite": 0.30, "postgresql": 0.22}
SLUG = "bench"
# Five questions; every POST answers all of them with six Answer rows (two multi choices).
QUESTIONNAIRE = {
    "slug": SLUG,
    "title": "Bench",
    "status": "open",
    "anonymous": False,
    "per_collaborator": "many",
    "open_link": False,
    "questions": [
        {
            "key": "agree",
            "kind": "single",
            "prompt": "Agree?",
            "required": True,
            "choices": [{"key": "yes", "label": "Yes"}, {"key": "no", "label": "No"}],
        },
        {
            "key": "topics",
            "kind": "multi",
            "prompt": "Topics",
            "choices": [{"key": k, "label": k} for k in ("roads", "parks", "safety")],
        },
        {"key": "score", "kind": "scale", "prompt": "Score", "min": 1, "max": 5},
        {"key": "age", "kind": "number", "prompt": "Age", "min": 0, "max": 120},
        {"key": "note", "kind": "text", "prompt": "Note"},
    ],
}
ANSWERS_PER_RESPONSE = 6


def answers():
    """Return one valid random set of form fields (always six Answer rows)."""
    return [
        ("agree", random.choice(("yes", "no"))),
        *[("topics", t) for t in random.sample(("roads", "parks", "safety"), 2)],
        ("score", str(random.randint(1, 5))),
        ("age", str(random.randint(18, 90))),
        ("note", random.choice(("Tốt", "Cần sửa đường", "Không ý kiến"))),
    ]


# ---- databases -----------------------------------------------------------------------------


def seed(url, collaborators):
    """Migrate a fresh database; add wards, organisations, collaborators, a form; return tokens."""
    from survey import create_app
    from survey.db import database, migrate
    from survey.models import Collaborator, Organisation, Ward
    from survey.questionnaires.file_format import import_questionnaire

    with create_app({"DATABASE_URL": url}).app_context():
        migrate()
        with database.connection_context():
            wards = [Ward.create(code=f"P{i}", name=f"Phường {i}") for i in (1, 2, 3)]
            orgs = [Organisation.create(code=c, name=c) for c in ("MTTQ", "DOAN")]
            people = [
                Collaborator.create(name=f"CTV {i}", ward=wards[i % 3], organisation=orgs[i % 2])
                for i in range(collaborators)
            ]
            import_questionnaire(QUESTIONNAIRE)
        database.obj.close_all()
    return [p.token for p in people]


def stored(url):
    """Return (stored client_uuids, response rows, answer rows, sum of receipt counts)."""
    from peewee import fn

    from survey import create_app
    from survey.db import database
    from survey.models import Answer, Receipt, Response

    with create_app({"DATABASE_URL": url}).app_context(), database.connection_context():
        uuids = [r.client_uuid for r in Response.select(Response.client_uuid)]
        counts = (
            len(uuids),
            Answer.select().count(),
            Receipt.select(fn.SUM(Receipt.count)).scalar() or 0,
        )
    database.obj.close_all()
    return (set(uuids), *counts)


@contextlib.contextmanager
def postgres_scratch(url):
    """Create the scratch database survey_bench_<pid> beside url's; drop it at the end."""
    import psycopg2

    name = f"survey_bench_{os.getpid()}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ---- servers -------------------------------------------------------------------------------


def free_port():
    """Return a TCP port free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port, proc, log_path, timeout=30):
    """Wait until the server answers any HTTP request; fail with its log if it dies or hangs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{Path(log_path).read_text()[-3000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    raise RuntimeError(f"gunicorn did not answer in {timeout} s")


def stop(proc):
    """Stop a gunicorn master and its workers (its whole process group), gently then firmly."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def spawn(app_spec, workers, log_path, port, env=None, pythonpath=None):
    """Start `app_spec` under gunicorn with the project's settings on a loopback port.

    It runs in a process group of its own, so stop() (or a test's SIGKILL) reaches every worker.
    """
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    if pythonpath:
        cmd += ["--pythonpath", str(pythonpath)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd + [app_spec],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(port, proc, log_path)
    except BaseException:
        stop(proc)
        raise
    return proc


@contextlib.contextmanager
def gunicorn(app_spec, workers, log_path, env=None, pythonpath=None):
    """Serve `app_spec` under gunicorn on a free loopback port; yield (port, process group)."""
    port = free_port()
    proc = spawn(app_spec, workers, log_path, port, env, pythonpath)
    try:
        yield port, proc.pid
    finally:
        stop(proc)


def cpu_seconds(selected):
    """Return the CPU seconds used so far by the processes selected(name, stat fields) picks.

    Reaped children count too (utime, stime, cutime, cstime: fields 14-17 of stat), so a
    worker or backend that ended in between is not lost.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            head, _, rest = stat.read_text().rpartition(")")
            fields = rest.split()
            if selected(head.partition("(")[2], fields):
                total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def group_cpu(pgid):
    """Return the CPU seconds used so far by a process group, reaped children included."""
    return cpu_seconds(lambda name, fields: int(fields[2]) == pgid)


def postgres_cpu():
    """Return the CPU seconds this machine's PostgreSQL server has used (0 when it runs elsewhere).

    Its backends share the two cores with gunicorn here, so their work is part of a
    submission's cost; the postmaster's reaped children count too.
    """
    return cpu_seconds(lambda name, fields: name == "postgres")


def survey_env(url, synchronous="normal"):
    """Return the environment survey runs with here: production settings, CSRF on, limits wide."""
    # The limiter still runs (its cost is part of the path) but one loopback address is
    # every phone here, so its per-address limit is raised out of the way.
    return {
        "SURVEY_DATABASE_URL": url,
        "SURVEY_SECRET_KEY": secrets.token_hex(32),
        "SURVEY_PUBLIC_RATE_LIMIT": "100000000 per minute",
        "SURVEY_SQLITE_SYNCHRONOUS": synchronous,
    }


# ---- load ----------------------------------------------------------------------------------


@dataclass
class Load:
    """What one load run saw: every request's status, latency and client_uuid."""

    results: list = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0  # a database server's own processes, when it runs on this machine

    def statuses(self):
        """Return how many answers came with each status (0: no answer)."""
        counts = {}
        for status, _, _ in self.results:
            counts[status] = counts.get(status, 0) + 1
        return counts

    def rate(self):
        """Return requests answered per second."""
        return sum(1 for s, _, _ in self.results if s) / self.elapsed

    def cpu_per_request(self, seconds=None):
        """Return the server's (or the given) CPU milliseconds per answered request."""
        spent = self.server_cpu if seconds is None else seconds
        return 1000 * spent / max(1, sum(1 for s, _, _ in self.results if s))

    def latency(self, q):
        """Return the q-quantile latency in milliseconds."""
        times = sorted(t for s, t, _ in self.results if s)
        return 1000 * times[min(len(times) - 1, int(q * len(times)))] if times else float("nan")


def open_session(conn, form_path):
    """GET the form once: return the session cookie header and the CSRF token it carries."""
    conn.request("GET", form_path)
    resp = conn.getresponse()
    html = resp.read().decode()
    if resp.status != 200:
        raise RuntimeError(f"GET {form_path} answered {resp.status}")
    cookie = (resp.getheader("Set-Cookie") or "").split(";", 1)[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return cookie, token.group(1) if token else ""


def send(port, request):
    """Send one prepared request on a fresh connection and read to the end; return its status.

    gunicorn's sync workers close the connection after every answer (they keep no keep-alive),
    so a new connection per request is what any client gets; both apps pay it alike.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = bytearray()
        while chunk := sock.recv(65536):
            data += chunk
    return int(data[9:12])


def phone(port, path, with_form, gate, shared, out):
    """Act as one phone: (open the form,) then POST answers until the deadline."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
    )
    csrf = ""
    if with_form:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        cookie, csrf = open_session(conn, path)
        conn.close()
        head += f"Cookie: {cookie}\r\n"
    gate.wait()
    mine = []
    while time.perf_counter() < shared["deadline"]:
        client_uuid = str(uuid.uuid4())
        fields = answers() + [("csrf_token", csrf), ("client_uuid", client_uuid)]
        body = urlencode(fields).encode()
        request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        start = time.perf_counter()
        try:
            status = send(port, request)
        except (OSError, ValueError):
            status = 0
        mine.append((status, time.perf_counter() - start, client_uuid))
    out.extend(mine)


def drive(server, paths, with_form, connections, duration, database_cpu=lambda: 0.0):
    """Run `connections` phones against the server for `duration` seconds; return the Load."""
    port, pgid = server
    load = Load()
    shared = {}
    gate = threading.Barrier(
        connections + 1,
        action=lambda: shared.update(
            deadline=time.perf_counter() + duration,
            start=time.perf_counter(),
            cpu=time.process_time(),
            server_cpu=group_cpu(pgid),
            database_cpu=database_cpu(),
        ),
    )
    threads = [
        threading.Thread(
            target=phone,
            daemon=True,
            args=(port, paths[i % len(paths)], with_form, gate, shared, load.results),
        )
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    for thread in threads:
        thread.join()
    load.elapsed = time.perf_counter() - shared["start"]
    load.client_cpu = (time.process_time() - shared["cpu"]) / load.elapsed
    load.server_cpu = group_cpu(pgid) - shared["server_cpu"]
    load.database_cpu = database_cpu() - shared["database_cpu"]
    return load


# ---- report --------------------------------------------------------------------------------


def merged(loads):
    """Return one Load holding several runs: their results, time and CPU added up."""
    total = Load()
    for load in loads:
        total.results += load.results
        total.elapsed += load.elapsed
        total.server_cpu += load.server_cpu
        total.database_cpu += load.database_cpu
        total.client_cpu += load.client_cpu * load.elapsed
    total.client_cpu /= max(total.elapsed, 1e-9)
    return total


def line(name, load, bare=None, turns=()):
    """Print one result line; `turns` holds each turn's (load, bare load) pair, for the spread."""
    # A database server on this machine is part of the submission's server cost.
    server = load.cpu_per_request(load.server_cpu + load.database_cpu)
    ratio = (
        f"  ratio {load.rate() / bare.rate():.2f} (by server CPU "
        f"{bare.cpu_per_request() / server:.2f})"
        if bare
        else ""
    )
    if turns:
        each = sorted(turn.rate() / bare_turn.rate() for turn, bare_turn in turns)
        ratio += f" turns {each[0]:.2f}-{each[-1]:.2f}"
    print(
        f"{name:<12} {load.rate():7.0f} req/s  p50 {load.latency(0.5):6.1f} ms  "
        f"p99 {load.latency(0.99):6.1f} ms  server {load.cpu_per_request():5.2f} CPU ms/req  "
        + (
            f"+ database {load.cpu_per_request(load.database_cpu):4.2f}  "
            if load.database_cpu
            else ""
        )
        + f"client CPU {load.client_cpu:4.0%}  {load.statuses()}{ratio}",
        flush=True,
    )


def verify(load, url):
    """Compare stored responses with acknowledged ones; print and return the problems found."""
    acked = {u for s, _, u in load.results if s == 303}
    sent = {u for _, _, u in load.results}
    uuids, responses, answer_rows, receipts = stored(url)
    problems = []
    if acked - uuids:
        problems.append(f"{len(acked - uuids)} acknowledged responses lost")
    if uuids - sent:
        problems.append(f"{len(uuids - sent)} responses stored that were never sent")
    if responses != len(uuids) or receipts != responses:
        problems.append(f"doubled: {responses} rows, {len(uuids)} uuids, receipts {receipts}")
    if answer_rows != responses * ANSWERS_PER_RESPONSE:
        problems.append(f"{answer_rows} answer rows for {responses} responses")
    bad = {s: n for s, n in load.statuses().items() if s != 303}
    if bad:
        problems.append(f"requests not acknowledged: {bad}")
    print(
        f"{'':12} stored {responses} responses / {len(acked)} acknowledged, "
        f"{answer_rows} answers (= {ANSWERS_PER_RESPONSE} x), receipts {receipts}: "
        + ("; ".join(problems) if problems else "none lost, none doubled"),
        flush=True,
    )
    return problems


def main(argv=None):
    """Serve the bare endpoint and survey on each database, load them in turns, compare them.

    Turns (bare, SQLite, PostgreSQL, then again) spread the machine's drifts over all of them;
    each figure is over all its turns together.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each turn")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each server")
    parser.add_argument("--collaborators", type=int, default=8)
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL")
    parser.add_argument(
        "--sqlite-synchronous",
        default="normal",
        help="SQLite's synchronous settings to measure, comma-separated (normal,full)",
    )
    parser.add_argument(
        "--app",
        default="survey:create_app()",
        help="the gunicorn app to measure (a variant of survey, say)",
    )
    parser.add_argument("--pythonpath", help="where --app's module lives")
    args = parser.parse_args(argv)
    print(
        f"gunicorn {args.workers} sync workers, {args.connections} connections, "
        f"{args.rounds} turns x {args.duration:g} s each, loopback, CPUs {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="survey-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        logs = Path(tmp)
        # name -> (database URL, SQLite synchronous setting)
        urls = {
            f"sqlite {mode}": (f"sqlite:///{logs / f'bench-{mode}.sqlite3'}", mode)
            for mode in args.sqlite_synchronous.split(",")
        }
        if args.postgres:
            urls["postgresql"] = (stack.enter_context(postgres_scratch(args.postgres)), "normal")
        targets = {
            "bare flask": (
                stack.enter_context(
                    gunicorn(
                        "bare_app:create_app()",
                        args.workers,
                        logs / "bare.log",
                        pythonpath=ROOT / "bench",
                    )
                ),
                ["/c/token/bench"],
                False,
            )
        }
        for name, (url, synchronous) in urls.items():
            paths = [f"/c/{t}/{SLUG}" for t in seed(url, args.collaborators)]
            targets[name] = (
                stack.enter_context(
                    gunicorn(
                        args.app,
                        args.workers,
                        logs / f"{name}.log",
                        env=survey_env(url, synchronous),
                        pythonpath=args.pythonpath,
                    )
                ),
                paths,
                True,
            )
        database_cpu = {"postgresql": postgres_cpu}
        loads = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (server, paths, with_form) in targets.items():
                loads[name].append(
                    drive(
                        server,
                        paths,
                        with_form,
                        args.connections,
                        args.duration,
                        database_cpu.get(name, lambda: 0.0),
                    )
                )
        bare = merged(loads["bare flask"])
        line("bare flask", bare)
        problems = []
        for name, (url, _) in urls.items():
            load = merged(loads[name])
            line(name, load, bare, list(zip(loads[name], loads["bare flask"])))
            problems += verify(load, url)
    print(
        f"budget: submit >= {BUDGETS['sqlite']:.2f} (SQLite) and {BUDGETS['postgresql']:.2f} "
        "(PostgreSQL) of the bare endpoint's requests/s; load average now "
        f"{os.getloadavg()[0]:.1f} (other work on the machine lowers and scatters req/s; "
        "server CPU ms/req scatters less)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
