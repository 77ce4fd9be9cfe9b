"""Benchmark the Word report at scale: its time against the tally it is built on, in one run.

    python bench/report.py [--responses 100000] [--sqlite PATH]

Fills a fresh SQLite file with a 10-question questionnaire (bench/tallies.py's first six single
choice questions, a multiple choice, two scales and a written question; two questions mark
concern, so section III has hotspots to look for), then prints, as medians of warm runs taken in
turns: the tallies API document (the baseline), `report.docx` with five written answers a
question, and the printable A4 page, each in milliseconds and as a ratio to the baseline.
DESIGN's budget: the Word report of a 10-question questionnaire with 100,000 responses in
under 3 s.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tallies as base  # bench/tallies.py: the questionnaire, the bulk fill, runs in turns

from survey import create_app
from survey.db import database, migrate
from survey.questionnaires.file_format import import_questionnaire
from survey.tallies.counting import tally

KEPT = ("s0", "s1", "s2", "s3", "s4", "s5", "m0", "sc0", "sc1", "t0")


def report_spec():
    """Return the 10-question questionnaire; s0 and sc0 mark concern."""
    spec = base.questionnaire_spec()
    spec.update(slug="report", title="Báo cáo đo hiệu năng")
    spec["questions"] = [item for item in spec["questions"] if item["key"] in KEPT]
    for item in spec["questions"]:
        if item["key"] == "s0":
            item["concern"] = {"choices": ["c0"]}
        if item["key"] == "sc0":
            item["concern"] = {"at_most": 2}
    return spec


def run(url, n):
    """Fill the questionnaire and print each measured thing's median and ratio to the tally."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False})
    with app.app_context(), database.connection_context():
        migrate()
        base.add_places()
        questionnaire = import_questionnaire(report_spec())
        base.fill(questionnaire, n, seed=1)
        client = base.admin_client(app)
        word = client.get("/questionnaires/report/report.docx?texts=5")
        assert word.status_code == 200 and word.data[:2] == b"PK", word.status_code
        medians = base.interleaved(
            {
                "tally API document (baseline)": lambda: tally(questionnaire).api(),
                "report.docx (texts=5)": lambda: (
                    client.get("/questionnaires/report/report.docx?texts=5").data
                ),
                "printable A4 page": lambda: client.get("/questionnaires/report/report").data,
            }
        )
    baseline = medians["tally API document (baseline)"]
    print(f"[sqlite] {n:,} responses, 10 questions; medians of {base.RUNS} runs in turns")
    for name, seconds in medians.items():
        print(f"  {name:32} {seconds * 1000:8.1f} ms  {seconds / baseline:5.2f} × baseline")
    print(f"  budget: report.docx under 3 s -> {medians['report.docx (texts=5)']:.2f} s")


def main():
    """Run the benchmark on a fresh SQLite file."""
    base.on_fresh_sqlite(run, __doc__, 100_000)


if __name__ == "__main__":
    main()
