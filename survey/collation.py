"""Vietnamese order and search: the one sort key for names, and text folded for matching.

Vietnamese dictionaries order letters a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y,
compare whole strings on their letters first, then on their tones (none, huyền, hỏi, ngã, sắc,
nặng), then on case: "Đặng" comes after "Dương", "Hồ" before "Huỳnh", "Ngô" before "Nguyễn".
The same order as PostgreSQL's ICU collation "vi-x-icu"; SQLite gets `compare` as a collation.
"""

import functools
import unicodedata

ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
# Marks that make a letter of its own (breve, circumflex, horn) and the five tones, in order.
LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}
TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def _split(text):
    """Return the text as a list of (letter, tone, upper) with letter marks kept and tones apart."""
    out = []
    for char in unicodedata.normalize("NFD", text):
        if char in TONES and out:
            letter, _tone, upper = out[-1]
            out[-1] = (letter, TONES[char], upper)
        elif char in LETTER_MARKS and out:
            letter, tone, upper = out[-1]
            out[-1] = (unicodedata.normalize("NFC", letter + char), tone, upper)
        elif unicodedata.combining(char) and out:
            continue  # another accent (a foreign name): ignored in the order
        else:
            out.append((char.lower(), 0, char.isupper()))
    return out


def _primary(letter):
    """Return the rank of a letter: Vietnamese letters in their order, other characters after."""
    position = ALPHABET.find(letter)
    if position >= 0:
        return (1, position, "")
    if letter.isdigit():
        return (0, int(letter), "")
    if letter.isspace():
        return (-1, 0, "")
    return (2, 0, letter)


# SQLite's collation asks for both keys at every comparison of a sort (n log n of them for n
# names): a page's names keyed once each. Bounded: a key is ~2.5 KB of small tuples.
@functools.lru_cache(maxsize=1024)
def sort_key(text):
    """Return the key that orders names as a Vietnamese reader expects."""
    parts = _split((text or "").strip())
    return (
        tuple(_primary(letter) for letter, _tone, _upper in parts),
        tuple(tone for _letter, tone, _upper in parts),
        tuple(upper for _letter, _tone, upper in parts),
    )


def compare(a, b):
    """Compare two texts in Vietnamese order (-1, 0 or 1), as an SQLite collation does."""
    ka, kb = sort_key(a), sort_key(b)
    return (ka > kb) - (ka < kb)


def fold(text):
    """Return text without tones, letter marks or case, đ as d: "Phương" becomes "phuong"."""
    decomposed = unicodedata.normalize("NFD", (text or "").replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
