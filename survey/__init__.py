"""survey: questionnaires for a district's public-opinion collaborator network."""
import functools
from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent


def _beside_package(name):
    """Return the path of a top-level resource: inside the package (wheel) or one folder up (checkout)."""
    inside = PACKAGE_DIR / name
    return inside if inside.exists() else PACKAGE_DIR.parent / name


class SurveyFlask(Flask):
    """Flask, deciding once per function, not on every call, whether it must run as async.

    Flask asks inspect about every hook and view of every request: a dozen calls a submit.
    The answers are kept for the 512 functions last asked about (a bound, for functions
    made per request, such as after_this_request's).
    """

    def __init__(self, *args, **kwargs):
        """Start with no function looked at."""
        super().__init__(*args, **kwargs)
        self._ensure_sync_cached = functools.lru_cache(maxsize=512)(super().ensure_sync)

    def ensure_sync(self, func):
        """Return Flask's sync version of func, worked out once."""
        try:
            return self._ensure_sync_cached(func)
        except TypeError:  # an unhashable callable: asked about every time, as by Flask
            return super().ensure_sync(func)


def create_app(test_config=None):
    """Create and configure the survey application."""
    app = SurveyFlask(
        __name__,
        instance_relative_config=True,
        template_folder=str(_beside_package("templates")),
        static_folder=str(_beside_package("static")),
    )
    app.config.from_pyfile(str(_beside_package("config.py")))
    app.config.from_prefixed_env("SURVEY")
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from survey import (
        api,
        assets,
        auth,
        cli,
        compression,
        db,
        errors,
        health,
        i18n,
        network,
        questionnaires,
        respond,
        security,
        tallies,
    )

    db.init_app(app)
    i18n.init_app(app)
    assets.init_app(app)
    compression.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    for feature in (auth, network, questionnaires, respond, tallies, api, health):
        app.register_blueprint(feature.bp)
    return app
