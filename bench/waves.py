"""Benchmark what waves and the dashboard's hotspots add: ratios against a tally in the same run.

    python bench/waves.py [--responses 20000] [--sqlite PATH]

Fills a fresh SQLite file with two waves of bench/tallies.py's 20-question questionnaire
(the second repeats the first, `responses` each, two of its questions marking concern), then
prints, as medians of warm runs taken in turns: the tallies API document of the first wave
(the baseline: a questionnaire that repeats none), the same of the second (its own tally, the
earlier wave's tally and the comparison), the printable report's page, and the dashboard's
hotspots of both open waves (`hotspots.of_open`), each as a ratio to the baseline.
"""

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tallies as base  # bench/tallies.py: the questionnaire, the bulk fill, runs in turns

from survey import create_app
from survey.db import database, migrate
from survey.questionnaires.file_format import import_questionnaire
from survey.tallies import hotspots, waves
from survey.tallies.counting import tally


def wave_specs():
    """Return the two waves' files: the second repeats the first; s0 and sc0 mark concern."""
    first = base.questionnaire_spec()
    first.update(slug="wave-1", title="Đợt 1")
    for item in first["questions"]:
        if item["key"] == "s0":
            item["concern"] = {"choices": ["c0"]}
        if item["key"] == "sc0":
            item["concern"] = {"at_most": 2}
    second = copy.deepcopy(first)
    second.update(slug="wave-2", title="Đợt 2", repeat_of="wave-1")
    return first, second


def run(url, n):
    """Fill both waves and print each measured thing's median and its ratio to the baseline."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False})
    with app.app_context(), database.connection_context():
        migrate()
        base.add_places()
        first_spec, second_spec = wave_specs()
        first = import_questionnaire(first_spec)
        base.fill(first, n, seed=1)
        second = import_questionnaire(second_spec)
        base.fill(second, n, seed=2)
        client = base.admin_client(app)

        def api_of(questionnaire):
            """Return the tallies API document of a questionnaire, previous figures included."""
            t = tally(questionnaire)
            return waves.api(t.api(), waves.compare(questionnaire, t))

        assert client.get("/questionnaires/wave-2/report").status_code == 200
        medians = base.interleaved(
            {
                "tally API, no earlier wave (baseline)": lambda: api_of(first),
                "tally API of the repeat (+ earlier wave)": lambda: api_of(second),
                "printable report of the repeat": lambda: client.get(
                    "/questionnaires/wave-2/report"
                ),
                "dashboard hotspots of both waves": lambda: hotspots.of_open([first, second]),
            }
        )
    baseline = medians["tally API, no earlier wave (baseline)"]
    print(f"[sqlite] {n:,} responses a wave, 20 questions; medians of {base.RUNS} runs in turns")
    for name, seconds in medians.items():
        print(f"  {name:45} {seconds * 1000:8.1f} ms  {seconds / baseline:5.2f} × baseline")


def main():
    """Run the benchmark on a fresh SQLite file."""
    base.on_fresh_sqlite(run, __doc__, 20_000)


if __name__ == "__main__":
    main()
