"""Export jobs: a large export prepared in a process of its own, followed on a page, downloaded.

A job is a row of `export_job` (who asked for what, how far it got, where its file is) and a
`python -m survey.tallies.jobs TOKEN` process started in a session of its own: it outlives
the web worker that started it, never holds a worker while it writes, and runs at a lower CPU
priority (EXPORT_NICE) than the phones' requests. At most EXPORT_JOBS jobs of a machine write
at once; the others wait for a slot (a file lock in the export folder), reported as running
at 0. The finished file stays in the export folder (EXPORT_FOLDER, by default `exports` in the
instance folder) for EXPORT_KEEP_HOURS, so its link survives a restart. A job whose process
stopped beating (no progress written for STALE seconds) is reported as failed.
"""

import datetime
import fcntl
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from survey.db import database
from survey.models import ExportJob, Questionnaire, utcnow
from survey.tallies import exports
from survey.tallies.counting import parse_filters

RUNNING, DONE, FAILED = "running", "done", "failed"
BEAT = 2.0  # seconds between two progress writes of a running job
STALE = 60  # seconds without a beat after which a running job is reported as failed
_children = []  # this process's job processes not yet seen to end
PASSED = ("DATABASE_URL", "SECRET_KEY", "TIMEZONE", "SQLITE_SYNCHRONOUS")  # config a job reuses


def folder(app=None):
    """Return the export folder (made if missing)."""
    app = app or current_app
    path = Path(app.config.get("EXPORT_FOLDER") or Path(app.instance_path) / "exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def create(questionnaire, user, kind, params):
    """Record a job for a user and start its process; return the job.

    `params` holds what the job needs to make the same file as the request would have:
    the query string, the codes variant, the language and the viewer's organisation scope.
    """
    _forget_old()
    job = ExportJob.create(
        user=user.id,
        questionnaire=questionnaire.id,
        token=secrets.token_urlsafe(24),
        kind=kind,
        params=json.dumps(params, ensure_ascii=False),
        state=RUNNING,
        progress=0.0,
        rows=0,
        file="",
        error="",
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    app = current_app
    env = dict(os.environ)
    for key in PASSED:
        if isinstance(app.config.get(key), str):
            env[f"SURVEY_{key}"] = json.dumps(app.config[key])
    env["SURVEY_EXPORT_FOLDER"] = json.dumps(str(folder()))
    env["SURVEY_EXPORT_NICE"] = json.dumps(app.config.get("EXPORT_NICE", 10))
    env["SURVEY_EXPORT_JOBS"] = json.dumps(app.config.get("EXPORT_JOBS", 1))
    # Kept until it has ended, so this process reaps it (never a zombie); checked at each start.
    _children[:] = [child for child in _children if child.poll() is None]
    child = subprocess.Popen(
        [sys.executable, "-m", "survey.tallies.jobs", job.token],
        env=env,
        start_new_session=True,  # a worker's restart does not take the job down with it
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
    )
    _children.append(child)
    return job


def _forget_old():
    """Delete the jobs (and files) older than EXPORT_KEEP_HOURS."""
    hours = current_app.config.get("EXPORT_KEEP_HOURS", 24)
    old = ExportJob.select().where(
        ExportJob.created_at < utcnow() - datetime.timedelta(hours=hours)
    )
    for job in old:
        if job.file:
            Path(job.file).unlink(missing_ok=True)
    ExportJob.delete().where(ExportJob.id.in_([j.id for j in old] or [0])).execute()


def state(job):
    """Return a job's state as shown: a running job that stopped beating has failed."""
    if job.state == RUNNING and job.updated_at < utcnow() - datetime.timedelta(seconds=STALE):
        return FAILED
    if job.state == DONE and not Path(job.file).exists():
        return FAILED
    return job.state


class Progress(threading.Thread):
    """A job's heartbeat: writes how many rows it has made every BEAT seconds, from a thread of
    its own, so a long step without rows (zipping the workbook) still beats."""

    def __init__(self, job):
        """Start counting rows for a job; total is set once the job knows it."""
        super().__init__(name="export-progress", daemon=True)
        self.job, self.total, self.rows = job, 1, 0
        self.finished = threading.Event()

    def run(self):
        """Beat until the job ends."""
        with database.connection_context():
            while not self.finished.wait(BEAT):
                self.beat()

    def beat(self):
        """Write the progress now."""
        ExportJob.update(
            progress=min(self.rows / self.total, 0.99), rows=self.rows, updated_at=utcnow()
        ).where(ExportJob.id == self.job.id).execute()

    def count(self, rows):
        """Yield rows, counting them as they pass."""
        for row in rows:
            self.rows += 1
            yield row


def _free_slot(path, name, slots):
    """Take one of this machine's slots (a file lock held while the file is open), or None.

    Named by host: machines sharing the export folder each keep their own slots.
    """
    for n in range(slots):
        handle = open(path / f"{name}-{socket.gethostname()}-{n}.lock", "a+b")  # noqa: SIM115 (held while the work runs)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            handle.close()
    return None


def _slot(path, slots):
    """Wait for one of a machine's job slots; return its open file."""
    while (handle := _free_slot(path, "job", max(int(slots), 1))) is None:
        time.sleep(1)
    return handle


def stream_slot():
    """Take a slot for an export streamed by a web worker, or None when EXPORT_STREAMS run.

    A streamed export holds its worker to the last byte: the cap keeps the other workers for
    the phones, and an export past it becomes a job.
    """
    return _free_slot(folder(), "stream", int(current_app.config["EXPORT_STREAMS"]))


def holding(slot, chunks):
    """Yield the chunks, then let the slot go (also when the download is abandoned)."""
    try:
        yield from chunks
    finally:
        slot.close()


def file_chunks(path):
    """Yield a finished job's file in blocks (the file stays, for another download)."""
    with open(path, "rb") as handle:
        while block := handle.read(256 * 1024):
            yield block


def _write(job, target, progress):
    """Write a job's file as its request would have (language, scope, filters), then move it."""
    params = json.loads(job.params)
    questionnaire = Questionnaire.get_by_id(job.questionnaire_id)
    part = target.with_suffix(".part")
    with force_locale(params["locale"]):
        filters = parse_filters(MultiDict(params["args"]), params["scope"], questionnaire)
        progress.total = max(exports.count_rows(questionnaire, filters), 1)
        rows = exports.response_rows(questionnaire, filters, params["codes"], job.kind == "csv")
        rows = progress.count(rows)
        if job.kind == "csv":
            with open(part, "wb") as handle:
                handle.writelines(exports.csv_stream(rows, prepared=True))
        else:
            sheets = exports.response_sheets(questionnaire, filters, rows, params["codes"])
            exports.write_xlsx(str(part), sheets)
    os.replace(part, target)


def run(token):
    """Make one job's file (in this process), recording progress, the result or the failure."""
    from survey import create_app

    app = create_app()
    with app.app_context(), database.connection_context():
        job = ExportJob.get_or_none(ExportJob.token == token)
        if job is None or job.state != RUNNING:
            return
        progress = Progress(job)
        progress.start()
        path = folder(app)
        try:
            os.nice(int(app.config.get("EXPORT_NICE", 10)))
            with _slot(path, app.config.get("EXPORT_JOBS", 1)):
                target = path / f"{job.id}-{job.token}.{job.kind}"
                _write(job, target, progress)
            outcome = {"state": DONE, "progress": 1.0, "file": str(target)}
        except BaseException as error:
            outcome = {"state": FAILED, "error": repr(error)[:2000]}
            raise
        finally:
            progress.finished.set()
            progress.join()
            outcome.update(rows=progress.rows, updated_at=utcnow())
            ExportJob.update(outcome).where(ExportJob.id == job.id).execute()


if __name__ == "__main__":
    run(sys.argv[1])
