"""The submit path's own cost in CPU instructions, against the bare endpoint's, in one process.

    python bench/submit_instructions.py [--requests 400]

bench/submit.py measures the budget itself, but on a shared 2-core machine its runs scatter by
30%: too much to see a change of a few percent. This counts instead, with valgrind's
cachegrind, the user-space instructions one request costs inside the application (Flask, the
session and CSRF checks, validation, the SQLite insert; not gunicorn, not the kernel), for the
bare app of bench/bare_app.py and for survey's personal form on a SQLite file. Each is run
twice in a fresh process, with no request and with --requests after the same warm-up, and the
difference is divided by --requests: start-up and warm-up cancel out. The same code gives the
same count within about 1%, whatever else the machine is doing.
Needs valgrind (Debian's package); CSRF is on, as in production.
"""

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WARM_UP = 200


def environ(path, body, cookie):
    """Return a WSGI environ of a form POST, as gunicorn would hand it over."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_COOKIE": cookie,
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def prepared_requests(target, count):
    """Return (app, environs) for `count` requests: the bare POST, or answers to survey's form."""
    import submit

    if target == "bare":
        import bare_app

        app = bare_app.create_app()
        path, cookie, extra = "/", "", []
    else:
        from survey import create_app

        url = "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="survey-instr-")) / "bench.db")
        token = submit.seed(url, 8)[0]
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "instructions",
                "PUBLIC_RATE_LIMIT": "100000000 per minute",
            }
        )
        path = f"/c/{token}/{submit.SLUG}"
        page = app.test_client().get(path)  # the phone opens the form: cookie and CSRF token
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
        cookie = page.headers["Set-Cookie"].split(";")[0]
        extra = [("csrf_token", csrf.group(1))]
    # The bare app gets the same answers (and ignores them), as in bench/submit.py.
    bodies = [
        urlencode([("client_uuid", str(uuid.uuid4())), *extra, *submit.answers()]).encode()
        for _ in range(count)
    ]
    return app, [environ(path, body, cookie) for body in bodies]


def serve(target, count):
    """Child process: warm up, then answer `count` requests; fail on any unexpected status."""
    app, environs = prepared_requests(target, WARM_UP + count)
    expected = "204" if target == "bare" else "303"
    statuses = []
    for env in environs:
        for _chunk in app.wsgi_app(env, lambda status, headers, exc=None: statuses.append(status)):
            pass
    wrong = [s for s in statuses if not s.startswith(expected)]
    if wrong:
        sys.exit(f"{target}: {len(wrong)} unexpected answers, e.g. {wrong[0]}")


def instructions(target, count, folder):
    """Return the instructions a child process serving `count` requests executed in all."""
    out = Path(folder) / f"{target}.{count}.out"
    subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            target,
            "--requests",
            str(count),
        ],
        check=True,
        capture_output=True,
    )
    summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
    return int(summary.split()[1])


def main(argv=None):
    """Count, print per-request instructions of both apps and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--child", choices=("bare", "submit"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return serve(args.child, args.requests)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install -y valgrind")
    per_request = {}
    with tempfile.TemporaryDirectory(prefix="survey-instr-") as folder:
        for target in ("bare", "submit"):
            total = instructions(target, args.requests, folder)
            base = instructions(target, 0, folder)
            per_request[target] = (total - base) / args.requests
            print(
                f"{target:8s} {per_request[target] / 1e6:6.3f} M instructions a request "
                f"({args.requests} requests after {WARM_UP} of warm-up)",
                flush=True,
            )
    print(
        f"bare / submit: {per_request['bare'] / per_request['submit']:.3f} "
        "(the application's own work only: no gunicorn, no kernel, no client)"
    )


if __name__ == "__main__":
    main()
