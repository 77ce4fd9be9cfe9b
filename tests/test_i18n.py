"""Translations: every English msgid has a Vietnamese one, and the compiled catalog is current."""

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
VI_PO = ROOT / "survey/translations/vi/LC_MESSAGES/messages.po"
VI_MO = VI_PO.with_suffix(".mo")


def _catalog(path, reader=read_po):
    """Read a catalog file."""
    with open(path, "rb") as fh:
        return reader(fh) if reader is read_mo else reader(fh, locale="vi")


def _translated(message):
    """Tell whether a catalog entry has a translation for every form."""
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def _hashable(value):
    """Return plural ids and strings (lists in .mo, tuples in .po) as tuples."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_every_vietnamese_entry_is_translated():
    """No msgid of the vi catalog is left empty or fuzzy (a missing one silently shows English)."""
    catalog = _catalog(VI_PO)
    missing = [m.id for m in catalog if m.id and not _translated(m)]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not missing, f"untranslated: {missing}"
    assert not fuzzy, f"fuzzy: {fuzzy}"


def test_catalog_covers_every_string_in_the_source(tmp_path):
    """Every string marked in the code and templates is in the vi catalog."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "pyproject.toml",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        check=True,
        cwd=ROOT,
    )
    with open(pot, "rb") as fh:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    have = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog(VI_PO) if m.id}
    assert not wanted - have, f"not in the vi catalog: {sorted(wanted - have)}"


def test_compiled_catalog_matches_po():
    """messages.mo holds the same translations as messages.po (run `pybabel compile`)."""
    po = {
        _hashable(m.id): _hashable(m.string)
        for m in _catalog(VI_PO)
        if m.id and _translated(m) and not m.fuzzy
    }
    mo = {_hashable(m.id): _hashable(m.string) for m in _catalog(VI_MO, read_mo) if m.id}
    assert po == mo


def test_pages_switch_language(client):
    """Vietnamese by default; ?lang=en switches to English and is remembered."""
    assert "Đăng nhập" in client.get("/login").get_data(as_text=True)
    assert ">Log in<" in client.get("/login?lang=en").get_data(as_text=True)
    assert ">Log in<" in client.get("/login").get_data(as_text=True)
