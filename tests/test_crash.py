"""A crash in the middle of a load: gunicorn is killed outright, restarted on the same database
(a SQLite file, or PostgreSQL under SURVEY_TEST_DATABASE_URL), and the phones' outboxes re-send
what got no answer; every response ends up stored exactly once."""

import http.client
import importlib.util
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from survey import create_app
from survey.db import database, is_sqlite

ROOT = Path(__file__).resolve().parent.parent
PHONES = 4
FORMS_EACH = 20
KILL_AFTER = 20  # acknowledged responses before the crash
DEADLINE = 60  # seconds: a hang fails the test instead of stalling the suite


def load_bench():
    """Import bench/submit.py, which owns the gunicorn and seeding helpers."""
    spec = importlib.util.spec_from_file_location("bench_submit", ROOT / "bench" / "submit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Phone(threading.Thread):
    """A phone with an outbox: sends each form until it gets an answer, re-sending the same
    client_uuid after a failure, as the phone's script does when the network drops."""

    def __init__(self, bench, port, path, end):
        super().__init__(daemon=True)
        self.bench, self.port, self.path, self.end = bench, port, path, end
        self.outbox = [str(uuid.uuid4()) for _ in range(FORMS_EACH)]
        self.acknowledged, self.failures, self.other = [], 0, []

    def run(self):
        """Open the form once (cookie and CSRF token), then empty the outbox."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        cookie = csrf = None
        while cookie is None and time.monotonic() < self.end:
            try:
                cookie, csrf = self.bench.open_session(conn, self.path)
            except (OSError, http.client.HTTPException, RuntimeError):
                conn.close()  # the crash came while the form was opening: open it again
                self.failures += 1
                time.sleep(0.05)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        while self.outbox and time.monotonic() < self.end:
            body = urlencode(
                self.bench.answers() + [("csrf_token", csrf), ("client_uuid", self.outbox[0])]
            ).encode()
            try:
                conn.request("POST", self.path, body, headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.failures += 1
                time.sleep(0.05)
                continue  # no answer: keep the form and send it again
            if response.status == 303:
                self.acknowledged.append(self.outbox.pop(0))
            else:
                self.other.append(response.status)
                self.outbox.pop(0)
        conn.close()


def acknowledged(phones):
    """Return how many responses the phones have had acknowledged so far."""
    return sum(len(p.acknowledged) for p in phones)


def test_kill_gunicorn_mid_load_loses_and_doubles_nothing(database_url, tmp_path):
    """SIGKILL the gunicorn group mid-load, restart, re-send: every uuid stored exactly once."""
    bench = load_bench()
    url = database_url
    tokens = bench.seed(url, PHONES)
    env = bench.survey_env(url)  # one secret key for both runs: the phones keep their cookies
    port = bench.free_port()
    end = time.monotonic() + DEADLINE
    first = start(bench, port, env, tmp_path)
    try:
        phones = [Phone(bench, port, f"/c/{t}/{bench.SLUG}", end) for t in tokens]
        for phone in phones:
            phone.start()
        while acknowledged(phones) < KILL_AFTER and time.monotonic() < end:
            time.sleep(0.01)
        os.killpg(first.pid, signal.SIGKILL)  # master and workers at once, mid-request
        first.wait()
        killed_at = acknowledged(phones)
        # Every answer acknowledged before the crash is on disk (not re-sent, nothing masks it).
        on_disk = set(stored_uuids(url))
        assert {u for p in phones for u in p.acknowledged} <= on_disk
        second = start(bench, port, env, tmp_path)
        try:
            for phone in phones:
                phone.join(timeout=max(1, end - time.monotonic()))
        finally:
            bench.stop(second)
    finally:
        bench.stop(first)
    check(url, phones, killed_at, bench.ANSWERS_PER_RESPONSE)


def start(bench, port, env, tmp_path):
    """Start survey under gunicorn (2 workers, project settings) on the given port."""
    return bench.spawn("survey:create_app()", 2, tmp_path / "gunicorn.log", port, env)


def stored_uuids(url):
    """Return the client_uuids stored in the database, read through a connection of our own."""
    from survey.models import Response

    with create_app({"DATABASE_URL": url}).app_context(), database.connection_context():
        uuids = [r.client_uuid for r in Response.select(Response.client_uuid)]
    database.obj.close_all()
    return uuids


def check(url, phones, killed_at, answers_each):
    """Assert the crash happened mid-load and every form was stored exactly once."""
    from survey.models import Answer, Receipt

    assert all(not p.is_alive() for p in phones), "phones still sending at the deadline"
    assert 0 < killed_at < PHONES * FORMS_EACH, killed_at
    assert sum(p.failures for p in phones) > 0, "the kill did not interrupt any request"
    assert [s for p in phones for s in p.other] == []
    assert all(not p.outbox for p in phones)
    sent = [u for p in phones for u in p.acknowledged]
    assert len(sent) == len(set(sent)) == PHONES * FORMS_EACH
    assert sorted(stored_uuids(url)) == sorted(sent)  # none lost, none doubled, none invented
    with create_app({"DATABASE_URL": url}).app_context(), database.connection_context():
        assert Answer.select().count() == len(sent) * answers_each
        assert sum(r.count for r in Receipt.select()) == len(sent)
        if is_sqlite():
            assert database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    database.obj.close_all()
