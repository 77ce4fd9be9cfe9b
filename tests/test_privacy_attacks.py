"""Attacks on respondents' privacy, as an outside tester would run them: each recovers nothing.

A generic differencing attacker reads every table the API publishes (whole questionnaire, each
ward, each organisation, each ward × organisation, each breakdown) and solves every sum with one
unknown, again and again; it must never learn a count of a group under k.
"""

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import store_answers

from survey.cli.backup import backup
from survey.db import is_sqlite
from survey.models import Collaborator, Organisation, Questionnaire, Receipt, Response, Ward
from survey.questionnaires.file_format import import_questionnaire

ROOT = Path(__file__).resolve().parent.parent
K = 5
SPEC = {
    "title": "Ý kiến",
    "status": "open",
    "per_collaborator": "many",
    "questions": [
        {
            "key": "agree",
            "kind": "single",
            "prompt": "Đồng ý?",
            "choices": [{"key": "co", "label": "Có"}, {"key": "khong", "label": "Không"}],
        },
        {"key": "why", "kind": "text", "prompt": "Vì sao?"},
    ],
}


@pytest.fixture
def district(db):
    """Create 14 wards and 6 organisations."""
    wards = [Ward.create(code=f"P{i:02d}", name=f"Phường {i}") for i in range(1, 15)]
    orgs = [
        Organisation.create(code=c, name=c) for c in ("MTTQ", "DOAN", "LDLD", "HPN", "CCB", "X")
    ]
    return wards, orgs


def fill(app, q, wards, orgs, n=300, seed=17):
    """Store n responses: most in the first five organisations, a lone one in X; return truth."""
    rng = random.Random(seed)
    truth = []
    with app.test_request_context():
        for i in range(n):
            w = rng.choice(wards)
            o = orgs[-1] if i == 7 else rng.choice(orgs[:5])
            choice = rng.choice(["co", "khong"])
            store_answers(q, w, o, {"agree": choice, "why": f"lý do {i}"})
            truth.append((w.code, o.code, choice))
    return truth


def published(client, slug, wards, orgs):
    """Read every table the API publishes into {(measure, ward, organisation): value}."""
    known = {}

    def take(params, w, o):
        doc = client.get(f"/api/v1/questionnaires/{slug}/tallies", query_string=params)
        assert doc.status_code == 200, doc.data
        doc = doc.get_json()
        known[("responses", w, o)] = doc["responses"]
        for q in doc["questions"]:
            known[("answered", q["key"], w, o)] = q["answered"]
            for c in q["choices"]:
                known[("count", q["key"], c["key"], w, o)] = c["count"]
            for code, counts in (q.get("by") or {}).items():
                sub = (code, o) if params.get("by") == "ward" else (w, code)
                for key, n in counts.items():
                    known[("count", q["key"], key, *sub)] = n

    for by in (None, "ward", "organisation"):
        base = {"by": by} if by else {}
        take(base, None, None)
        for w in wards:
            take({**base, "ward": w.code}, w.code, None)
        for o in orgs:
            take({**base, "organisation": o.code}, None, o.code)
    for w in wards:
        for o in orgs:
            take({"ward": w.code, "organisation": o.code}, w.code, o.code)
    return {key: v for key, v in known.items() if v is not None}


def differenced(known, wards, orgs):
    """Solve every published sum with exactly one unknown, until nothing more comes out."""
    known = dict(known)
    measures = {key[:-2] for key in known}
    lines = []
    for m in measures:
        lines.append((m + (None, None), [m + (w.code, None) for w in wards]))
        lines.append((m + (None, None), [m + (None, o.code) for o in orgs]))
        for w in wards:
            lines.append((m + (w.code, None), [m + (w.code, o.code) for o in orgs]))
        for o in orgs:
            lines.append((m + (None, o.code), [m + (w.code, o.code) for w in wards]))
    for w in [None] + [w.code for w in wards]:
        for o in [None] + [o.code for o in orgs]:
            parts = [("count", "agree", c, w, o) for c in ("co", "khong")]
            lines.append((("answered", "agree", w, o), parts))
    changed = True
    while changed:
        changed = False
        for total, parts in lines:
            members = [total, *parts]
            unknown = [m for m in members if m not in known]
            if len(unknown) != 1:
                continue
            if unknown[0] == total:
                known[total] = sum(known[p] for p in parts)
            else:
                known[unknown[0]] = known[total] - sum(known[p] for p in parts if p in known)
            changed = True
    return known


def small_groups(truth, k=K):
    """Return the (ward, organisation) groups, margins included, with 1 to k-1 responses."""
    sizes = {}
    for w, o, _c in truth:
        for g in ((w, o), (w, None), (None, o), (None, None)):
            sizes[g] = sizes.get(g, 0) + 1
    return {g for g, n in sizes.items() if 0 < n < k}


def assert_nothing_small(known, truth):
    """Fail when the attacker knows any figure of a small group, or any count from 1 to k-1."""
    small = small_groups(truth)
    leaked = [key for key in known if tuple(key[-2:]) in small]
    assert not leaked, leaked[:5]
    assert not [key for key, v in known.items() if 0 < v < K], "a count under k came out"


def test_differencing_across_wards_organisations_and_breakdowns(app, district, login):
    """k = 5, 300 responses in 14 wards: totals, other groups and breakdowns give nothing small."""
    wards, orgs = district
    q = import_questionnaire({**SPEC, "slug": "k5", "suppress_below": K})
    truth = fill(app, q, wards, orgs)
    client = login("viewer")
    known = published(client, "k5", wards, orgs)
    assert_nothing_small(differenced(known, wards, orgs), truth)
    # Still useful: the whole district and every ward are shown, and they are right.
    assert known[("responses", None, None)] == 300
    for w in wards:
        assert known[("responses", w.code, None)] == sum(1 for t in truth if t[0] == w.code)
    assert known[("count", "agree", "co", None, None)] == sum(1 for t in truth if t[2] == "co")


def test_date_differencing_is_refused(app, district, login):
    """Counts and texts of a suppressed questionnaire take no dates: to=D-1 against to=D fails."""
    wards, orgs = district
    import_questionnaire({**SPEC, "slug": "k5", "suppress_below": K})
    client = login("viewer")
    for url in (
        "/api/v1/questionnaires/k5/tallies?ward=P01&to=2025-07-01",
        "/questionnaires/k5/tallies?to=2025-07-01",
        "/questionnaires/k5/answers/why?from=2025-07-01&to=2025-07-01",
        "/questionnaires/k5/tallies.xlsx?to=2025-07-01",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "Traceback" not in response.get_data(as_text=True)


def test_texts_of_small_groups_are_never_listed(app, district, login):
    """The lone respondent of organisation X: their text is on no list, under any filter."""
    wards, orgs = district
    q = import_questionnaire({**SPEC, "slug": "k5", "suppress_below": K})
    truth = fill(app, q, wards, orgs, n=120)
    lone = "lý do 7"
    client = login("viewer")
    filters = [{}] + [{"ward": w.code} for w in wards] + [{"organisation": o.code} for o in orgs]
    shown = 0
    for params in filters:
        for page in (1, 2, 3, 4, 5):
            html = client.get(
                "/questionnaires/k5/answers/why", query_string={**params, "page": page}
            ).get_data(as_text=True)
            assert f">{lone}<" not in html
            shown += html.count("answer-text")
    assert shown > 0 and truth[7][1] == "X"


def test_zeros_and_rates_name_nobody(app, district, login):
    """1 of 11 DOAN collaborators answered: DOAN is withheld whole, zeros too, by any filter."""
    wards, orgs = district
    q = import_questionnaire({**SPEC, "slug": "anon", "anonymous": True})
    doan = orgs[1]
    people = [
        Collaborator.create(name=f"Đoàn {i}", ward=wards[0], organisation=doan) for i in range(11)
    ]
    with app.test_request_context():
        store_answers(q, wards[0], doan, {"agree": "co"}, collaborator=people[0])
        rng = random.Random(3)
        for _i in range(40):
            store_answers(q, rng.choice(wards), rng.choice(orgs[2:5]), {"agree": "khong"})
    Questionnaire.update(status="closed").where(Questionnaire.id == q.id).execute()
    client = login("viewer")
    rates = client.get("/api/v1/questionnaires/anon/response-rates?by=organisation").get_json()
    assert {g["code"]: g["answered"] for g in rates["groups"]}["DOAN"] == 1
    doc = client.get("/api/v1/questionnaires/anon/tallies?by=organisation").get_json()
    assert doc["questions"][0]["by"]["DOAN"] == {"co": None, "khong": None}
    doc = client.get("/api/v1/questionnaires/anon/tallies?organisation=DOAN").get_json()
    assert doc["responses"] is None and {c["count"] for c in doc["questions"][0]["choices"]} == {
        None
    }
    known = differenced(published(client, "anon", wards, orgs), wards, orgs)
    assert not [key for key in known if key[-2:] in ((None, "DOAN"), ("P01", "DOAN"))]


def test_live_tallies_move_in_batches_of_k(app, district, login):
    """Anonymous: after each response, every published figure moves by 0 or by at least k."""
    wards, orgs = district
    q = import_questionnaire({**SPEC, "slug": "anon", "anonymous": True})
    client = login("viewer")
    before = published(client, "anon", wards[:3], orgs[:2])
    rng = random.Random(5)
    moves = 0
    for _i in range(40):
        with app.test_request_context():
            store_answers(q, rng.choice(wards[:3]), rng.choice(orgs[:2]), {"agree": "co"})
        after = published(client, "anon", wards[:3], orgs[:2])
        for key in set(before) & set(after):
            if key[0] == "responses":
                assert after[key] - before[key] in (0,) or after[key] - before[key] >= K, key
        moves += after.get(("responses", None, None)) != before.get(("responses", None, None))
        before = after
    assert moves >= 1  # the figures do move, a batch at a time


def test_anonymous_export_cannot_be_re_identified(app, district, login):
    """No id, no time, not in arrival order; small cells keep no ward or organisation."""
    wards, orgs = district
    q = import_questionnaire({**SPEC, "slug": "anon", "anonymous": True})
    uuids = []
    with app.test_request_context():
        for i in range(30):
            w, o = (wards[0], orgs[0]) if i < 25 else (wards[1 + i % 2], orgs[1])
            store_answers(q, w, o, {"agree": "co", "why": f"t{i:02d}"})
            uuids.append(Response.select(Response.client_uuid).order_by(Response.id.desc()).get())
    Questionnaire.update(status="closed").where(Questionnaire.id == q.id).execute()
    client = login("viewer")
    assert client.get("/questionnaires/anon/export.csv").status_code == 403
    client.post("/logout")
    client = login("admin")
    rows = [
        r.split(",")
        for r in client.get("/questionnaires/anon/export.csv?codes=1")
        .get_data(as_text=True)
        .lstrip("\ufeff")
        .splitlines()
    ]
    assert rows[0] == ["ward", "organisation", "agree", "why"]
    body = rows[1:]
    assert len(body) == 30
    assert all(r[:2] in (["P01", "MTTQ"], ["", ""]) for r in body)
    assert sum(1 for r in body if r[:2] == ["", ""]) == 5
    order = [r[3] for r in body]
    by_uuid = [f"t{i:02d}" for i in sorted(range(30), key=lambda i: uuids[i].client_uuid)]
    assert order == by_uuid and order != sorted(order)


def free_port():
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_access_log_carries_no_token(tmp_path):
    """gunicorn with the project's gunicorn.conf.py logs /c/… for a personal link, not its token."""
    db_file = tmp_path / "survey.db"
    env = {
        **os.environ,
        "SURVEY_DATABASE_URL": f"sqlite:///{db_file}",
        "SURVEY_SECRET_KEY": "x" * 40,
        "SURVEY_BIND": f"127.0.0.1:{free_port()}",
        "SURVEY_WORKERS": "1",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "survey", "init-db"], env=env, check=True, capture_output=True)
    subprocess.run([bin_dir / "survey", "demo"], env=env, check=True, capture_output=True)
    token = sqlite3.connect(db_file).execute("SELECT token FROM collaborator LIMIT 1").fetchone()[0]
    log = tmp_path / "access.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [bin_dir / "gunicorn", "-c", "gunicorn.conf.py", "survey:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            import urllib.error
            import urllib.request

            base = "http://" + env["SURVEY_BIND"]
            for _i in range(600):
                try:
                    urllib.request.urlopen(base + "/login", timeout=1)
                    break
                except urllib.error.HTTPError:
                    break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.1)
            for url, data in ((f"/c/{token}", None), (f"/c/{token}/some-slug", b"agree=co")):
                try:
                    urllib.request.urlopen(base + url, data=data, timeout=5)
                except urllib.error.HTTPError:
                    pass
            time.sleep(0.5)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
    text = log.read_text()
    assert re.search(r"POST /c/…/some-slug ", text) and re.search(r"GET /c/… ", text), text[-2000:]
    assert token not in text


def test_backup_writes_receipts_in_key_order(app, district, tmp_path):
    """Receipts stored in an order of their own come out of a backup sorted by their key."""
    wards, orgs = district
    q = import_questionnaire({**SPEC, "slug": "anon", "anonymous": True})
    people = [
        Collaborator.create(name=f"C{i}", ward=wards[i % 14], organisation=orgs[i % 5])
        for i in range(20)
    ]
    order = list(range(20))
    random.Random(1).shuffle(order)
    with app.test_request_context():
        for i in order:
            store_answers(
                q, people[i].ward, people[i].organisation, {"agree": "co"}, None, people[i]
            )
    assert Receipt.select().count() == 20
    path = backup(tmp_path / "copy.db" if is_sqlite() else tmp_path / "dump.sql")
    ids = sorted(p.id for p in people)
    if is_sqlite():
        copy = sqlite3.connect(path)
        stored = [r[0] for r in copy.execute("SELECT collaborator_id FROM receipt")]
        assert copy.execute("PRAGMA freelist_count").fetchone()[0] == 0
        # The receipts' leaf page: cells in key order (pointer array) must also lie in key
        # order on the page; SQLite fills a page from its end, so their offsets fall.
        size = copy.execute("PRAGMA page_size").fetchone()[0]
        root = copy.execute("SELECT rootpage FROM sqlite_master WHERE name = 'receipt'").fetchone()
        page = path.read_bytes()[(root[0] - 1) * size : root[0] * size]
        cells = int.from_bytes(page[3:5], "big")
        offsets = [int.from_bytes(page[8 + 2 * i : 10 + 2 * i], "big") for i in range(cells)]
        assert page[0] in (0x0A, 0x0D) and cells == 20
        assert offsets == sorted(offsets, reverse=True)
    else:
        text = path.read_text()
        block = text.split('COPY public."receipt"')[1].split("\\.")[0]
        stored = [int(line.split("\t")[1]) for line in block.splitlines()[1:] if line.strip()]
        assert "COPY public.receipt " not in text  # pg_dump left the table's rows to us
    assert stored == ids
