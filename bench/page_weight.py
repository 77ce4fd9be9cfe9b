"""Weigh the phone form on the wire: the page, what it loads and its service worker, gzipped.

Starts the app on a temporary SQLite database seeded with the demo data, serves it on a
loopback port, fetches the collaborator's page, the personal form and the open-link form with
`Accept-Encoding: gzip`, and prints the bytes on the wire per resource. Exits 1 when a page is
over budget or loads anything from another host.

    python bench/page_weight.py
"""

import gzip
import http.client
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.serving import make_server

from survey import create_app
from survey.cli.demo import SAMPLE_SLUG, seed, showcase_collaborators
from survey.db import database, migrate

BUDGET = 30 * 1024


class Resources(HTMLParser):
    """Collect the addresses a page makes the browser load: stylesheets, scripts, images, icons."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        """Note a loaded resource."""
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href") and attrs.get("rel") in ("stylesheet", "icon"):
            self.urls.append(attrs["href"])
        elif tag == "img" and attrs.get("src"):
            self.urls.append(attrs["src"])


def fetch(port, path):
    """GET a path asking for gzip; return (status, encoding, body bytes, header bytes, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    header_bytes = (
        len(f"HTTP/1.1 {response.status} {response.reason}\r\n")
        + sum(len(f"{name}: {value}\r\n") for name, value in response.getheaders())
        + 2
    )
    conn.close()
    return (
        response.status,
        response.getheader("Content-Encoding", "-"),
        len(body),
        header_bytes,
        body,
    )


def weigh(port, path):
    """Print the weight of one page and what it loads; return (total wire bytes, foreign urls)."""
    status, encoding, size, headers, body = fetch(port, path)
    html = gzip.decompress(body).decode() if encoding == "gzip" else body.decode()
    parser = Resources()
    parser.feed(html)
    if 'data-sw-url="' in html:  # the phone script registers the service worker on a first visit
        parser.urls.append(html.split('data-sw-url="', 1)[1].split('"', 1)[0])
    rows = [(path, status, encoding, size, headers, len(html.encode()))]
    foreign = []
    for url in parser.urls:
        if url.startswith("data:"):
            continue
        parts = urlsplit(url)
        if parts.netloc:
            foreign.append(url)
            continue
        r_status, r_encoding, r_size, r_headers, r_body = fetch(port, url)
        raw = len(gzip.decompress(r_body)) if r_encoding == "gzip" else r_size
        rows.append((url, r_status, r_encoding, r_size, r_headers, raw))
    print(f"\n{'resource':<58} {'status':>6} {'enc':>5} {'wire':>7} {'+hdrs':>6} {'raw':>7}")
    for url, r_status, r_encoding, r_size, r_headers, raw in rows:
        shown = url if len(url) <= 58 else url[:27] + "…" + url[-30:]
        print(f"{shown:<58} {r_status:>6} {r_encoding:>5} {r_size:>7,} {r_headers:>6,} {raw:>7,}")
    bodies = sum(r[3] for r in rows)
    with_headers = bodies + sum(r[4] for r in rows)
    verdict = "within" if with_headers <= BUDGET else "OVER"
    print(
        f"total: {bodies:,} bytes of bodies, {with_headers:,} with headers "
        f"({with_headers / 1024:.1f} KB) — {verdict} the {BUDGET // 1024} KB budget"
    )
    return with_headers, foreign


def serve(app):
    """Serve the app on a free loopback port in a daemon thread; return the server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    """Seed a temporary database, serve it, weigh the phone forms, exit 1 if over budget."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "DATABASE_URL": "sqlite:///" + str(Path(folder) / "bench.sqlite3"),
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
            }
        )
        migrate()
        with app.app_context(), database.connection_context():
            seed()
            token = showcase_collaborators(1)[0].token
        server = serve(app)
        try:
            results = [
                weigh(server.server_port, f"/c/{token}"),
                weigh(server.server_port, f"/c/{token}/{SAMPLE_SLUG}"),
                weigh(server.server_port, f"/s/{SAMPLE_SLUG}"),
            ]
        finally:
            server.shutdown()
            database.obj.close_all()
    foreign = [url for _, urls in results for url in urls]
    if foreign:
        print("loads from another host:", ", ".join(foreign))
    return 1 if foreign or any(total > BUDGET for total, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
