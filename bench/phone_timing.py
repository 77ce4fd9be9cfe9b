"""How fast the phone form is usable on a slow line, and offline after one visit.

    python bench/phone_timing.py [--runs 3]

Serves the demo data (a temporary SQLite file) under gunicorn on loopback and opens a
collaborator's form in Debian's Chromium at 360 px, with the network emulated as DevTools'
"Slow 3G" (400 ms latency, 400 kbit/s down and up). Prints, as medians of --runs fresh browsers:
the time from navigation to a usable form (its first question answerable) on the first visit;
the bytes the second visit fetched again; and the time to open the form offline after that
visit (the service worker's copy). Budgets: 1.5 s, no static file again, 300 ms.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLOW_3G = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 50_000,
    "uploadThroughput": 50_000,
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


def free_port():
    """Return a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(folder):
    """Seed the demo data and start gunicorn on it; return (process, base URL, a form path)."""
    env = {
        **os.environ,
        "SURVEY_DATABASE_URL": f"sqlite:///{folder}/phone.sqlite3",
        "SURVEY_SECRET_KEY": "phone-timing-" + "x" * 32,
    }
    survey = [str(Path(sys.executable).parent / "survey")]  # the console script beside Python
    subprocess.run([*survey, "init-db"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*survey, "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    roster = subprocess.run(
        [*survey, "collaborators", "export"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    link = next(cell for cell in roster.splitlines()[1].split(",") if "/c/" in cell)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "survey:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return process, f"http://127.0.0.1:{port}", "/c/" + link.split("/c/", 1)[1]


def one_run(playwright, base, home):
    """Return (first-visit ms to a usable form, bytes refetched on the second visit, offline ms)."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    probe = browser.new_page()  # finds the form's link without warming the measured context
    probe.goto(base + home)
    form = base + probe.locator("main a[href*='/c/']").first.get_attribute("href")
    probe.close()
    context = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="allow")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    start = time.perf_counter()
    page.goto(form, wait_until="commit")
    page.locator("form .q input, form .q textarea").first.wait_for(state="visible")
    first = (time.perf_counter() - start) * 1000
    page.wait_for_load_state("load")
    static, sent = set(), {}
    cdp.on(
        "Network.responseReceived",
        lambda e: static.add(e["requestId"]) if "/static/" in e["response"]["url"] else None,
    )
    cdp.on(
        "Network.loadingFinished", lambda e: sent.update({e["requestId"]: e["encodedDataLength"]})
    )
    page.goto(form, wait_until="load")
    page.wait_for_timeout(500)  # the last loadingFinished events
    again = sum(sent.get(request, 0) for request in static)  # bytes over the wire, 0 from cache
    context.set_offline(True)
    start = time.perf_counter()
    page.goto(form, wait_until="commit")
    page.locator("form .q input, form .q textarea").first.wait_for(state="visible")
    offline = (time.perf_counter() - start) * 1000
    browser.close()
    return first, again, offline


def main(argv=None):
    """Measure --runs fresh browsers against one server; print the medians and the budgets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        process, base, home = serve(folder)
        try:
            with sync_playwright() as playwright:
                runs = [one_run(playwright, base, home) for _ in range(args.runs)]
        finally:
            process.terminate()
            process.wait(timeout=30)
    first, again, offline = (statistics.median(values) for values in zip(*runs))
    print(f"first visit, Slow 3G, to a usable form: {first:.0f} ms (budget 1500 ms)")
    print(f"second visit, static bytes fetched again: {again:.0f} (budget 0)")
    print(f"offline after one visit, to a usable form: {offline:.0f} ms (budget 300 ms)")
    return 0 if first <= 1500 and again == 0 and offline <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
