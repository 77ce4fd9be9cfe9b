"""Languages: Vietnamese by default, English on request, through Flask-Babel."""

import datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request, session
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    get_locale,
    gettext,
    lazy_gettext,
    ngettext,
)

__all__ = ["gettext", "init_app", "lazy_gettext", "local_time", "ngettext", "to_utc"]


def select_locale():
    """Pick the language: ?lang= (remembered in the session), then the session, then Vietnamese."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # commands and scripts
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang")
    if asked in languages:
        session["lang"] = asked
        return asked
    remembered = session.get("lang")
    return remembered if remembered in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone():
    """Return the configured time zone name, so SURVEY_TIMEZONE alone governs display."""
    return current_app.config["TIMEZONE"]


def zone():
    """Return the configured local time zone."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_utc(value):
    """Turn a local (naive = SURVEY_TIMEZONE) or offset-aware datetime into naive UTC to store."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone())
    try:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    except OverflowError:
        # Callers parsing user input already answer ValueError; 0001-01-01 00:00 lands here.
        raise ValueError(f"{value.isoformat()} has no UTC time") from None


def local_time(value):
    """Turn a stored naive UTC datetime into an aware local one, for display and export."""
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC).astimezone(zone())


# Dates and times per language, in one place: Babel patterns for pages, Excel number formats for
# workbooks. Vietnamese writes dd/mm/yyyy and 24-hour times; English keeps its own order.
PATTERNS = {"vi": ("dd/MM/yyyy", "HH:mm"), "en": ("MMM d, yyyy", "h:mm a")}
SHEET_FORMATS = {
    "vi": ("dd/mm/yyyy", "dd/mm/yyyy hh:mm"),
    "en": ("mmm d, yyyy", "mmm d, yyyy h:mm AM/PM"),
}


def language():
    """Return the current language's code ("vi" or "en")."""
    return "en" if str(get_locale() or "vi").startswith("en") else "vi"


def format_local(value, format=None):
    """Format a stored UTC datetime as a local date and time in the current language."""
    if value is None:
        return ""
    day, time = PATTERNS[language()]
    return format_datetime(local_time(value), format or f"{day} {time}")


def format_day(value):
    """Format a date (or an ISO date string) in the current language; other text stays as is."""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            return value
    return "" if value is None else format_date(value, PATTERNS[language()][0])


def sheet_formats():
    """Return the Excel number formats (date, date and time) of the current language."""
    return SHEET_FORMATS[language()]


STATUS_LABELS = {
    "draft": lazy_gettext("Draft"),
    "open": lazy_gettext("Open"),
    "closed": lazy_gettext("Closed"),
}
KIND_LABELS = {
    "single": lazy_gettext("One choice"),
    "multi": lazy_gettext("Several choices"),
    "scale": lazy_gettext("Scale"),
    "number": lazy_gettext("Number"),
    "text": lazy_gettext("Short text"),
    "longtext": lazy_gettext("Long text"),
    "date": lazy_gettext("Date"),
    "section": lazy_gettext("Section heading"),
}


ROLE_LABELS = {
    "admin": lazy_gettext("Admin"),
    "coordinator": lazy_gettext("Coordinator"),
    "viewer": lazy_gettext("Viewer"),
}


def role_label(role):
    """Return the translated name of an account role."""
    return str(ROLE_LABELS.get(role, role))


def role_word(role):
    """Return an account role's name as it reads inside a sentence (“điều phối viên”)."""
    return role_label(role).lower()


def status_label(status):
    """Return the translated name of a questionnaire status."""
    return str(STATUS_LABELS.get(status, status))


def kind_label(kind):
    """Return the translated name of a question kind."""
    return str(KIND_LABELS.get(kind, kind))


def other_words(label, text):
    """Return a choice as words: its label, then any text written beside it (“Khác: …”)."""
    return f"{label}: {text}" if text else label


def init_app(app):
    """Attach Flask-Babel with the locale selector and the template helpers."""
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.globals.update(
        status_label=status_label,
        kind_label=kind_label,
        role_label=role_label,
        current_locale=get_locale,
    )
