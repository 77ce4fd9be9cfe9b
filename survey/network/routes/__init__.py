"""The network screens, a module each: collaborators, groups, roster import, cards, rates."""

from survey.network.routes import cards, collaborators, groups, importing, rates  # noqa: F401
