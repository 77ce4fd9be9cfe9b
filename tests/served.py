"""Helpers of the tests that run survey as deployed: gunicorn, TLS, a TLS proxy, seeding."""

import contextlib
import http.client
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

from survey import create_app
from survey.db import database, migrate
from survey.models import Collaborator, Organisation, Ward
from survey.questionnaires.file_format import import_questionnaire
from tests.helpers import make_user

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
START_SECONDS = 30
SLUG = "tls"
QUESTIONNAIRE = {
    "slug": SLUG,
    "title": "Ý kiến qua HTTPS",
    "status": "open",
    "anonymous": False,
    "per_collaborator": "many",
    "open_link": False,
    "questions": [
        {
            "key": "agree",
            "kind": "single",
            "prompt": "Bạn có đồng ý?",
            "required": True,
            "choices": [{"key": "yes", "label": "Đồng ý"}, {"key": "no", "label": "Không"}],
        }
    ],
}
# Headers that belong to one hop of a connection, never passed on by a proxy.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def seed(url):
    """Migrate a fresh database; add accounts, a collaborator and an open form; return its token."""
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "seed"})
    with app.app_context():
        migrate()
        with database.connection_context():
            ward = Ward.create(code="P1", name="Phường 1")
            organisation = Organisation.create(code="MTTQ", name="Ủy ban MTTQ")
            person = Collaborator.create(name="CTV", ward=ward, organisation=organisation)
            import_questionnaire(QUESTIONNAIRE)
            make_user("boss", "admin")
            make_user("victim", "viewer")
    database.obj.close_all()
    return person.token


def query(url, sql):
    """Return the rows of one SQL statement, read through a connection of the test's own."""
    with create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "read"}).app_context():
        with database.connection_context():
            rows = list(database.execute_sql(sql))
    database.obj.close_all()
    return rows


def free_port():
    """Return a TCP port free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def certificates(tmp_path):
    """Make a throwaway CA and a certificate for 127.0.0.1; return (ca, cert file, key file)."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    server.cert_chain_pems[0].write_to_path(str(cert))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    server.private_key_pem.write_to_path(str(key))
    return ca, cert, key


def connection(port, ca=None):
    """Return an HTTP connection to a loopback port, over TLS trusting ca when given."""
    if ca is None:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)


def start(env, log_path, port, tls=None, ca=None, workers=2):
    """Start survey under gunicorn with the project's settings; wait until it answers /healthz."""
    command = [GUNICORN, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers)]
    if tls:
        command += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*command, "survey:create_app()"],
            cwd=ROOT,
            env={**os.environ, "PATH": f"{Path(GUNICORN).parent}:{os.environ['PATH']}", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stop() reaches every worker
        )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{Path(log_path).read_text()[-3000:]}")
        conn = connection(port, ca)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    stop(process)
    raise RuntimeError(f"gunicorn did not answer in {START_SECONDS} s")


def _bench_submit():
    """Import bench/submit.py, which owns stopping a gunicorn process group (as test_crash does)."""
    spec = importlib.util.spec_from_file_location("bench_submit", ROOT / "bench" / "submit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Stop a gunicorn master and its workers, gently then firmly: the bench's own.
stop = _bench_submit().stop


def forwarding_handler(upstream):
    """Return a request handler that passes each request to upstream with X-Forwarded-*."""

    class Forward(BaseHTTPRequestHandler):
        """Pass one request on to the app server, as a TLS-terminating proxy does."""

        def forward(self):
            """Send the request upstream and its answer back, unchanged but for hop headers."""
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            headers["Host"] = self.headers.get("Host", "")
            headers["X-Forwarded-For"] = self.client_address[0]
            headers["X-Forwarded-Proto"] = "https"
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=20)
            try:
                conn.request(self.command, self.path, body, headers)
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_HEAD = forward

        def log_message(self, format, *args):
            """Keep the test's output quiet."""

    return Forward


@contextlib.contextmanager
def tls_proxy(upstream, cert, key):
    """Serve HTTPS on a free loopback port, passing requests to upstream; yield its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), forwarding_handler(upstream))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
