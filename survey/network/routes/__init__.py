"""The network screens, a module each: collaborators, groups, roster import, cards, rates."""

from survey.network.routes import (  # noqa: F401
    cards,
    collaborators,
    groups,
    importing,
    rates,
    reminders,
)
