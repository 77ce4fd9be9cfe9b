"""A city's roster at once: 100,000 rows imported under SQLite's smallest default variable limit."""

import sqlite3

from survey.db import database, is_sqlite
from survey.models import Collaborator
from survey.network import roster

ROWS = 100_000


def test_hundred_thousand_rows_fit_the_smallest_variable_limit(network):
    """With SQLITE_LIMIT_VARIABLE_NUMBER at 32,766 (upstream SQLite's default), a 100,000-row
    roster imports whole, each person once, with their ward and organisation."""
    if is_sqlite():
        connection = database.connection()
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
        assert connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == 32_766
    lines = ["Họ tên,Số điện thoại,Tổ chức,Phường"]
    lines += [
        f"Người {n},09{n:08d},{'MTTQ' if n % 2 else 'DOAN'},{'P1' if n % 3 else 'P2'}"
        for n in range(ROWS)
    ]
    preview = roster.read("\n".join(lines).encode())
    assert preview.ok, preview.problems[:3]
    before = Collaborator.select().count()
    assert roster.import_preview(preview) == ROWS
    assert Collaborator.select().count() == before + ROWS
    last = Collaborator.get(Collaborator.phone == f"09{ROWS - 1:08d}")
    assert (last.name, last.organisation.code, last.ward.code) == (
        f"Người {ROWS - 1}",
        "MTTQ",
        "P2",
    )
    tokens = Collaborator.select(Collaborator.token).distinct().count()
    assert tokens == Collaborator.select().count()


def test_import_refreshes_the_planner_statistics(network):
    """After an import SQLite's statistics know the collaborator table's size."""
    if not is_sqlite():
        return
    preview = roster.read("Họ tên,Số điện thoại,Tổ chức,Phường\nAn,0901234567,MTTQ,P1\n".encode())
    roster.import_preview(preview)
    stat = database.execute_sql(
        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'collaborator' AND idx IS NULL"
        " OR tbl = 'collaborator' LIMIT 1"
    ).fetchone()
    assert stat is not None and int(stat[0].split()[0]) == Collaborator.select().count()
