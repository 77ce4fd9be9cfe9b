"""Numbers as people type and read them: Vietnamese ("1.000,5") and plain ("1000.5") forms.

Reading never guesses silently. In Vietnamese a dot groups thousands and a comma marks
decimals, so "1.000" is one thousand and "7,25" seven and a quarter; plain forms ("1000",
"7.25") read the same everywhere. Only one dot or comma followed by exactly three digits can
mean either; it is read the page language's way, and when that reading breaks the question's
bounds but the other would not, the answer is refused with both readings spelled out.
Writing goes through Babel, in the page's language.
"""

import math
import re

from flask_babel import format_decimal, format_percent, get_locale

from survey.i18n import gettext as _

# Spaces (also the no-break and thin ones phones insert) group thousands: dropped first.
SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
SHAPE = re.compile(r"^[+-]?[0-9][0-9.,]*$")
GROUPED = re.compile(r"^[0-9]{1,3}(?:[.,][0-9]{3})+$")
LONGEST = 40


class NumberError(ValueError):
    """A typed number that cannot be read as meant; carries the message to show."""


def _marks():
    """Return (thousands mark, decimal mark) of the page's language."""
    return (",", ".") if str(get_locale() or "vi").startswith("en") else (".", ",")


def _readings(body):
    """Return (the reading in the page's language, the other possible reading or None)."""
    dots, commas = body.count("."), body.count(",")
    if not dots and not commas:
        return float(body), None
    if dots and commas:  # both: the last one marks decimals, the other groups thousands
        decimal = "." if body.rfind(".") > body.rfind(",") else ","
        whole, _, fraction = body.rpartition(decimal)
        group = "," if decimal == "." else "."
        if not fraction or not (whole.isdigit() or GROUPED.match(whole.replace(group, "."))):
            raise NumberError
        return float(whole.replace(group, "") + "." + fraction), None
    mark = "." if dots else ","
    if dots > 1 or commas > 1:  # only a thousands mark repeats: "1.000.000"
        if not GROUPED.match(body):
            raise NumberError
        return float(body.replace(mark, "")), None
    whole, _, fraction = body.partition(mark)
    if not fraction:
        raise NumberError
    as_decimal = float(whole + "." + fraction)
    if len(fraction) != 3:
        return as_decimal, None
    as_thousands = float(whole + fraction)
    thousands, _decimal = _marks()
    if mark == thousands:
        return as_thousands, as_decimal
    return as_decimal, as_thousands


def within(value, minimum=None, maximum=None):
    """Tell whether a value lies within optional bounds."""
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def parse_number(text, minimum=None, maximum=None):
    """Read a typed number, or None if empty; raise NumberError when it cannot be read as meant."""
    text = SPACES.sub("", text or "")
    if not text:
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    try:
        if len(text) > LONGEST or not SHAPE.match(text):
            raise NumberError
        read, other = _readings(text.lstrip("+-"))
    except NumberError:
        raise NumberError(_("Enter a number, for example 1000 or 7.5.")) from None
    read, other = sign * read, None if other is None else sign * other
    if not math.isfinite(read):
        raise NumberError(_("Enter a number, for example 1000 or 7.5."))
    if other is not None and not within(read, minimum, maximum) and within(other, minimum, maximum):
        raise NumberError(
            _(
                "“%(typed)s” is read as %(read)s. If you meant %(other)s, type %(other)s.",
                typed=text,
                read=format_decimal(read, format="0.######"),
                other=format_decimal(other, format="0.######"),
            )
        )
    return read


def format_number(value, digits=None):
    """Write a number in the page's language ("1.000,5" in Vietnamese), up to `digits` decimals."""
    if value is None:
        return ""
    if digits is None:
        return format_decimal(value, format="#,##0.######")
    return format_decimal(value, format="#,##0." + "#" * digits if digits else "#,##0")


def format_interval(low, high, closed=False):
    """Write a range as "[0; 100)", or "[400; 500]" when closed: "; " since "," marks decimals."""
    return f"[{format_number(low)}; {format_number(high)}{']' if closed else ')'}"


def init_app(app):
    """Offer the number and share filters to templates."""
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["share"] = format_share


def format_share(percent, digits=1):
    """Write a percentage (0..100) in the page's language ("33,3 %" in Vietnamese)."""
    if percent is None:
        return ""
    decimals = "." + "0" * digits if digits else ""
    return format_percent(percent / 100, format="#,##0" + decimals + " %")
