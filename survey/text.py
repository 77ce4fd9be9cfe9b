"""What text the app accepts, wherever it arrives: answers, questionnaires, rosters.

Refused anywhere: control characters but line breaks and tabs, C1 controls (U+0085 among them),
the bidi embeddings, overrides and isolates that make stored text read differently from what it
holds, lone surrogates, and U+FFFD (what undecodable bytes became). Zero-width and other
invisible characters are trimmed at the ends like spaces, so a text made only of them is empty.
"""

import re

INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
EDGES = re.compile(f"^[\\s{INVISIBLE}]+|[\\s{INVISIBLE}]+$")
REFUSED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffd]"
)
LINE_BREAKS = re.compile("[\t\n\r]")


def has_refused(text, multiline=True):
    """Tell whether text holds a refused character (tabs and line breaks too, if single-line)."""
    return bool(REFUSED.search(text) or (not multiline and LINE_BREAKS.search(text)))


def is_blank(text):
    """Tell whether text holds nothing but spaces and invisible characters."""
    return not EDGES.sub("", text)


def clean(text):
    """Trim spaces and invisible characters at the ends; None if text holds a refused character."""
    if has_refused(text):
        return None
    return EDGES.sub("", text).replace("\r\n", "\n")
