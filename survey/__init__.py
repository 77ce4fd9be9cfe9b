"""survey: questionnaires for a district's public-opinion collaborator network."""

from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent


def _beside_package(name):
    """Return a top-level resource's path: in the package (wheel) or one folder up (checkout)."""
    inside = PACKAGE_DIR / name
    return inside if inside.exists() else PACKAGE_DIR.parent / name


def create_app(test_config=None):
    """Create and configure the survey application."""
    app = Flask(
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

    # Imported here: the features import models and db, which import this package first.
    from survey import (
        api,
        assets,
        auth,
        cli,
        db,
        errors,
        i18n,
        network,
        numbers,
        params,
        questionnaires,
        respond,
        responses,
        security,
        tallies,
    )
    from survey.extensions import compress

    db.init_app(app)
    i18n.init_app(app)
    numbers.init_app(app)
    compress.init_app(app)
    assets.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    params.init_app(app)
    cli.init_app(app)
    for feature in (auth, network, questionnaires, respond, responses, tallies, api):
        app.register_blueprint(feature.bp)
    return app
