"""Benchmark the QR card sheet: 5,000 collaborators, against drawing their codes bare.

    python bench/cards.py [--collaborators 5000] [--qrcode-sample 300] [--no-gunicorn]

Makes the collaborators in a temporary SQLite file (15 wards × 6 organisations), then, in one
process: draws every card's code bare with segno (survey.network.qrcodes.draw_svg, the
baseline) and a sample with the qrcode library when it is installed (the library it replaced);
walks the whole sheet page by page through the app (Flask's test client, logged in) the first
time (codes drawn and kept), again (codes read back), and again after the posters page; then,
unless --no-gunicorn, walks it through gunicorn on 127.0.0.1 (one worker, started fresh: cold,
then warm). Prints seconds, the ratio to the bare drawing, the peak Python memory of one page
request and the peak RSS of the process (of the gunicorn worker, after its first page and after
the whole sheet: constant memory means the two stay close).
Budget (issue 21): the sheet of 5,000 in under 5 s cold, in constant memory.
"""

import argparse
import http.cookiejar
import re
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.submit import gunicorn, survey_env
from survey import create_app
from survey.db import database, migrate
from survey.models import Collaborator, CollaboratorCode, Organisation, Ward, new_token
from survey.network import qrcodes
from survey.questionnaires.file_format import import_questionnaire
from tests.helpers import make_user

BASE_URL = "https://khaosat.quan10.example.vn"
WARDS = 15
ORGANISATIONS = ["MTTQ", "DOAN", "LDLD", "HLHPN", "HCCB", "BTG"]
CODE = re.compile(r'<svg class="qr"')
POSTERS = {
    "slug": "bench",
    "title": "Ý kiến về chỉnh trang đô thị",
    "status": "open",
    "open_link": True,
    "questions": [{"key": "ok", "kind": "single", "prompt": "Đồng ý?", "choices": [
        {"key": "yes", "label": "Có"}, {"key": "no", "label": "Không"}]}],
}  # fmt: skip


def seed(count):
    """Make the wards, organisations, `count` collaborators, a poster questionnaire and an admin."""
    wards = [Ward.create(code=f"P{n:02d}", name=f"Phường {n}") for n in range(1, WARDS + 1)]
    orgs = [Organisation.create(code=c, name=f"Tổ chức {c}") for c in ORGANISATIONS]
    rows = [
        {
            "name": f"Nguyễn Văn Cộng Tác {i:05d}",
            "phone": f"09{i:08d}",
            "ward": wards[i % len(wards)].id,
            "organisation": orgs[(i // len(wards)) % len(orgs)].id,
            "token": new_token(),
        }
        for i in range(count)
    ]
    with database.atomic():
        for start in range(0, count, 500):
            Collaborator.insert_many(rows[start : start + 500]).execute()
    import_questionnaire(POSTERS)
    make_user("bench", "admin", password="bench-pass")


def timed(work):
    """Return (seconds, result) of work()."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def walk(get):
    """GET every page of the sheet with get(path) -> (status, html); return the cards seen."""
    cards, page = 0, 1
    while True:
        status, html = get(f"/network/cards?page={page}")
        if status == 404:
            return cards
        assert status == 200, (page, status)
        cards += len(CODE.findall(html))
        page += 1


def qrcode_drawer():
    """Return a function drawing an SVG code as survey did with qrcode (None: not installed)."""
    try:
        import qrcode
        import qrcode.image.svg
    except ImportError:
        return None

    def draw(text):
        """Draw one code as before (level M, four-module border, path SVG)."""
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        code.add_data(text)
        code.make(fit=True)
        return code.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string()

    return draw


def compare_libraries(links, rounds=3):
    """Print segno against qrcode on the same links, in turns (medians a code, milliseconds)."""
    old = qrcode_drawer()
    if old is None:
        print("qrcode is not installed: no comparison")
        return
    times = {"segno": [], "qrcode": []}
    for _ in range(rounds):
        for name, draw in (("segno", qrcodes.draw_svg), ("qrcode", old)):
            seconds, _ = timed(lambda draw=draw: [draw(link) for link in links])
            times[name].append(seconds / len(links))
    segno_ms, qrcode_ms = (1000 * statistics.median(times[k]) for k in ("segno", "qrcode"))
    print(
        f"libraries, {len(links)} codes x {rounds} turns: segno {segno_ms:.2f} ms a code, "
        f"qrcode {qrcode_ms:.2f} ms: segno {qrcode_ms / segno_ms:.2f}x as fast"
    )


def in_process(app, links, sample):
    """Measure the bare drawing and the sheet through the test client; return the bare seconds."""
    bare, _ = timed(lambda: [qrcodes.draw_svg(link) for link in links])
    each = bare / len(links)
    print(f"bare: segno draws the {len(links):,} codes in {bare:.2f} s ({1000 * each:.2f} ms each)")
    compare_libraries(links[:sample])
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench-pass"})

    def get(path):
        """GET a page through the test client."""
        reply = client.get(path)
        return reply.status_code, reply.get_data(as_text=True)

    first, seen = timed(lambda: walk(get))
    assert seen == len(links), seen
    kept = CollaboratorCode.select().count()
    print(
        f"app, first print (draws and keeps {kept:,} codes): {first:.2f} s, "
        f"{first / bare:.2f}x bare"
    )
    again, _ = timed(lambda: walk(get))
    print(f"app, again (codes read back): {again:.2f} s, {again / bare:.3f}x bare")
    assert get("/network/posters/bench")[0] == 200
    after, _ = timed(lambda: walk(get))
    print(f"app, after the posters page: {after:.2f} s, {after / bare:.3f}x bare")
    tracemalloc.start()
    get("/network/cards?page=1")
    page_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak Python memory of one page request: {page_peak / 2**20:.1f} MiB")
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
        " MiB"
    )
    return bare


def worker_peak(pgid):
    """Return the largest peak RSS (VmHWM, MiB) among the gunicorn worker processes of a group."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            stat = (status.parent / "stat").read_text().rpartition(")")[2].split()
            if int(stat[2]) != pgid or int(status.parent.name) == pgid:
                continue  # not in the group, or the master
            hwm = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        except OSError:
            continue
        if hwm:
            peaks.append(int(hwm.group(1)) / 1024)
    return max(peaks, default=0.0)


def through_gunicorn(url, bare, tmp):
    """Walk the sheet through a fresh gunicorn worker on 127.0.0.1: cold, then warm."""
    env = {
        **survey_env(url),
        "SURVEY_BASE_URL": BASE_URL,
        "SURVEY_LOGIN_RATE_LIMIT": "1000 per minute",
    }
    with gunicorn("survey:create_app()", 1, Path(tmp) / "gunicorn.log", env=env) as (port, pgid):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        root = f"http://127.0.0.1:{port}"
        form = opener.open(root + "/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        data = {"username": "bench", "password": "bench-pass", "csrf_token": token}
        opener.open(root + "/login", urllib.parse.urlencode(data).encode()).read()

        def get(path):
            """GET a page over HTTP."""
            try:
                with opener.open(root + path) as reply:
                    return reply.status, reply.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, ""

        first_page, _ = timed(lambda: get("/network/cards?page=1"))
        after_one = worker_peak(pgid)
        cold, seen = timed(lambda: walk(get))
        after_all = worker_peak(pgid)
        warm, _ = timed(lambda: walk(get))
        print(
            f"gunicorn, a fresh worker: first page {first_page:.2f} s; whole sheet ({seen:,} "
            f"cards) cold {cold:.2f} s ({cold / bare:.3f}x bare), warm {warm:.2f} s "
            f"({warm / bare:.3f}x bare)"
        )
        print(
            f"gunicorn worker peak RSS: {after_one:.0f} MiB after one page, {after_all:.0f} MiB "
            "after the sheet"
        )


def main(argv=None):
    """Make the collaborators, then measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collaborators", type=int, default=5000)
    parser.add_argument("--qrcode-sample", type=int, default=300)
    parser.add_argument("--no-gunicorn", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="survey-cards-") as tmp:
        url = "sqlite:///" + str(Path(tmp) / "cards.sqlite3")
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench-cards",
                "BASE_URL": BASE_URL,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )
        with app.app_context():
            migrate()
            with database.connection_context():
                seed(args.collaborators)
                links = [
                    f"{BASE_URL}/c/{t}" for (t,) in Collaborator.select(Collaborator.token).tuples()
                ]
            print(
                f"{args.collaborators:,} collaborators in {WARDS} wards × {len(ORGANISATIONS)} "
                "organisations"
            )
            bare = in_process(app, links, min(args.qrcode_sample, len(links)))
        database.obj.close_all()
        if not args.no_gunicorn:
            through_gunicorn(url, bare, tmp)


if __name__ == "__main__":
    main()
