"""The network screens, a module per screen: collaborators, groups, roster import, cards and posters, rates."""

from survey.network.routes import cards, collaborators, groups, importing, rates  # noqa: F401
