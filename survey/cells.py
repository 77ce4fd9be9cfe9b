"""What a spreadsheet cell may hold: CSV text that Excel or LibreOffice could run as a formula.

A CSV cell starting with = + - @ (or a tab or carriage return) is run as a formula when the file
is opened; so is every part after a ";" in Excel set to ";" as its list separator (the
Vietnamese default), which splits a comma-separated file on semicolons. Such a cell, and such a
part, gets an apostrophe in front, which spreadsheets show as text. XLSX string cells are never
formulas and are written as they are.
"""

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A part after a semicolon that would start a formula once the semicolon splits the cell.
AFTER_SEMICOLON = re.compile(r";([ ]*)([=+\-@\t\r])")


def neutralise(value):
    """Return a CSV cell's text that no spreadsheet runs as a formula (None becomes empty)."""
    text = "" if value is None else str(value)
    text = AFTER_SEMICOLON.sub(r";\1'\2", text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralise(cell):
    """Undo the leading apostrophe an export put before a formula-like cell (a roster read back)."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell
